"""The Dispatcher, passing over routers that cannot take an update without asking each handler.

aiogram offers a message or a button press to every router in turn (handlers/__init__.py holds
the order), and every router to each of its handlers' filters: a `/today` passes twenty routers
and some forty filter checks, each one a few copies of the update's data dict, a wrapper built
with `functools.wraps` and an awaited coroutine. That was a fifth of an update's own time.

Most routers' handlers begin with a filter whose answer is plain from the event alone:
`Command("call", ...)` takes only text (or a caption) that starts with one of its prefixes and
names one of its commands, `SomeCallbackData.filter(...)` only button data whose first part is
its prefix, and a filter marked `refuses_by_event` (bot/telegram/filters.py: "not a private
chat", "a document") is asked with the event alone. A router whose every handler (for the
event's type) begins with such a filter, none of which can take the event, would answer
UNHANDLED after asking them all, with no other effect (its outer middlewares and router-level
filters would run, so a router with any is always asked). `LeanDispatcher` passes over such a
router at once. Every other router is asked exactly as aiogram asks it, in the same order, so
which handler runs never changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, Message, TelegramObject


@dataclass(frozen=True, slots=True)
class _Gate:
    """What one router's handlers of one event type can take at all: (prefix, name) pairs of
    their Command filters (`folded`: of those that ignore case, compared casefolded) and
    (separator, prefix) pairs of their callback data filters. No pairs: nothing."""

    commands: frozenset[tuple[str, str]] = frozenset()
    folded: frozenset[tuple[str, str]] = frozenset()
    callbacks: frozenset[tuple[str, str]] = frozenset()
    separators: tuple[str, ...] = ()
    # Filters marked refuses_by_event (bot/telegram/filters.py), asked with the event alone.
    predicates: tuple[Callable[[TelegramObject], Awaitable[bool]], ...] = ()

    async def may_take(self, event: TelegramObject) -> bool:
        if self._named(event):
            return True
        for predicate in self.predicates:
            if await predicate(event):
                return True
        return False

    def _named(self, event: TelegramObject) -> bool:
        # As Command.__call__ and extract_command read a message, and CallbackData.unpack
        # reads button data: anything they would refuse before looking at the name is refused.
        if isinstance(event, Message):
            text = event.text or event.caption
            words = text.split(maxsplit=1) if text else None
            if not words:
                return False
            prefix, name = words[0][0], words[0][1:].partition("@")[0]
            return (prefix, name) in self.commands or (prefix, name.casefold()) in self.folded
        if isinstance(event, CallbackQuery):
            data = event.data
            return bool(data) and any(
                (separator, data.split(separator, 1)[0]) in self.callbacks  # type: ignore[union-attr]
                for separator in self.separators
            )
        return bool(self.commands or self.folded or self.callbacks or self.predicates)


_NOTHING = _Gate()


def _gate(observer: TelegramEventObserver | None) -> _Gate | None:
    """The gate of a router's observer, or None when the router must always be asked."""
    if observer is None:
        return _NOTHING
    if observer.outer_middleware or observer._handler.filters:
        return None
    commands: set[tuple[str, str]] = set()
    folded: set[tuple[str, str]] = set()
    callbacks: set[tuple[str, str]] = set()
    predicates: list[Callable[[TelegramObject], Awaitable[bool]]] = []
    for handler in observer.handlers:
        first = handler.filters[0].callback if handler.filters else None
        if isinstance(first, Command) and all(isinstance(c, str) for c in first.commands):
            names = folded if first.ignore_case else commands
            names.update((prefix, str(name)) for prefix in first.prefix for name in first.commands)
        elif isinstance(first, CallbackQueryFilter):
            data = first.callback_data
            callbacks.add((data.__separator__, data.__prefix__))
        elif getattr(first, "refuses_by_event", False):
            predicates.append(first)  # type: ignore[arg-type]
        else:
            return None
    separators = tuple({separator for separator, _ in callbacks})
    return _Gate(
        frozenset(commands), frozenset(folded), frozenset(callbacks), separators, tuple(predicates)
    )


class LeanDispatcher(Dispatcher):
    """aiogram's Dispatcher; its routers (which must have no routers of their own to be passed
    over) are skipped when their gate says they cannot take the event."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # (router id, event type) -> (the observer's shape when computed, gate or None)
        self._gates: dict[tuple[int, str], tuple[tuple[int, int, int], _Gate | None]] = {}

    async def _passes_over(self, router: Router, update_type: str, event: TelegramObject) -> bool:
        if router.sub_routers:
            return False
        observer = router.observers.get(update_type)
        # A handler, outer middleware or router filter registered later: look again.
        shape = (
            (
                len(observer.handlers),
                len(observer.outer_middleware),
                len(observer._handler.filters or ()),
            )
            if observer is not None
            else (0, 0, 0)
        )
        key = (id(router), update_type)
        known = self._gates.get(key)
        if known is None or known[0] != shape:
            known = self._gates[key] = (shape, _gate(observer))
        gate = known[1]
        return gate is not None and not await gate.may_take(event)

    async def _propagate_event(
        self,
        observer: TelegramEventObserver | None,
        update_type: str,
        event: TelegramObject,
        **kwargs: Any,
    ) -> Any:
        # aiogram's Router._propagate_event, with the gate before each router.
        response = UNHANDLED
        if observer:
            result, data = await observer.check_root_filters(event, **kwargs)
            if not result:
                return UNHANDLED
            kwargs.update(data)
            response = await observer.trigger(event, **kwargs)
            if response is REJECTED:  # pragma: no cover
                return UNHANDLED
            if response is not UNHANDLED:
                return response
        for router in self.sub_routers:
            if await self._passes_over(router, update_type, event):
                continue
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                break
        return response
