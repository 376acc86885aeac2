"""`/list hot|warm|cold|overdue|leads|<stage>|#tag`, paged with buttons."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.services.access import sees_whole_team
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import ListPage
from bot.telegram.replies import Replies
from bot.telegram.views.common import Viewer
from bot.telegram.views.lists import (
    decode,
    filter_key,
    is_filter_word,
    list_view,
    unknown_filter_text,
)


async def render(
    actor: Actor, services: Services, key: str, offset: int, part: int = 0, *, word: str = ""
) -> tuple[str, InlineKeyboardMarkup | None]:
    flt, title = decode(key)
    page = await services.clients.list_page(actor, flt, offset)
    if page.total == 0 and not is_filter_word(word):
        # `/list purple`: not a list, and no client has such a tag: say which lists there are.
        return unknown_filter_text(word), None
    viewer = Viewer(actor.zone, services.today(actor))
    return list_view(
        page,
        key,
        title,
        viewer,
        show_manager=sees_whole_team(actor),
        part=part,
        chunk_size=services.limits.list_page_size,
    )


async def list_clients(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    word = command.args or ""
    key = filter_key(word, services.limits.max_tag_chars)
    text, markup = await render(actor, services, key, 0, word=word)
    replies.answer(text, reply_markup=markup)


async def turn_page(
    query: CallbackQuery,
    callback_data: ListPage,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    replies.answer_callback()
    text, markup = await render(
        actor, services, callback_data.flt, callback_data.off, callback_data.pt
    )
    replies.edit(text, markup)


def build_router() -> Router:
    router = Router(name="lists")
    router.message.register(list_clients, Command("list"))
    router.callback_query.register(turn_page, ListPage.filter())
    return router
