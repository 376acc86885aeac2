"""`/cancel`: leave any step-by-step command; nothing half-done is kept."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.i18n import _
from bot.telegram.replies import Replies


async def cancel(message: Message, state: FSMContext, replies: Replies) -> None:
    if await state.get_state() is None and not await state.get_data():
        replies.answer(_("There is nothing to cancel."))
        return
    await state.clear()
    replies.answer(_("Cancelled. Nothing was saved."))


def build_router() -> Router:
    router = Router(name="cancel")
    router.message.register(cancel, Command("cancel"))
    return router
