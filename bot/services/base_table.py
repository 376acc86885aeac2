"""The base as a table (the Mini App): the clients a member may see, searched as the chat
searches, filtered, sorted and paged by the database, with each client's ABC-XYZ class and
revenue from the portfolio's last complete month.

Classes are those `/portfolio` shows for the last complete month, computed by the same rules
from the same roll-ups and kept per team (bot/services/class_cache.py): a call logged or a deal
made today does not move them. A page never waits for them: it is served the classes last
computed while a rebuild runs in the background, and before the first one is done it answers
without classes (`Classes.ready` False) and refuses a class filter with a sentence saying so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.config import AnalyticsSettings
from bot.errors import ErrorCode
from bot.parsing.names import clean_name
from bot.services.access import manager_scope, sees_whole_team
from bot.services.class_cache import Classes, compute_classes, load, rank
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.portfolio.periods import Period, month_of
from storage.repositories.base_table import RevenueWindow, TableFilter, TableRow

ABC = ("A", "B", "C")
XYZ = ("X", "Y", "Z")
MAX_PAGE = 100
DEFAULT_PAGE = 50
# A search lists at most this many best matches (a table of 5,000 "ivan"s helps nobody).
SEARCH_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class TableQuery:
    q: str | None = None
    manager_id: int | None = None
    temperatures: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    tag: str | None = None
    segment: str | None = None
    overdue: bool = False
    no_next: bool = False
    abc: tuple[str, ...] = ()
    xyz: tuple[str, ...] = ()
    archived: bool = False
    sort: str | None = None
    offset: int = 0
    limit: int = DEFAULT_PAGE


@dataclass(frozen=True, slots=True)
class TablePage:
    rows: list[TableRow]
    total: int
    exact: bool  # False: a filtered table counted up to its cap ("5,000+")
    offset: int
    limit: int
    names: dict[int, str]
    classes: Classes
    today: date


@dataclass(frozen=True, slots=True)
class TableOptions:
    managers: list[tuple[int, str]]
    tags: list[str]
    segments: list[str]


def classes_period(today: date) -> Period:
    """The last complete month: its classes no longer move with every deal of the day."""
    return month_of(today).previous()


class BaseTableService:
    def __init__(
        self, ctx: ServiceContext, portfolio: Any, clients: Any, settings: AnalyticsSettings
    ) -> None:
        # The portfolio and client services of the same unit of work (bot/services/hub.py).
        self._ctx = ctx
        self._portfolio = portfolio
        self._clients = clients
        self._settings = settings

    async def options(self, actor: Actor) -> TableOptions:
        uow, scope = self._ctx.uow, manager_scope(actor)
        if sees_whole_team(actor):
            members = await uow.analytics.members(actor.team.id)
            managers = [(i, name) for i, name, _role, active in members if active]
        else:
            managers = [(actor.member.id, actor.member.full_name)]
        return TableOptions(
            managers=managers,
            tags=await uow.base_table.tags(actor.team.id, scope),
            segments=await uow.base_table.segments(actor.team.id, scope),
        )

    async def classes(self, actor: Actor) -> Classes:
        """The team's classes of the last complete month as last computed (maybe of the month
        before, right after a month ends: their `period` says which), never waiting for a
        rebuild; not `ready` before the first one is done."""
        period = classes_period(self._portfolio.today(actor))
        team_id, currency = actor.team.id, actor.team.currency
        cache, settings = self._ctx.classes, self._settings
        opener = cache.opener
        if opener is None:
            # A context built by hand (no application): computed here, in this unit of work.
            uow = self._ctx.uow
            loaded = await load(
                lambda step: step(uow), team_id, currency, period, settings.xyz_months
            )
            return await asyncio.to_thread(rank, loaded, settings)
        found = cache.get(
            (team_id, currency),
            period,
            self._ctx.now(),
            lambda: compute_classes(opener, team_id, currency, period, settings),
        )
        return found if found is not None else Classes(period, {}, ready=False)

    async def page(self, actor: Actor, query: TableQuery) -> TablePage:
        uow = self._ctx.uow
        today = self._ctx.local_now(actor).date()
        scope = manager_scope(actor)
        if scope is not None and query.manager_id not in (None, scope):
            # A manager sees their own clients only; asking for another's is refused.
            raise DomainError(ErrorCode.NOT_ALLOWED)
        classes = await self.classes(actor)
        if (query.abc or query.xyz) and not classes.ready:
            # Nothing to filter by yet: said plainly, not answered with an empty table.
            raise DomainError(ErrorCode.CLASSES_NOT_READY)
        ids: set[int] | None = None
        order: list[int] = []
        text = clean_name(query.q or "")
        if text:
            order = await self._clients.search_ids(
                actor, text, limit=SEARCH_LIMIT, audit=query.offset == 0
            )
            ids = set(order)
        if query.abc or query.xyz:
            wanted = {
                client_id
                for client_id, (abc, xyz) in classes.of.items()
                if (not query.abc or abc in query.abc) and (not query.xyz or xyz in query.xyz)
            }
            ids = wanted if ids is None else ids & wanted
        flt = TableFilter(
            manager_id=query.manager_id if query.manager_id is not None else scope,
            temperatures=query.temperatures,
            stages=query.stages,
            tag=query.tag,
            segment=query.segment,
            overdue_before=today if query.overdue else None,
            no_next=query.no_next,
            archived=query.archived,
            ids=tuple(sorted(ids)) if ids is not None else None,
        )
        period = classes.period
        window = RevenueWindow(actor.team.currency, period.start, period.end)
        rows, total, exact = await uow.base_table.page(
            actor.team.id,
            flt,
            window,
            sort=query.sort,
            order_ids=order,
            offset=query.offset,
            limit=query.limit,
        )
        names = await uow.members.names(actor.team.id, {row.manager_id for row in rows})
        return TablePage(rows, total, exact, query.offset, query.limit, names, classes, today)
