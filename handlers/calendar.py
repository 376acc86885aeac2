"""`/calendar`, `/calendar new`, `/calendar off`, and the buttons under their messages."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.errors import ErrorCode
from bot.parsing.errors import ParseError
from bot.services.calendar import IssuedFeed, feed_url
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import CalendarAct, CalendarAction
from bot.telegram.replies import Replies
from bot.telegram.views.calendar import (
    feed_already_off_text,
    feed_keyboard,
    feed_link_text,
    feed_off_text,
    feed_on_text,
    no_address_text,
)

ON, NEW, OFF = "on", "new", "off"
_WORDS = {
    "on": ON,
    "вкл": ON,
    "включить": ON,
    "включи": ON,
    "new": NEW,
    "renew": NEW,
    "rotate": NEW,
    "reset": NEW,
    "новая": NEW,
    "новую": NEW,
    "новый": NEW,
    "заново": NEW,
    "сменить": NEW,
    "off": OFF,
    "stop": OFF,
    "revoke": OFF,
    "выкл": OFF,
    "выключить": OFF,
    "выключи": OFF,
    "отключить": OFF,
    "отключи": OFF,
    "стоп": OFF,
}


async def calendar(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    settings: Settings,
    replies: Replies,
) -> None:
    args = (command.args or "").strip()
    action = _WORDS.get(args.casefold()) if args else ON
    if action is None:
        raise ParseError(ErrorCode.CALENDAR_USAGE, word=args)
    if action == OFF:
        turned_off = await services.calendar.turn_off(actor)
        replies.answer(feed_off_text() if turned_off else feed_already_off_text())
        return
    base = settings.public_base_url
    if base is None:
        # No token is made that no one could use.
        replies.answer(no_address_text())
        return
    if action == NEW:
        _send_link(replies, base, actor, await services.calendar.renew(actor))
        return
    issued = await services.calendar.turn_on(actor)
    if issued is not None:
        _send_link(replies, base, actor, issued)
        return
    state = await services.calendar.state(actor)
    assert state.since is not None
    replies.answer(feed_on_text(state.since, actor.zone), reply_markup=feed_keyboard())


def _send_link(replies: Replies, base: str, actor: Actor, issued: IssuedFeed) -> None:
    text = feed_link_text(
        feed_url(base, issued.token), actor.member.timezone, replaced=issued.replaced
    )
    replies.answer(text, reply_markup=feed_keyboard())


async def pressed(
    query: CallbackQuery,
    callback_data: CalendarAction,
    actor: Actor,
    services: Services,
    settings: Settings,
    replies: Replies,
) -> None:
    if callback_data.act == CalendarAct.OFF:
        turned_off = await services.calendar.turn_off(actor)
        text = feed_off_text() if turned_off else feed_already_off_text()
        replies.answer_callback()
        # The pressed message may hold the address: it goes, with the buttons.
        replies.edit(text)
        return
    replies.answer_callback()
    base = settings.public_base_url
    if base is None:
        replies.edit(no_address_text())
        return
    issued = await services.calendar.renew(actor)
    text = feed_link_text(
        feed_url(base, issued.token), actor.member.timezone, replaced=issued.replaced
    )
    replies.edit(text, reply_markup=feed_keyboard())


def build_router() -> Router:
    router = Router(name="calendar")
    router.message.register(calendar, Command("calendar"))
    router.callback_query.register(pressed, CalendarAction.filter())
    return router
