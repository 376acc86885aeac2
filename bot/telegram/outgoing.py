"""Replies leave only after the update's transaction has committed.

While an update is handled, output requests (messages, edits, button answers) are buffered by a
session middleware and answered locally; after the commit they are sent in order. So a member
is never told "saved" about something rolled back, a failed cosmetic call cannot undo saved
work, and no database lock is held while Telegram is slow.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

from bot.telegram.synthetic import synthetic_result

log = logging.getLogger(__name__)
# A reply answered 429 is retried once if Telegram asks for at most this many seconds (the
# update keeps its webhook slot meanwhile, which slows intake: the backpressure wanted).
REPLY_MAX_RETRY_AFTER = 5

OUTPUT_METHODS = (
    SendMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    AnswerCallbackQuery,
    SendPhoto,
    SendDocument,
    DeleteMessage,
)


class OutgoingBuffer:
    def __init__(self) -> None:
        self.methods: list[TelegramMethod[Any]] = []

    def discard(self) -> None:
        self.methods.clear()

    async def flush(self, bot: Bot) -> None:
        methods, self.methods = self.methods, []
        for method in methods:
            try:
                try:
                    await bot(method)
                except TelegramRetryAfter as exc:
                    # Replies do not go through the sender's limiter; over Telegram's budget
                    # (a burst of updates) waiting it out once beats losing the answer.
                    if exc.retry_after > REPLY_MAX_RETRY_AFTER:
                        raise
                    await asyncio.sleep(max(exc.retry_after, 1))
                    await bot(method)
            except TelegramAPIError as exc:
                # The data is saved; a reply that cannot be delivered must not undo it.
                log.warning("reply %s not delivered: %s", type(method).__name__, type(exc).__name__)


_current: ContextVar[OutgoingBuffer | None] = ContextVar("salesbot_outgoing", default=None)


def bind(buffer: OutgoingBuffer | None) -> Any:
    return _current.set(buffer)


def unbind(token: Any) -> None:
    _current.reset(token)


class DeferOutgoing(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        buffer = _current.get()
        if buffer is None or not isinstance(method, OUTPUT_METHODS):
            return await make_request(bot, method)
        buffer.methods.append(method)
        return synthetic_result(bot, method)
