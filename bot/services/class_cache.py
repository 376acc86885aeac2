"""The ABC-XYZ classes of a team's clients in a complete month, kept per application and
refreshed in the background: the base table asks for them on every page
(bot/services/base_table.py) and never waits for their computation.

Stale-while-revalidate, per team: a page is served the classes last computed for the team at
once; when they are older than `seconds` (by the injectable clock), or of an earlier month
than the one asked for, one rebuild starts in the background (one per team, however many
pages ask meanwhile) and the pages after it see the new classes. A team with no classes yet
(the first page after a start) gets none and the rebuild starts; the page says the classes are
being computed (docs/miniapp.md). A rebuild that fails is logged and tried again by a page at
least `retry_seconds` later; the pages keep the classes they had.

A rebuild reads the roll-ups (`sales_months`) as `/portfolio` does, and only what classes need:
the month's buyers ranked by the database (ABC, the analytics repository's own ranking), their
monthly sums over the XYZ window and their first deals (storage/repositories/base_table.py).
Each of the three reads has a unit of work of its own, so on SQLite (one unit of work at a time)
a page waits at most for one read, not the rebuild; the ranking runs in a worker thread, off the
event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.config import AnalyticsSettings
from bot.services.portfolio import compute
from bot.services.portfolio.periods import Period, month_index
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Classes:
    """Each classified client's ABC and XYZ letters in `period` (clients with no sales then
    have none). `ready` is False when none were computed yet (the first page after a start):
    `of` is empty then, and a class filter cannot be answered."""

    period: Period
    of: dict[int, tuple[str | None, str | None]]
    ready: bool = True


class UnitOfWorkOpener(Protocol):
    """storage.uow.UnitOfWorkFactory: a rebuild opens a unit of work of its own."""

    def __call__(self) -> Any: ...


Loader = Callable[[], Awaitable[Classes]]


@dataclass(frozen=True, slots=True)
class _Entry:
    classes: Classes
    computed_at: datetime


class ClassCache:
    """Per application: (team, currency) -> the classes last computed for it and when.

    A complete month's classes change only when a deal is dated back into it: the table shows
    such a change within `seconds` (plus the rebuild's own time), and a page costs no query
    for its classes. Classes are the team's, whoever looks: ABC ranks the whole team's buyers
    and XYZ is a client's own, so a manager's page takes their clients' letters from it."""

    def __init__(
        self,
        seconds: int = 300,
        entries: int = 256,
        *,
        opener: UnitOfWorkOpener | None = None,
        retry_seconds: int = 30,
    ) -> None:
        self._ttl = timedelta(seconds=seconds)
        self._retry = timedelta(seconds=retry_seconds)
        self._entries = entries
        # Without an opener (a service context built by hand, not by the application) the
        # classes are computed in the caller's own unit of work, and the caller waits.
        self.opener = opener
        self._items: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._running: dict[tuple[Any, ...], asyncio.Task[None]] = {}
        self._closed = False
        self._failed_at: dict[tuple[Any, ...], datetime] = {}
        self.rebuilds = 0  # started, for tests and the benchmark

    def get(
        self, key: tuple[Any, ...], period: Period, now: datetime, load: Loader
    ) -> Classes | None:
        """The classes kept for `key` (maybe stale, maybe of an earlier month: their `period`
        says which), or None. Starts `load` in the background when they are missing, stale or
        of another period, unless a rebuild of `key` runs or failed less than
        `retry_seconds` ago."""
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        if entry is None or entry.classes.period != period or not self._fresh(entry, now):
            self._start(key, now, load)
        return entry.classes if entry is not None else None

    def _fresh(self, entry: _Entry, now: datetime) -> bool:
        # A clock moved back (tests, a corrected system clock) makes the entry stale too.
        return entry.computed_at <= now < entry.computed_at + self._ttl

    def put(self, key: tuple[Any, ...], value: Classes, now: datetime) -> None:
        self._items[key] = _Entry(value, now)
        self._items.move_to_end(key)
        while len(self._items) > self._entries:
            self._items.popitem(last=False)

    def _start(self, key: tuple[Any, ...], now: datetime, load: Loader) -> None:
        if key in self._running or self._closed:
            return
        failed = self._failed_at.get(key)
        if failed is not None and failed <= now < failed + self._retry:
            return
        self.rebuilds += 1
        # A context of its own: not the request's (its locale, its unit-of-work holder, the
        # member id its log lines carry), which ends before the rebuild does.
        task = asyncio.get_running_loop().create_task(
            self._rebuild(key, now, load), context=contextvars.Context()
        )
        self._running[key] = task

    async def _rebuild(self, key: tuple[Any, ...], now: datetime, load: Loader) -> None:
        try:
            classes = await load()
        except Exception as exc:
            self._failed_at[key] = now
            # The team's id and the error's type: no client data (SQL parameters are hidden
            # by the engine, storage/db.py).
            log.error(
                "ABC-XYZ classes of team %s failed to compute: %s",
                key[0],
                type(exc).__name__,
                exc_info=exc,
            )
        else:
            self._failed_at.pop(key, None)
            # Stamped with the moment the rebuild started: a deal dated back meanwhile shows
            # at the next refresh, not `seconds` after this one ends.
            self.put(key, classes, now)
        finally:
            self._running.pop(key, None)

    @property
    def running(self) -> int:
        return len(self._running)

    async def settled(self) -> None:
        """Wait for the rebuilds under way (tests and the benchmark; pages never wait)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def close(self) -> None:
        """Stop the rebuilds under way (the application is closing its database)."""
        self._closed = True  # a page arriving after this must not start one on a closed engine
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()


# -- the computation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a rebuild reads: the month's buyers ranked (client, revenue and running revenue in
    minor units) with the team's positive total, their revenue per month over the XYZ window
    and their first deals."""

    period: Period
    ranked: list[tuple[int, int, int]]
    total: int
    monthly: dict[int, dict[int, int]]
    first: dict[int, date]


Reader = Callable[[Callable[[UnitOfWork], Awaitable[T]]], Awaitable[T]]


async def load(
    read: Reader[Any], team_id: int, currency: str, period: Period, months: int
) -> Loaded:
    """The reads of `/portfolio`'s classes (bot/services/portfolio/service.py), for the month's
    buyers only: clients who bought nothing in the month have no class, whatever else they
    did. The ranking and the monthly sums from the roll-ups, the first deals by index; three
    statements. `read` runs each: a rebuild gives each a unit of work of its own (`apart`)."""
    last = month_index(period.end)

    async def ranked_sales(uow: UnitOfWork) -> tuple[list[tuple[int, int, int]], int]:
        # The report's own ranking read (window sums over the team), so the classes agree.
        rows, total = await uow.analytics.ranked_clients(
            team_id, currency, period.start, period.end, None
        )
        return [(client, int(row[0]), int(row[5])) for client, row in rows.items()], int(total)

    async def monthly(uow: UnitOfWork) -> dict[int, dict[int, int]]:
        return await uow.base_table.buyers_monthly(team_id, currency, last - months + 1, last)

    async def first(uow: UnitOfWork) -> dict[int, date]:
        return await uow.base_table.buyers_first_deals(team_id, currency, last, period.end)

    ranked, total = await read(ranked_sales)
    return Loaded(period, ranked, total, await read(monthly), await read(first))


def apart(opener: UnitOfWorkOpener) -> Reader[Any]:
    """Each read in a unit of work of its own. On SQLite one unit of work at a time holds the
    database (storage/uow.py): a page asking meanwhile waits for one read (tens of
    milliseconds on 100,000 clients), not for all of them. The reads may then see different
    moments: a deal dated back into the month between two of them shows fully at the next
    refresh."""

    async def read(step: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with opener() as uow:
            return await step(uow)

    return read


def rank(loaded: Loaded, settings: AnalyticsSettings) -> Classes:
    """ABC and XYZ by `compute`'s rules, as the report ranks them: a client sold to in the
    month but not within the XYZ window is Z (one-off as far as regularity can tell)."""
    abc = compute.abc_ranked(
        loaded.ranked, settings.abc_a_percent, settings.abc_b_percent, loaded.total
    )
    xyz = compute.xyz_classes(
        loaded.monthly,
        loaded.first,
        month_index(loaded.period.end),
        settings.xyz_months,
        settings.xyz_x_percent,
        settings.xyz_y_percent,
    )
    return Classes(
        loaded.period,
        {
            client: (letter, xyz[client].cls if client in xyz else "Z")
            for client, letter in abc.items()
        },
    )


async def compute_classes(
    opener: UnitOfWorkOpener,
    team_id: int,
    currency: str,
    period: Period,
    settings: AnalyticsSettings,
) -> Classes:
    """A rebuild: the reads in units of work of their own, the ranking in a worker thread once
    the database is free again."""
    loaded = await load(apart(opener), team_id, currency, period, settings.xyz_months)
    return await asyncio.to_thread(rank, loaded, settings)
