"""The owner's weekly report: planned as one outbox row per recipient and week, its content
built from `/portfolio`'s own reports when it is sent.

When: on the team's day (Monday unless the owner chose another) at the team's time, or at each
recipient's own digest time when the owner set none, on the recipient's wall clock. Who: the
team's active owners, and its heads when the owner chose so. Once: the outbox key is the team,
the ISO week of that day and the recipient, so restarts, several instances and a day or time
changed mid-week never send a second one that week. Catch-up: a moment missed while the bot was
down is still planned when it comes back within `DeliverySettings.weekly_catch_up_hours`
(72 h: a Monday report arrives by Thursday morning, marked late); later than that it is skipped
and next week's comes as usual. Moments before the team existed or before the report was last
turned on are not owed (a team created on a Wednesday is not sent last Monday's report).

What: the 7 days before that day against the 7 days before them; the month to date (from the
1st of the month of the day before to the day before) against the same days of the month
before; ABC-XYZ moves and A shares of that calendar month against the one before (what the
`/portfolio` button then opens); overdue follow-ups and stuck leads as of sending, counted as
the morning digest counts them. Every figure is a `/portfolio` report's: the same service, the
same rules, so the numbers equal what `/portfolio` shows for those periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import AnalyticsSettings, Limits, RuleDefaults
from bot.services.context import Actor, ServiceContext
from bot.services.portfolio.cache import ReportCache
from bot.services.portfolio.compute import ZERO, shown
from bot.services.portfolio.periods import CUSTOM, Period, month_of
from bot.services.portfolio.service import PortfolioService, Report
from storage.dto import MemberDTO, TeamDTO
from storage.enums import OPEN_LEAD_STAGES, Role
from storage.repositories.digest import NamedClient
from storage.repositories.outbox import OutboxRow
from storage.uow import UnitOfWork, UnitOfWorkFactory

WEEKLY = "weekly"
NAMES_PER_MANAGER = 3  # stuck leads named per manager; the count says how many there are


def scheduled_moment(
    now: datetime, zone: ZoneInfo, weekday: int, at: time
) -> tuple[date, datetime]:
    """The latest moment at or before `now` that falls on `weekday` at `at` on the zone's wall
    clock: its local day and the moment in UTC."""
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    if moment > now:
        day -= timedelta(days=7)
        moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    return day, moment


def weekly_key(team_id: int, day: date, member_id: int) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{WEEKLY}:{team_id}:{year}-W{week:02d}:{member_id}"


async def plan_weekly(
    uow: UnitOfWork, now: datetime, *, late_after: timedelta, catch_up: timedelta
) -> int:
    wanted: list[tuple[int, int, str, date, datetime]] = []
    for recipient in await uow.digest.weekly_recipients():
        zone = ZoneInfo(recipient.timezone)
        at = recipient.weekly_time or recipient.digest_time
        day, moment = scheduled_moment(now, zone, recipient.weekly_day, at)
        if moment < recipient.since or now - moment > catch_up:
            continue
        key = weekly_key(recipient.team_id, day, recipient.id)
        wanted.append((recipient.team_id, recipient.id, key, day, moment))
    planned = 0
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        existing = await uow.digest.existing_keys([key for _t, _m, key, _d, _w in chunk])
        for team_id, member_id, key, day, moment in chunk:
            if key in existing:
                continue
            await uow.outbox.enqueue(
                team_id=team_id,
                member_id=member_id,
                kind=WEEKLY,
                dedup_key=key,
                due_at=moment,
                next_attempt_at=now,
                late=now - moment > late_after,
                now=now,
                payload={"day": day.isoformat()},
            )
            planned += 1
    return planned


# -- content -----------------------------------------------------------------------------------


def week_periods(day: date) -> tuple[Period, Period, Period, Period]:
    """For a report sent on `day`: the 7 days before it, the month to date (the 1st of the
    previous day's month to the previous day), the same days of the month before (cut at that
    month's end), and that whole calendar month (whose classes the report compares)."""
    last = day - timedelta(days=1)
    week = Period(CUSTOM, last - timedelta(days=6), last)
    month = month_of(last)
    to_date = Period(CUSTOM, month.start, last)
    before = month_of(month.start - timedelta(days=1))
    same_days = Period(
        CUSTOM, before.start, min(before.end, before.start + timedelta(days=to_date.days - 1))
    )
    return week, to_date, same_days, month


@dataclass(frozen=True, slots=True)
class Revenue:
    """One manager's (or the team's) revenue in the four periods."""

    member_id: int | None  # None: the whole team
    name: str
    week: Decimal
    week_before: Decimal
    month: Decimal
    month_before: Decimal

    @property
    def empty(self) -> bool:
        return not (self.week or self.week_before or self.month or self.month_before)


@dataclass(frozen=True, slots=True)
class ClassMove:
    client_id: int
    name: str
    before: str | None  # an ABC-XYZ cell, None: no class
    after: str | None


@dataclass(frozen=True, slots=True)
class ShareDrop:
    member_id: int
    name: str
    before: Decimal  # the A share in percent, rounded as /portfolio shows it
    after: Decimal


@dataclass(frozen=True, slots=True)
class ManagerCount:
    member_id: int
    name: str
    count: int
    clients: list[NamedClient]


@dataclass(frozen=True, slots=True)
class Weekly:
    member: MemberDTO  # the recipient
    team: TeamDTO
    day: date  # the scheduled day, the recipient's wall clock
    late: bool
    week: Period
    week_before: Period
    month: Period  # the month to date
    month_before: Period  # its same days a month earlier
    classes: Period  # the calendar month whose ABC-XYZ moves and shares are shown
    classes_before: Period
    total: Revenue
    managers: list[Revenue]
    moves: list[ClassMove]  # every move, largest revenue first; the view shows the top ones
    shrinking: list[ShareDrop]
    overdue: list[ManagerCount]
    stuck: list[ManagerCount]
    stuck_days: int

    @property
    def quiet(self) -> bool:
        """Nothing beyond the revenue lines to report."""
        return not (self.moves or self.shrinking or self.overdue or self.stuck)


class WeeklyReports:
    """Builds a weekly report's content from `/portfolio` reports, one short transaction each
    (on SQLite a long one would keep every member's update waiting); the ranking itself runs
    in a thread inside PortfolioService, so the event loop stays free."""

    def __init__(
        self,
        clock: Clock,
        analytics: AnalyticsSettings | None = None,
        limits: Limits | None = None,
        rules: RuleDefaults | None = None,
    ) -> None:
        self._clock = clock
        self._analytics = analytics or AnalyticsSettings()
        self._limits = limits or Limits()
        self._rules = rules or RuleDefaults()
        # The owner's and each head's report of one team share the ended periods' reports.
        self._cache = ReportCache(self._analytics.cache_seconds, self._analytics.cache_entries)

    async def load(self, uows: UnitOfWorkFactory, row: OutboxRow) -> Weekly | None:
        day = date.fromisoformat(str((row.payload or {}).get("day")))
        async with uows() as uow:
            member = await uow.members.get(row.team_id, row.member_id)
            team = await uow.teams.get(row.team_id)
            if not _still_owed(member, team):
                return None
            assert member is not None
            now = self._clock.now()
            today = now.astimezone(ZoneInfo(member.timezone)).date()
            overdue = await uow.digest.overdue_by_manager(team.id, today)
            stuck_rows = await uow.digest.stuck_by_manager(
                team.id,
                [s.value for s in OPEN_LEAD_STAGES],
                now - timedelta(days=team.stuck_lead_days),
            )
            members = await uow.members.of_team(team.id)
        actor = Actor(member, team)
        week, to_date, same_days, month = week_periods(day)
        reports: list[Report] = []
        for period in (week, to_date, same_days, month):
            async with uows() as uow:
                ctx = ServiceContext(
                    uow, self._clock, self._limits, self._rules, reports=self._cache
                )
                reports.append(
                    await PortfolioService(ctx, self._analytics).report(actor, period, None)
                )
        weekly, month_now, month_then, classes = reports
        names = distinct_names(classes.names)
        stuck: dict[int, list[NamedClient]] = {}
        for manager, client in stuck_rows:
            stuck.setdefault(manager, []).append(client)
        return Weekly(
            member=member,
            team=team,
            day=day,
            late=row.late,
            week=week,
            week_before=weekly.previous,
            month=to_date,
            month_before=same_days,
            classes=month,
            classes_before=classes.previous,
            total=Revenue(
                None,
                "",
                weekly.total.now.revenue,
                weekly.total.prev.revenue,
                month_now.total.now.revenue,
                month_then.total.now.revenue,
            ),
            managers=_revenue_lines(weekly, month_now, month_then, names, members),
            moves=[ClassMove(m.id, m.name, m.prev_cell, m.cell) for m in classes.moves],
            shrinking=_shrinking(classes, names),
            overdue=_counts({m: n for m, n in overdue.items() if n}, {}, names),
            stuck=_counts({m: len(c) for m, c in stuck.items()}, stuck, names),
            stuck_days=team.stuck_lead_days,
        )


def _still_owed(member: MemberDTO | None, team: TeamDTO) -> bool:
    """Planned, but is it still owed: the report still on, the recipient still an active,
    reachable owner, or a head while heads get it."""
    if member is None or not member.is_active or member.unreachable_at is not None:
        return False
    if not team.weekly_enabled:
        return False
    return member.role == Role.OWNER or (member.role == Role.HEAD and team.weekly_heads)


def _revenue_lines(
    week: Report,
    month: Report,
    month_before: Report,
    names: dict[int, str],
    members: dict[int, MemberDTO],
) -> list[Revenue]:
    """Per manager, by member id (two people of one name stay two lines): everyone with sales
    in any of the periods, and every active manager even without (a silent week is news)."""
    week_now = {g.key: g.now.revenue for g in week.managers}
    week_prev = {g.key: g.prev.revenue for g in week.managers}
    month_now = {g.key: g.now.revenue for g in month.managers}
    month_prev = {g.key: g.now.revenue for g in month_before.managers}
    keys: set[int] = {
        int(key) for key in (*week_now, *week_prev, *month_now, *month_prev) if isinstance(key, int)
    }
    keys |= {m.id for m in members.values() if m.is_active and m.role == Role.MANAGER}
    lines = [
        Revenue(
            key,
            names.get(key) or (members[key].full_name if key in members else "?"),
            week_now.get(key, ZERO),
            week_prev.get(key, ZERO),
            month_now.get(key, ZERO),
            month_prev.get(key, ZERO),
        )
        for key in keys
    ]
    return sorted(lines, key=lambda r: (-r.week, -r.month, r.name.casefold(), r.member_id or 0))


def distinct_names(names: dict[int, str]) -> dict[int, str]:
    """Member names told apart: a second member of one name is "Name (2)", in id order, as
    the quality chart labels them (bot/telegram/views/portfolio_chart.py)."""
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    for member_id in sorted(names):
        name = names[member_id]
        seen[name] = seen.get(name, 0) + 1
        out[member_id] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return out


def _shrinking(report: Report, names: dict[int, str]) -> list[ShareDrop]:
    """Managers whose A share went down, compared as /portfolio shows the shares (rounded to
    whole percent), the biggest drop first."""
    out: list[ShareDrop] = []
    for q in report.quality:
        after, before = shown(q.now.get("A"), 0), shown(q.prev.get("A"), 0)
        if after is None or before is None or after >= before:
            continue
        out.append(ShareDrop(q.manager_id, names.get(q.manager_id, q.name), before, after))
    return sorted(out, key=lambda d: (d.after - d.before, d.name.casefold(), d.member_id))


def _counts(
    counts: dict[int, int], clients: dict[int, list[NamedClient]], names: dict[int, str]
) -> list[ManagerCount]:
    lines = [
        ManagerCount(member, names.get(member, "?"), n, clients.get(member, [])[:NAMES_PER_MANAGER])
        for member, n in counts.items()
    ]
    return sorted(lines, key=lambda c: (-c.count, c.name.casefold(), c.member_id))


def total_of(lines: Sequence[ManagerCount]) -> int:
    return sum(line.count for line in lines)
