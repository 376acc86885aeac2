"""The bot works in private chats only: groups, channels and inline mode get a polite no."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter
from aiogram.methods import AnswerInlineQuery, LeaveChat
from aiogram.types import ChatMemberUpdated, InlineQuery, Message

from bot.i18n import N_, _
from bot.telegram.filters import not_private
from bot.telegram.replies import Replies

log = logging.getLogger(__name__)

PRIVATE_ONLY = N_(
    "I work only in a private chat: client data stays between you and the bot. "
    "Open a private chat with me."
)


async def not_private_chat(message: Message, replies: Replies) -> None:
    # Answer commands only: replying to every group message would be noise.
    if (message.text or "").startswith("/"):
        replies.answer(_(PRIVATE_ONLY))


async def added_to_group(event: ChatMemberUpdated, replies: Replies) -> None:
    # Both after the commit, in this order: the bot says why before it leaves (a failure is
    # logged by the flush and harms nothing).
    if event.chat.type != ChatType.CHANNEL:
        replies.answer(_(PRIVATE_ONLY))
    replies.add(LeaveChat(chat_id=event.chat.id))


async def inline(query: InlineQuery, replies: Replies) -> None:
    replies.add(
        AnswerInlineQuery(inline_query_id=query.id, results=[], cache_time=60, is_personal=True)
    )


def build_router() -> Router:
    router = Router(name="chat_scope")
    router.message.register(not_private_chat, not_private)
    router.my_chat_member.register(
        added_to_group,
        ChatMemberUpdatedFilter(member_status_changed=JOIN_TRANSITION),
        not_private,
    )
    router.inline_query.register(inline)
    return router
