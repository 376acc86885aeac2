"""`/help`: what the bot does, with examples that can be copied."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.config import Settings
from bot.services.context import Actor
from bot.telegram.replies import Replies
from bot.telegram.views.help import help_text


async def show_help(message: Message, actor: Actor, replies: Replies, settings: Settings) -> None:
    # The owner's help lists every command and outgrows one Telegram message (in Russian):
    # `answer` splits it.
    replies.answer(help_text(actor, miniapp=bool(settings.miniapp_url)))


def build_router() -> Router:
    router = Router(name="help")
    router.message.register(show_help, Command("help"))
    return router
