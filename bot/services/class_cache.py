"""The ABC-XYZ classes of a team's clients in a complete month, kept per application (the base
table asks for them on every page; bot/services/base_table.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from bot.services.portfolio.periods import Period


@dataclass(frozen=True, slots=True)
class Classes:
    """Each classified client's ABC and XYZ letters in `period` (clients with no sales then
    have none)."""

    period: Period
    of: dict[int, tuple[str | None, str | None]]


class ClassCache:
    """Per application: (team, viewer's scope, period, deals' version) -> Classes."""

    def __init__(self, entries: int = 64) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[Any, ...], Classes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Classes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: Classes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)
