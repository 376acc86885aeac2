"""The ABC-XYZ classes of a team's clients in a complete month, kept per application (the base
table asks for them on every page; bot/services/base_table.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.services.portfolio.periods import Period


@dataclass(frozen=True, slots=True)
class Classes:
    """Each classified client's ABC and XYZ letters in `period` (clients with no sales then
    have none)."""

    period: Period
    of: dict[int, tuple[str | None, str | None]]


class ClassCache:
    """Per application: (team, viewer's scope, period, roster version) -> Classes, for
    `seconds`. A complete month's classes change only when a deal is dated back into it (or
    the roster changes, which moves the key): the table shows such a change within `seconds`,
    and a page costs no query for its classes meanwhile."""

    def __init__(self, seconds: int = 300, entries: int = 64) -> None:
        self._ttl = timedelta(seconds=seconds)
        self._entries = entries
        self._items: OrderedDict[tuple[Any, ...], tuple[datetime, Classes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], now: datetime) -> Classes | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[Any, ...], value: Classes, now: datetime) -> None:
        with self._lock:
            self._items[key] = (now + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)
