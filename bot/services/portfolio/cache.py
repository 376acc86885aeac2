"""Reports of ended periods, kept in the process for a while.

A report is cached only when its period has ended (the current period is always computed
afresh). The key carries the team, the scope (team or one manager), the period and a cheap
data version: the last deal id and the team's deal count (a deal added, or deleted with its
client, changes them), the last activity id (contacts move base health and regularity) and the
team's roster version (a client given to another manager moves between portfolios). Edits
that change none of these (a client's potential or segment) show up when the entry expires
after `cache_seconds`. Each running copy of the bot has its own cache; nothing is shared.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any


class ReportCache:
    def __init__(self, seconds: int = 600, entries: int = 64) -> None:
        self._ttl = timedelta(seconds=seconds)
        self._entries = entries
        self._items: OrderedDict[tuple[Any, ...], tuple[datetime, Any]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl > timedelta(0)

    def get(self, key: tuple[Any, ...], now: datetime) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        stored_at, value = item
        if now - stored_at >= self._ttl or now < stored_at:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: tuple[Any, ...], value: Any, now: datetime) -> None:
        if not self.enabled:
            return
        self._items[key] = (now, value)
        self._items.move_to_end(key)
        while len(self._items) > self._entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
