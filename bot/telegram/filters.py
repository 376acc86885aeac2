"""Filters as coroutine functions.

aiogram awaits a coroutine function or a `Filter` instance directly, but runs any other callable
(a magic filter like `F.text`, a bare `State`) in a worker thread (`asyncio.to_thread`, see
`CallableObject.call`): a thread hop of ~0.1 ms for a check that takes a microsecond. So the
routers use these instead of `F....` and `StateFilter(...)` instead of a bare state;
tests/test_pipeline.py fails if a synchronous one comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiogram.enums import ChatType
from aiogram.types import ChatMemberUpdated, Message

F = TypeVar("F", bound=Callable[..., Any])


def refuses_by_event(function: F) -> F:
    """Marks a filter whose False, asked with the event alone (its other arguments left to
    their defaults), is final whatever else the update carries: LeanDispatcher
    (bot/telegram/routing.py) may ask it that way to pass over its router."""
    function.refuses_by_event = True  # type: ignore[attr-defined]
    return function


@refuses_by_event
async def not_private(event: Message | ChatMemberUpdated) -> bool:
    """A group, supergroup or channel."""
    return event.chat.type != ChatType.PRIVATE


@refuses_by_event
async def command_text(message: Message) -> bool:
    return (message.text or "").startswith("/")


@refuses_by_event
async def answer_text(message: Message) -> bool:
    """Text that is not a command: commands are never answers to a question (`/today` in the
    middle of a question runs `/today`)."""
    return bool(message.text) and not message.text.startswith("/")  # type: ignore[union-attr]


@refuses_by_event
async def has_document(message: Message) -> bool:
    return message.document is not None


@refuses_by_event
async def has_photo(message: Message) -> bool:
    return bool(message.photo)
