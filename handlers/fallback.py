"""Whatever no other router took: an unknown command or stray text gets a hint, not silence."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.telegram.filters import command_text
from bot.telegram.replies import Replies


async def unknown_command(message: Message, replies: Replies) -> None:
    replies.answer(_("I don't know this command. See /help for the list with examples."))


async def stray_message(message: Message, replies: Replies) -> None:
    replies.answer(
        _(
            "I understand commands, for example <code>/call Ivanov done</code> or "
            "<code>/note Ivanov wants a discount</code>. See /help."
        )
    )


async def stale_button(query: CallbackQuery, replies: Replies) -> None:
    replies.answer_callback(_("This button is no longer active."), show_alert=False)


def build_router() -> Router:
    router = Router(name="fallback")
    router.message.register(unknown_command, command_text)
    router.message.register(stray_message)
    router.callback_query.register(stale_button)
    return router
