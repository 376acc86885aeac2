"""`/list hot|warm|cold|overdue|leads|<stage>|#tag`, paged with buttons."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.i18n import _
from bot.parsing.new_client import clean_tag
from bot.services.access import sees_whole_team
from bot.services.clients import LEAD_FILTER, ClientFilter
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import ListPage
from bot.telegram.render import Viewer, list_view, stage_label, temperature_label
from bot.telegram.replies import Replies
from storage.enums import Stage, Temperature

_WORDS = {
    "hot": "t.hot",
    "горячие": "t.hot",
    "горячий": "t.hot",
    "warm": "t.warm",
    "теплые": "t.warm",
    "тёплые": "t.warm",
    "cold": "t.cold",
    "холодные": "t.cold",
    "overdue": "o",
    "просроченные": "o",
    "просрочка": "o",
    "leads": "s.leads",
    "лиды": "s.leads",
    "all": "a",
    "все": "a",
    "new": "s.new",
    "новые": "s.new",
    "contacted": "s.contacted",
    "proposal": "s.proposal",
    "кп": "s.proposal",
    "negotiation": "s.negotiation",
    "переговоры": "s.negotiation",
    "won": "s.won",
    "клиенты": "s.won",
    "lost": "s.lost",
    "архив": "s.lost",
    "archive": "s.lost",
}


def filter_key(word: str, max_tag_chars: int) -> str:
    word = word.strip().casefold()
    if not word:
        return "a"
    if word in _WORDS:
        return _WORDS[word]
    # The same normal form /add gives tags; it never holds "." or ":" (key and callback
    # separators).
    tag = clean_tag(word, max_tag_chars)
    return "g." + tag if tag else "a"


def decode(key: str) -> tuple[ClientFilter, str]:
    kind, _sep, value = key.partition(".")
    if kind == "t" and value in Temperature.__members__.values():
        return ClientFilter(temperatures=(value,)), temperature_label(value)
    if kind == "o":
        return ClientFilter(overdue=True), _("Overdue")
    if kind == "s" and value == "leads":
        return LEAD_FILTER, _("Open leads")
    if kind == "s" and value in Stage.__members__.values():
        return ClientFilter(stages=(value,), archived=value == Stage.LOST), stage_label(value)
    if kind == "g" and value:
        return ClientFilter(tag=value), "#" + value
    return ClientFilter(), _("All clients")


async def render(
    actor: Actor, services: Services, key: str, offset: int, part: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    flt, title = decode(key)
    page = await services.clients.list_page(actor, flt, offset)
    viewer = Viewer(actor.zone, services.ctx.local_now(actor).date())
    return list_view(
        page,
        key,
        title,
        viewer,
        show_manager=sees_whole_team(actor),
        part=part,
        chunk_size=services.ctx.limits.list_page_size,
    )


async def list_clients(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    key = filter_key(command.args or "", services.ctx.limits.max_tag_chars)
    text, markup = await render(actor, services, key, 0)
    replies.answer(text, reply_markup=markup)


async def turn_page(
    query: CallbackQuery,
    callback_data: ListPage,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    replies.answer_callback()
    if query.message is None:
        return
    text, markup = await render(
        actor, services, callback_data.flt, callback_data.off, callback_data.pt
    )
    replies.edit(text, markup)


def build_router() -> Router:
    router = Router(name="lists")
    router.message.register(list_clients, Command("list"))
    router.callback_query.register(turn_page, ListPage.filter())
    return router
