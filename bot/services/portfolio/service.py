"""`/portfolio`: loads the aggregates, applies the rules of `compute`, checks who may see what.

Attribution (README, "Analytics"): sales figures per manager (turnover, ROS, LTV, deals in
regularity) follow the manager who closed the deal (`deals.manager_id`), so a reassignment does
not rewrite history; client views (penetration, ABC-XYZ, quality, angels and demons, gained and
lost, base health) follow the client's current manager. Classes are ranked over the whole team,
so a manager's "A" means the same as everyone else's.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import AnalyticsSettings
from bot.errors import ErrorCode
from bot.services.access import sees_whole_team
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.matching import normalize
from bot.services.portfolio import compute
from bot.services.portfolio.compute import ABC, XYZ, ZERO, Ltv, Regularity, ShareChange, Totals
from bot.services.portfolio.periods import MONTH, QUARTER, YEAR, Period, month_index
from storage.enums import Role
from storage.repositories.analytics import (
    EPOCH,
    ClientRow,
    ManagerSales,
)

ACTIVITY_KINDS = ("call", "meeting", "proposal")
HEALTH_BUCKETS = ("month", "half_year", "year", "older", "never")
NO_SEGMENT = ""


@dataclass(frozen=True, slots=True)
class ClientLine:
    id: int
    name: str
    manager_id: int
    segment: str | None
    potential: Decimal | None
    now: Totals
    prev: Totals
    abc: str | None = None
    xyz: Regularity | None = None
    prev_abc: str | None = None
    prev_xyz: Regularity | None = None

    @property
    def cell(self) -> str | None:
        if self.abc is None or self.xyz is None:
            return None
        return self.abc + self.xyz.cls

    @property
    def prev_cell(self) -> str | None:
        if self.prev_abc is None or self.prev_xyz is None:
            return None
        return self.prev_abc + self.prev_xyz.cls


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A manager (key: member id) or a segment (key: its name, "" for none)."""

    key: int | str
    label: str
    now: Totals
    prev: Totals
    ltv: Ltv | None = None

    @property
    def dynamics(self) -> Decimal | None:
        return compute.change_ratio(self.now.revenue, self.prev.revenue)


@dataclass(frozen=True, slots=True)
class QualityLine:
    manager_id: int
    name: str
    clients: int  # clients with a class this period
    now: dict[str, Decimal | None]
    prev: dict[str, Decimal | None]


@dataclass(frozen=True, slots=True)
class ActivityLine:
    manager_id: int
    name: str
    counts: dict[str, int]  # call, meeting, proposal, deal
    days: int

    def per(self, kind: str, days: int) -> Decimal:
        """Average per `days` days (1 = per day, 7 = per week, 30 = per month)."""
        return Decimal(self.counts.get(kind, 0)) * days / Decimal(self.days)


@dataclass(frozen=True, slots=True)
class Report:
    team_id: int
    manager_id: int | None
    manager_name: str | None
    period: Period
    previous: Period
    currency: str
    today: date
    days: int  # elapsed days of the period
    total: GroupLine
    clients: list[ClientLine]
    matrix_counts: dict[tuple[str, str], int]
    matrix_revenue: dict[tuple[str, str], Decimal]
    moves: list[ClientLine]
    quality: list[QualityLine]
    biggest_change: ShareChange | None
    activity: list[ActivityLine]
    managers: list[GroupLine]
    segments: list[GroupLine]
    angels: list[ClientLine]
    demons: list[ClientLine]
    gained: list[ClientLine]
    lost: list[ClientLine]
    health: dict[str, int]
    health_by_manager: dict[int, dict[str, int]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    # (A, B, X, Y) thresholds in percent, as configured: legends quote them.
    thresholds: tuple[Decimal, Decimal, Decimal, Decimal] = (
        Decimal(80),
        Decimal(95),
        Decimal(10),
        Decimal(25),
    )

    @property
    def potential_scale(self) -> tuple[int, int]:
        """The part of a yearly potential a period's sales are measured against, as a fraction
        (numerator, denominator): a month is a twelfth, a quarter a quarter, a year all of it,
        a span of days that many 365ths (a 92-day span: 92/365)."""
        return potential_scale(self.period)

    def plan(self, line: ClientLine) -> Decimal | None:
        """The client's yearly potential scaled to the period: what penetration compares with."""
        if not line.potential or line.potential <= 0:
            return None
        numerator, denominator = self.potential_scale
        return line.potential * numerator / denominator

    def penetration(self, line: ClientLine) -> Decimal | None:
        """Our sales to the client in the period / their potential scaled to the period × 100."""
        if not line.potential or line.potential <= 0:
            return None
        numerator, denominator = self.potential_scale
        return compute.percent(line.now.revenue * denominator, line.potential * numerator)

    @property
    def planned(self) -> list[ClientLine]:
        """Clients with a potential, least penetrated first: where the room to grow is."""
        lines = [line for line in self.clients if self.penetration(line) is not None]
        return sorted(lines, key=lambda line: (self.penetration(line), line.name))  # type: ignore[arg-type,return-value]


def potential_scale(period: Period) -> tuple[int, int]:
    if period.kind == MONTH:
        return 1, 12
    if period.kind == QUARTER:
        return 1, 4
    if period.kind == YEAR:
        return 1, 1
    return period.days, 365


@dataclass(frozen=True, slots=True)
class MemberChoice:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class _Ranked:
    """What `_rank` works out from the loaded rows, in a thread."""

    total: GroupLine
    lines: list[ClientLine]
    counts: dict[tuple[str, str], int]
    revenue: dict[tuple[str, str], Decimal]
    moves: list[ClientLine]
    quality: list[QualityLine]
    change: ShareChange | None
    managers: list[GroupLine]
    segments: list[GroupLine]
    angels: list[ClientLine]
    demons: list[ClientLine]
    gained: list[ClientLine]
    lost: list[ClientLine]


class PortfolioService:
    def __init__(self, ctx: ServiceContext, settings: AnalyticsSettings) -> None:
        self._ctx = ctx
        self._settings = settings

    # --- access -----------------------------------------------------------------------------

    def today(self, actor: Actor) -> date:
        """Periods are the company's: calendar days in the team's time zone."""
        return self._ctx.now().astimezone(ZoneInfo(actor.team.timezone)).date()

    async def choices(self, actor: Actor) -> list[MemberChoice]:
        """Whom the actor may pick: every active member for owner and head, nobody else."""
        if not sees_whole_team(actor):
            return []
        members = await self._ctx.uow.analytics.members(actor.team.id)
        return [MemberChoice(i, name) for i, name, _role, active in members if active]

    async def scope(self, actor: Actor, manager_id: int | None) -> int | None:
        """The manager whose numbers are shown (None: the team), after checking the actor may.

        A manager sees only themself: asking for the team or for someone else is refused."""
        if not sees_whole_team(actor):
            if manager_id is not None and manager_id != actor.member.id:
                raise DomainError(ErrorCode.PORTFOLIO_OWN_ONLY)
            return actor.member.id
        if manager_id is None:
            return None
        member = await self._ctx.uow.members.get(actor.team.id, manager_id)
        if member is None:
            # Only a forged or very old button names a member who is not in the team.
            raise DomainError(ErrorCode.PICK_EXPIRED)
        return member.id

    async def find_member(self, actor: Actor, name: str) -> int:
        """A team member by a part of their name (any alphabet); refuses a manager asking
        about someone else before telling whether that person exists."""
        wanted = normalize(name)
        members = await self._ctx.uow.analytics.members(actor.team.id)
        found = [
            member_id
            for member_id, full_name, _role, active in members
            if active and wanted and wanted in normalize(full_name)
        ]
        if not sees_whole_team(actor):
            if found == [actor.member.id] or wanted in normalize(actor.member.full_name):
                return actor.member.id
            raise DomainError(ErrorCode.PORTFOLIO_OWN_ONLY)
        if not found:
            raise DomainError(ErrorCode.PORTFOLIO_MEMBER_UNKNOWN, name=name)
        if len(found) > 1:
            exact = [m for m, full, _r, _a in members if m in found and normalize(full) == wanted]
            if len(exact) != 1:
                raise DomainError(ErrorCode.PORTFOLIO_MEMBER_AMBIGUOUS, name=name)
            return exact[0]
        return found[0]

    @property
    def top_clients(self) -> int:
        return self._settings.top_clients

    async def member_names(self, actor: Actor) -> dict[int, str]:
        """Every member's name, removed members too: a chart's line may be of someone since
        removed, and the report names them the same way (`Report.names`)."""
        members = await self._ctx.uow.analytics.members(actor.team.id)
        return {member_id: name for member_id, name, _role, _active in members}

    async def data_version(self, actor: Actor) -> tuple[object, ...]:
        """The cheap facts that change when a report's numbers or its clients' managers do
        (the report cache's key, bot/services/portfolio/cache.py): a caller keeping a report
        for a while compares them before reusing it."""
        version = await self._ctx.uow.analytics.version(actor.team.id)
        return (actor.team.id, actor.team.currency, version)

    def may_export(self, actor: Actor) -> bool:
        return actor.member.role == Role.OWNER or actor.member.can_export

    def check_export(self, actor: Actor) -> None:
        if not self.may_export(actor):
            raise DomainError(ErrorCode.EXPORT_NOT_ALLOWED)

    async def record_export(
        self, actor: Actor, report: Report, section: str, fmt: str, rows: int
    ) -> None:
        await self._ctx.uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="export",
            now=self._ctx.now(),
            details={
                "what": "portfolio",
                "section": section,
                "format": fmt,
                "period": report.period.key,
                "manager_id": report.manager_id,
                "rows": rows,
            },
        )

    # --- the report -------------------------------------------------------------------------

    async def report(self, actor: Actor, period: Period, manager_id: int | None) -> Report:
        scope = await self.scope(actor, manager_id)
        today = self.today(actor)
        cache = self._ctx.reports
        key: tuple[object, ...] | None = None
        if period.ended(today) and cache.enabled:
            version = await self._ctx.uow.analytics.version(actor.team.id)
            key = (actor.team.id, actor.team.currency, scope, period.key, today, version)
            cached = cache.get(key, self._ctx.now())
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        report = await self._build(actor, period, scope, today)
        if key is not None:
            cache.put(key, report, self._ctx.now())
        return report

    def _bounds(self, actor: Actor, period: Period) -> tuple[datetime, datetime]:
        zone = ZoneInfo(actor.team.timezone)
        start = datetime.combine(period.start, time(0), zone).astimezone(UTC)
        end = datetime.combine(period.end + timedelta(days=1), time(0), zone).astimezone(UTC)
        return start, end

    async def _build(self, actor: Actor, period: Period, scope: int | None, today: date) -> Report:
        repo = self._ctx.uow.analytics
        team_id, currency = actor.team.id, actor.team.currency
        previous = period.previous()
        members = await repo.members(team_id)
        names = {member_id: name for member_id, name, _role, _active in members}
        now, prev = (period.start, period.end), (previous.start, previous.end)
        # XYZ windows: the months up to each period's last month.
        window = self._settings.xyz_months
        end_now, end_prev = month_index(period.end), month_index(previous.end)
        windows = [(end_now - window + 1, end_now), (end_prev - window + 1, end_prev)]
        # Every client line from one statement: both periods' sums, their ABC running sums
        # over the whole team, the XYZ sums of both windows and the first deal, each
        # roll-up row of the span read once; and both periods' manager totals from another.
        clients = await repo.clients(team_id, scope)
        rows = await repo.client_figures(team_id, currency, now, prev, windows, scope)
        by_manager = await repo.manager_figures(team_id, currency, now, prev, scope)
        squares = [_XYZ + _WIDTH * index + 2 for index in range(len(windows))]
        large = [
            client
            for client, row in rows.items()
            for at in squares
            if row[at] is None and row[at - 2]
        ]
        exact: dict[int, dict[int, int]] = {}
        if large:
            first_month = min(first for first, _last in windows)
            window_start = date(first_month // 12, first_month % 12 + 1, 1)
            exact = await repo.monthly_of(team_id, currency, window_start, period.end, large)
        days = period.elapsed_days(today)
        # Ranking and grouping runs in a thread, so the event loop (other members' updates,
        # the sweep) is never held by it.
        r = await asyncio.to_thread(
            self._rank, period, scope, clients, rows, names, by_manager, exact, windows, days
        )
        authors = [scope] if scope is not None else sorted(names)
        deals = {manager: sales.deals for manager, sales, _prev in by_manager if sales}
        activity = await self._activity(actor, period, scope, authors, deals, names, days)
        health_by_manager = await self._health(actor, scope)
        health = {bucket: 0 for bucket in HEALTH_BUCKETS}
        for per_manager in health_by_manager.values():
            for bucket, n in per_manager.items():
                health[bucket] += n
        return Report(
            team_id=team_id,
            manager_id=scope,
            manager_name=names.get(scope) if scope is not None else None,
            period=period,
            previous=previous,
            currency=currency,
            today=today,
            days=days,
            total=r.total,
            clients=r.lines,
            matrix_counts=r.counts,
            matrix_revenue=r.revenue,
            moves=r.moves,
            quality=r.quality,
            biggest_change=r.change,
            activity=activity,
            managers=r.managers,
            segments=r.segments,
            angels=r.angels,
            demons=r.demons,
            gained=r.gained,
            lost=r.lost,
            health=health,
            health_by_manager=health_by_manager,
            names=names,
            thresholds=(
                self._settings.abc_a_percent,
                self._settings.abc_b_percent,
                self._settings.xyz_x_percent,
                self._settings.xyz_y_percent,
            ),
        )

    def _rank(
        self,
        period: Period,
        scope: int | None,
        clients: Sequence[ClientRow],
        rows: dict[int, tuple[Any, ...]],
        names: dict[int, str],
        by_manager: Sequence[tuple[int, ManagerSales | None, ManagerSales | None]],
        exact: dict[int, dict[int, int]],
        windows: Sequence[tuple[int, int]],
        days: int,
    ) -> _Ranked:
        """The pure part of a report: classes, lines, groups and lists from loaded rows
        (`AnalyticsRepository.client_figures`'s columns: integers in minor units and day
        numbers, turned into money only for the lines shown)."""
        settings = self._settings
        ranked_now: list[tuple[int, int, int]] = []
        ranked_prev: list[tuple[int, int, int]] = []
        total_now = total_prev = 0
        for client, row in rows.items():
            if row[_NOW] > 0:
                ranked_now.append((client, row[_NOW], row[_NOW + 5]))
                total_now = row[_NOW + 6]
            if row[_PREV] > 0:
                ranked_prev.append((client, row[_PREV], row[_PREV + 5]))
                total_prev = row[_PREV + 6]
        a, b = settings.abc_a_percent, settings.abc_b_percent
        abc_now = compute.abc_classes(compute.RankedRevenue(ranked_now, total_now), a, b)
        abc_prev = compute.abc_classes(compute.RankedRevenue(ranked_prev, total_prev), a, b)
        # Regularity only for the clients a period classes: a month's few buyers, not the
        # thousands with sales somewhere in the window.
        xyz_now, xyz_prev = (
            _regularity(rows, exact, _XYZ + _WIDTH * index, window, settings, classed)
            for index, (window, classed) in enumerate(
                zip(windows, (abc_now, abc_prev), strict=True)
            )
        )

        start_day = period.start.toordinal() - EPOCH
        keyed: list[tuple[int, int, str, int, ClientLine]] = []
        gained: list[ClientLine] = []
        # Segment sums in minor units: adding Totals of Decimals line by line cost more.
        by_segment: dict[str, list[list[int]]] = {}
        for client, name, manager, segment, potential in clients:
            row = rows.get(client, _NO_SALES)
            first = row[-1]
            now_rev, prev_rev = row[_NOW], row[_PREV]
            now_deals, prev_deals = row[_NOW + 3], row[_PREV + 3]
            if not now_deals and not prev_deals and not potential:
                continue
            now = prev = _NONE
            if now_deals or prev_deals:
                sums = by_segment.get(segment or NO_SEGMENT)
                if sums is None:
                    sums = by_segment[segment or NO_SEGMENT] = [[0] * 6, [0] * 6]
                if now_deals:
                    now = _totals(row, _NOW, first, sums[0])
                if prev_deals:
                    prev = _totals(row, _PREV, first, sums[1])
            abc = abc_now.get(client)
            xyz = None
            if abc is not None:
                # Sold in the period but not within the XYZ window (a custom span reaching
                # further back than the window): one-off as far as regularity can tell.
                xyz = xyz_now.get(client) or _ONE_OFF
            prev_abc = abc_prev.get(client)
            prev_xyz = None
            if prev_abc is not None:
                prev_xyz = xyz_prev.get(client) or _ONE_OFF
            line = _new_line(
                client, name, manager, segment, potential, now, prev, abc, xyz, prev_abc, prev_xyz
            )
            keyed.append((-now_rev, -prev_rev, name, client, line))
            if now_deals and first is not None and first >= start_day:
                gained.append(line)
        # Minor units order exactly as the money they stand for.
        keyed.sort(key=lambda item: item[:4])
        lines = [item[4] for item in keyed]
        gained_ids = {line.id for line in gained}
        gained = [line for line in lines if line.id in gained_ids]

        counts: dict[tuple[str, str], int] = {(a, x): 0 for a in ABC for x in XYZ}
        revenue: dict[tuple[str, str], Decimal] = {(a, x): ZERO for a in ABC for x in XYZ}
        for line in lines:
            if line.abc is not None and line.xyz is not None:
                counts[(line.abc, line.xyz.cls)] += 1
                revenue[(line.abc, line.xyz.cls)] += line.now.revenue
        moves = [
            line
            for line in lines
            if (line.cell or line.prev_cell) and line.cell != line.prev_cell and line.prev_cell
        ]

        quality, change = self._quality(lines, names)
        managers = self._managers(by_manager, names, scope, days)
        segments = self._segments(by_segment, days)
        total = GroupLine(
            "",
            "",
            sum((m.now for m in managers), Totals()),
            sum((m.prev for m in managers), Totals()),
        )
        total = GroupLine("", "", total.now, total.prev, compute.ltv(total.now, days))

        buying = [line for line in lines if line.now.deals]
        top = settings.top_clients
        angels = sorted(
            (line for line in buying if line.now.profit > 0),
            key=lambda line: (-line.now.profit, line.name),
        )[:top]
        demons = sorted(
            (line for line in buying if line.now.profit < 0),
            key=lambda line: (line.now.profit, line.name),
        )
        if not demons:
            # Nobody loses money: the weakest return on sales are the ones to look at.
            angel_ids = {line.id for line in angels}
            demons = sorted(
                (line for line in buying if line.now.ros is not None and line.id not in angel_ids),
                key=lambda line: (line.now.ros, line.name),  # type: ignore[arg-type,return-value]
            )
        demons = demons[:top]
        lost = [line for line in lines if line.prev.deals and not line.now.deals]
        lost.sort(key=lambda line: (-line.prev.revenue, line.name))

        return _Ranked(
            total,
            lines,
            counts,
            revenue,
            moves,
            quality,
            change,
            managers,
            segments,
            angels,
            demons,
            gained,
            lost,
        )

    def _quality(
        self, lines: Sequence[ClientLine], names: dict[int, str]
    ) -> tuple[list[QualityLine], ShareChange | None]:
        by_manager: dict[int, list[ClientLine]] = defaultdict(list)
        for line in lines:
            by_manager[line.manager_id].append(line)
        out: list[QualityLine] = []
        now_shares: dict[int, dict[str, Decimal | None]] = {}
        prev_shares: dict[int, dict[str, Decimal | None]] = {}
        for manager_id, own in by_manager.items():
            classes_now = [c.abc for c in own if c.abc] + [c.xyz.cls for c in own if c.xyz]
            classes_prev = [c.prev_abc for c in own if c.prev_abc] + [
                c.prev_xyz.cls for c in own if c.prev_xyz
            ]
            now = compute.shares([c for c in classes_now if c in ABC], ABC)
            now.update(compute.shares([c for c in classes_now if c in XYZ], XYZ))
            prev = compute.shares([c for c in classes_prev if c in ABC], ABC)
            prev.update(compute.shares([c for c in classes_prev if c in XYZ], XYZ))
            classified = sum(1 for c in own if c.abc)
            if not classified and not any(c.prev_abc for c in own):
                continue
            now_shares[manager_id], prev_shares[manager_id] = now, prev
            out.append(QualityLine(manager_id, names.get(manager_id, "?"), classified, now, prev))
        out.sort(key=lambda q: q.name)
        ordered = {q.manager_id: now_shares[q.manager_id] for q in out}
        change = compute.biggest_change(ordered, prev_shares, ABC + XYZ)
        return out, change

    def _managers(
        self,
        by_manager: Sequence[tuple[int, ManagerSales | None, ManagerSales | None]],
        names: dict[int, str],
        scope: int | None,
        days: int,
    ) -> list[GroupLine]:
        now = {key: _manager_totals(row) for key, row, _prev in by_manager if row}
        prev = {key: _manager_totals(row) for key, _now, row in by_manager if row}
        keys = set(now) | set(prev)
        if scope is not None:
            keys = {scope}
        lines = [
            GroupLine(
                key,
                names.get(key, "?"),
                now.get(key, Totals()),
                prev.get(key, Totals()),
                compute.ltv(now.get(key, Totals()), days),
            )
            for key in keys
        ]
        return sorted(lines, key=lambda g: (-g.now.revenue, g.label))

    def _segments(self, by_segment: dict[str, list[list[int]]], days: int) -> list[GroupLine]:
        """Per segment ("" for none) the sums of its buying clients' lines, from the minor
        units `_rank` added up."""
        out = []
        for key, (now_sums, prev_sums) in by_segment.items():
            now, prev = _summed(now_sums), _summed(prev_sums)
            out.append(GroupLine(key, key, now, prev, compute.ltv(now, days)))
        return sorted(out, key=lambda g: (-g.now.revenue, g.label))

    async def _activity(
        self,
        actor: Actor,
        period: Period,
        scope: int | None,
        authors: Sequence[int],
        deals: dict[int, int],
        names: dict[int, str],
        days: int,
    ) -> list[ActivityLine]:
        start, end = self._bounds(actor, period)
        counts = await self._ctx.uow.analytics.activity_counts(authors, ACTIVITY_KINDS, start, end)
        per: dict[int, dict[str, int]] = defaultdict(dict)
        for (author, kind), n in counts.items():
            if kind in ACTIVITY_KINDS:
                per[author][kind] = n
        for manager, n in deals.items():
            if scope is None or manager == scope:
                per[manager]["deal"] = per[manager].get("deal", 0) + n
        if scope is not None:
            per = {scope: per.get(scope, {})}
        lines = [ActivityLine(m, names.get(m, "?"), dict(c), days) for m, c in per.items()]
        return sorted(lines, key=lambda line: line.name)

    async def _health(self, actor: Actor, scope: int | None) -> dict[int, dict[str, int]]:
        now = self._ctx.now()
        edges = (now - timedelta(days=30), now - timedelta(days=182), now - timedelta(days=365))
        return await self._ctx.uow.analytics.health(actor.team.id, scope, now, edges)

    # --- series for the charts --------------------------------------------------------------

    async def quality_series(
        self, actor: Actor, period: Period, manager_id: int | None, points: int = 4
    ) -> dict[int, list[tuple[Period, dict[str, Decimal | None]]]]:
        """Each manager's class shares over the last `points` periods of this kind, ending with
        `period`: A, B, C and X, Y, Z among their clients with a class in that period, as the
        quality section counts them (its "now" is the last point). Keyed by member id.

        Read like the report: each period's clients ranked by the database over the whole
        team, the XYZ sums of every period's window in one statement, first deals by one
        index seek per client; integers throughout."""
        scope = await self.scope(actor, manager_id)
        repo = self._ctx.uow.analytics
        team_id, currency = actor.team.id, actor.team.currency
        periods = [period]
        while len(periods) < points:
            periods.insert(0, periods[0].previous())
        assigned = {row.id: row.manager_id for row in await repo.clients(team_id, scope)}
        ranked = [
            (await repo.ranked_clients(team_id, currency, p.start, p.end, scope)) for p in periods
        ]
        window = self._settings.xyz_months
        windows = [(month_index(p.end) - window + 1, month_index(p.end)) for p in periods]
        first_month = min(first for first, _last in windows)
        window_start = date(first_month // 12, first_month % 12 + 1, 1)
        # Only the periods' buyers get a class: when the periods are short beside the windows
        # (months: 4 of 15), reading the others' months and first deals is waste; a manager's
        # clients are few already.
        among = None
        spanned = sum(month_index(p.end) - month_index(p.start) + 1 for p in periods)
        if scope is None and 2 * spanned < month_index(period.end) - first_month + 1:
            among = repo.buyers(team_id, currency, [(p.start, p.end) for p in periods])
        first = await repo.first_deal_days(team_id, scope, period.end, among)
        # Monthly revenue to Python, summed per window here: with four windows SQL's
        # conditional sums cost SQLite ten times the plain read. Python's integers square
        # exactly, so no month needs the split or the exact path.
        monthly = await repo.monthly(team_id, currency, window_start, period.end, scope, among)
        rows = _window_sums(monthly, windows, first)
        exact: dict[int, dict[int, int]] = {}
        # Ranking four periods of a big team is pure Python for a while: off the event loop.
        return await asyncio.to_thread(
            self._shares_by_period, periods, assigned, ranked, rows, exact, windows
        )

    def _shares_by_period(
        self,
        periods: Sequence[Period],
        assigned: dict[int, int],
        ranked: Sequence[tuple[dict[int, tuple[Any, ...]], int]],
        rows: dict[int, tuple[Any, ...]],
        exact: dict[int, dict[int, int]],
        windows: Sequence[tuple[int, int]],
    ) -> dict[int, list[tuple[Period, dict[str, Decimal | None]]]]:
        settings = self._settings
        series: dict[int, list[tuple[Period, dict[str, Decimal | None]]]] = defaultdict(list)
        managers = set(assigned.values())
        for index, (each, (clients, total)) in enumerate(zip(periods, ranked, strict=True)):
            abc = compute.abc_classes(
                compute.RankedRevenue(
                    [(c, row[0], row[5]) for c, row in clients.items() if row[0] > 0], total
                ),
                settings.abc_a_percent,
                settings.abc_b_percent,
            )
            xyz = _regularity(rows, exact, _WIDTH * index, windows[index], settings, abc)
            per: dict[int, list[str]] = defaultdict(list)
            for client_id, cls in abc.items():
                if client_id in assigned:
                    per[assigned[client_id]].append(cls)
                    # Sold in the period, no XYZ class in the window: one-off, as in the report.
                    per[assigned[client_id]].append(xyz[client_id].cls if client_id in xyz else "Z")
            for manager in managers:
                classes = per[manager]
                shares = compute.shares([c for c in classes if c in ABC], ABC)
                shares.update(compute.shares([c for c in classes if c in XYZ], XYZ))
                series[manager].append((each, shares))
        return {
            manager: points
            for manager, points in series.items()
            if any(share is not None for _p, shares in points for share in shares.values())
        }

    async def activity_weeks(
        self, actor: Actor, period: Period, manager_id: int | None
    ) -> tuple[list[date], dict[str, list[int]]]:
        """Mondays of the weeks the period touches, and per kind the count in each week: the
        weeks run Monday to Sunday on the team's wall clock, cut to the period (activities by
        their moment in the team's zone; deals by their closing day)."""
        scope = await self.scope(actor, manager_id)
        repo = self._ctx.uow.analytics
        if scope is not None:
            authors = [scope]
        else:
            authors = [member_id for member_id, *_rest in await repo.members(actor.team.id)]
        first_monday = period.start - timedelta(days=period.start.weekday())
        weeks = [
            first_monday + timedelta(weeks=n)
            for n in range((period.end - first_monday).days // 7 + 1)
        ]
        zone = ZoneInfo(actor.team.timezone)
        start, end = self._bounds(actor, period)
        edges = [start]
        edges += [datetime.combine(week, time(0), zone).astimezone(UTC) for week in weeks[1:]]
        edges.append(end)
        counts = await repo.activity_weeks(authors, ACTIVITY_KINDS, edges)
        per_kind = {kind: [0] * len(weeks) for kind in (*ACTIVITY_KINDS, "deal")}
        for (index, kind), n in counts.items():
            if kind in ACTIVITY_KINDS and 0 <= index < len(weeks):
                per_kind[kind][index] += n
        sales = await repo.deal_days(
            actor.team.id, actor.team.currency, period.start, period.end, scope
        )
        for day, n in sales:
            index = (day - first_monday).days // 7
            if 0 <= index < len(weeks):
                per_kind["deal"][index] += n
        return weeks, per_kind


# Columns of `AnalyticsRepository.client_figures`: id; at _NOW and _PREV revenue, profit,
# profit_base, deals, last day, running revenue, team total; at _XYZ, _WIDTH columns per
# window; the first deal's day number last. _NO_SALES stands for a client without a row.
_NOW, _PREV, _XYZ, _WIDTH = 1, 8, 15, 4
_NO_SALES = (0, *[0] * (_XYZ - 1), *[None] * (2 * _WIDTH), None)
_NONE = Totals()
_ONE_OFF = Regularity("Z", 0)


# Frozen dataclasses set each field through object.__setattr__, which costs twice what the
# slots' own descriptors do: ~40,000 objects a team's year. These build the same objects.
def _setters(cls: type[Any]) -> list[Any]:
    return [getattr(cls, name).__set__ for name in cls.__dataclass_fields__]


_NEW = object.__new__
_T = _setters(Totals)
_L = _setters(ClientLine)
_R = _setters(Regularity)


def _new_totals(
    revenue: Decimal, profit: Decimal, base: Decimal, deals: int, clients: int, lifetime: int
) -> Totals:
    made = _NEW(Totals)
    _T[0](made, revenue)
    _T[1](made, profit)
    _T[2](made, base)
    _T[3](made, deals)
    _T[4](made, clients)
    _T[5](made, lifetime)
    return made  # type: ignore[no-any-return]


def _new_line(*values: Any) -> ClientLine:
    made = _NEW(ClientLine)
    for setter, value in zip(_L, values, strict=True):
        setter(made, value)
    return made  # type: ignore[no-any-return]


def _new_regularity(cls: str, months: int, spread: int | None, total: int | None) -> Regularity:
    made = _NEW(Regularity)
    _R[0](made, cls)
    _R[1](made, months)
    _R[2](made, spread)
    _R[3](made, total)
    return made  # type: ignore[no-any-return]


def _totals(row: Sequence[Any], at: int, first: int | None, sums: list[int]) -> Totals:
    """A line's totals from minor units; adds them to the segment's `sums` on the way."""
    revenue, profit, base, deals, last = row[at : at + 5]
    lifetime = max(last - first, 0) if first is not None else 0
    sums[0] += revenue
    sums[1] += profit
    sums[2] += base
    sums[3] += deals
    sums[4] += 1
    sums[5] += lifetime
    return _new_totals(
        Decimal(revenue).scaleb(-2),
        Decimal(profit).scaleb(-2),
        Decimal(base).scaleb(-2),
        deals,
        1,
        lifetime,
    )


def _summed(sums: list[int]) -> Totals:
    if not sums[3]:
        return _NONE
    revenue, profit, base, deals, clients, lifetime = sums
    return Totals(
        Decimal(revenue).scaleb(-2),
        Decimal(profit).scaleb(-2),
        Decimal(base).scaleb(-2),
        deals,
        clients,
        lifetime,
    )


def _manager_totals(row: ManagerSales) -> Totals:
    return Totals(
        row.revenue, row.profit, row.profit_base, row.deals, row.clients, row.lifetime_days
    )


def _window_sums(
    monthly: Sequence[tuple[int, int, int]],
    windows: Sequence[tuple[int, int]],
    first: dict[int, int],
) -> dict[int, tuple[Any, ...]]:
    """`AnalyticsRepository.window_sums`'s rows (months with sales, Σv, Σv², first month
    with sales, per window; the first deal's day last) from (client, month, revenue) rows."""
    sums: dict[int, list[Any]] = {}
    empty = [0, 0, 0, None] * len(windows)
    for client, month, value in monthly:
        if value <= 0:
            continue
        each = sums.get(client)
        if each is None:
            each = sums[client] = list(empty)
        for index, (start, end) in enumerate(windows):
            if start <= month <= end:
                at = _WIDTH * index
                each[at] += 1
                each[at + 1] += value
                each[at + 2] += value * value
                if each[at + 3] is None or month < each[at + 3]:
                    each[at + 3] = month
    return {client: (*each, first.get(client)) for client, each in sums.items()}


def _regularity(
    rows: dict[int, tuple[Any, ...]],
    exact: dict[int, dict[int, int]],
    at: int,
    window: tuple[int, int],
    settings: AnalyticsSettings,
    only: dict[int, str] | None = None,
) -> dict[int, Regularity]:
    """XYZ per client over one window from the sums SQL took (compute.xyz_classes's rules:
    months before the client's first deal are not counted, a month with sales always is)."""
    window_start, window_end = window
    opens = date(window_start // 12, window_start % 12 + 1, 1).toordinal() - EPOCH
    x_num, x_den = compute.squared_ratio(settings.xyz_x_percent)
    y_num, y_den = compute.squared_ratio(settings.xyz_y_percent)
    out: dict[int, Regularity] = {}
    for client, row in rows.items():
        with_sales = row[at]
        if not with_sales or (only is not None and client not in only):
            continue
        total, squares, earliest = row[at + 1 : at + _WIDTH]
        if squares is None:
            # A month too large to square in SQL without overflow: summed here, exactly.
            squares = sum(
                value * value
                for month, value in exact[client].items()
                if window_start <= month <= window_end and value > 0
            )
        start = window_start
        first = row[-1]
        if first is not None and first >= opens:
            start = max(start, month_index(date.fromordinal(first + EPOCH)))
        start = min(start, earliest)
        n = window_end - start + 1
        if with_sales < 2 or total <= 0:
            out[client] = _new_regularity("Z", n, None, None)
            continue
        # compute.xyz_from_sums's comparison in plain integers, inlined: ~17,000 calls a year.
        spread = n * squares - total * total
        total_squared = total * total
        if spread * x_den <= x_num * total_squared:
            out[client] = _new_regularity("X", n, spread, total)
        elif spread * y_den <= y_num * total_squared:
            out[client] = _new_regularity("Y", n, spread, total)
        else:
            out[client] = _new_regularity("Z", n, spread, total)
    return out
