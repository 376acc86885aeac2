"""The bot works in private chats only: groups, channels and inline mode get a polite no."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated, InlineQuery, Message

from bot.i18n import N_, _

log = logging.getLogger(__name__)

PRIVATE_ONLY = N_(
    "I work only in a private chat: client data stays between you and the bot. "
    "Open a private chat with me."
)


async def not_private(message: Message) -> None:
    # Answer commands only: replying to every group message would be noise.
    if (message.text or "").startswith("/"):
        await message.answer(_(PRIVATE_ONLY))


async def added_to_group(event: ChatMemberUpdated, bot: Bot) -> None:
    try:
        if event.chat.type != ChatType.CHANNEL:
            await bot.send_message(event.chat.id, _(PRIVATE_ONLY))
        await bot.leave_chat(event.chat.id)
    except TelegramAPIError:
        log.info("could not leave chat %s", event.chat.id)


async def inline(query: InlineQuery) -> None:
    await query.answer([], cache_time=60, is_personal=True)


def build_router() -> Router:
    router = Router(name="chat_scope")
    router.message.register(not_private, F.chat.type != ChatType.PRIVATE)
    router.my_chat_member.register(
        added_to_group,
        ChatMemberUpdatedFilter(member_status_changed=JOIN_TRANSITION),
        F.chat.type != ChatType.PRIVATE,
    )
    router.inline_query.register(inline)
    return router
