"""`/today`: due today and overdue, the manager's first screen of the day."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.replies import Replies
from bot.telegram.views.common import Viewer, worklist_text


async def today(message: Message, actor: Actor, services: Services, replies: Replies) -> None:
    work = await services.worklist.today(actor)
    replies.answer(worklist_text(work, Viewer(actor.zone, work.today)))


def build_router() -> Router:
    router = Router(name="today")
    router.message.register(today, Command("today"))
    return router
