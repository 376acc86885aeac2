"""The morning digest and the nudges: planned as outbox rows, their content loaded when sent.

A digest is keyed by member and local date, so a restart never sends two; after downtime only
today's is planned, and it says since when it covers (the missed days fold into it).
A nudge is keyed by client and the moment its clock started ("episode"): any activity moves
that moment, so the next nudge is a new episode and the old one is never repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from storage.dto import ClientDTO, MemberDTO, TeamDTO
from storage.enums import OPEN_LEAD_STAGES, Role, Stage, Temperature
from storage.models import Client, Member, Team
from storage.repositories.digest import (
    Birthday,
    DayNumbers,
    ManagerLine,
    NamedClient,
    lead_anchor,
)
from storage.repositories.outbox import OutboxRow
from storage.uow import UnitOfWork

DIGEST = "digest"
NUDGE = "nudge"
NOTICE = "notice"
LIST_LIMIT = 10  # names shown per digest section; the count says how many more
# How far back a catch-up digest looks for the last one delivered.
CATCH_UP_DAYS = 31


@dataclass(frozen=True, slots=True)
class Digest:
    member: MemberDTO
    team: TeamDTO
    day: date
    catch_up_since: date | None
    due_today: list[NamedClient]
    overdue: list[NamedClient]
    quiet: list[NamedClient]
    quiet_total: int
    stuck: list[NamedClient]
    stuck_total: int
    birthdays: list[Birthday]
    yesterday: DayNumbers
    team_lines: list[ManagerLine] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.due_today
            or self.overdue
            or self.quiet
            or self.stuck
            or self.birthdays
            or self.yesterday != DayNumbers()
            or any(line.calls or line.overdue or line.deals for line in self.team_lines)
        )


@dataclass(frozen=True, slots=True)
class Nudge:
    member: MemberDTO
    team: TeamDTO
    client: ClientDTO
    step: str  # quiet, cooled, stuck1, stuck2, stuck3
    days: int
    manager_name: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the owner must hear once: e.g. a member blocked the bot."""

    member: MemberDTO  # the recipient
    team: TeamDTO
    subject: str  # the member the notice is about
    step: str


async def plan_unreachable_notices(
    uow: UnitOfWork, team_id: int, member_id: int, now: datetime
) -> None:
    """Tell the team's owners, once per blocking, that reminders to this member are paused."""
    members = await uow.members.of_team(team_id)
    for owner in members.values():
        if owner.role != Role.OWNER or owner.id == member_id or not owner.is_active:
            continue
        await uow.outbox.enqueue(
            team_id=team_id,
            member_id=owner.id,
            kind=NOTICE,
            dedup_key=f"unreachable:{member_id}:{int(now.timestamp())}:{owner.id}",
            due_at=now,
            next_attempt_at=now,
            late=False,
            now=now,
            payload={"step": "unreachable", "subject": member_id},
        )


async def load_notice(uow: UnitOfWork, row: OutboxRow) -> Notice | None:
    member = await uow.members.get(row.team_id, row.member_id)
    payload = row.payload or {}
    subject = await uow.members.get(row.team_id, int(payload.get("subject", 0)))
    if member is None or subject is None or not member.is_active:
        return None
    if subject.unreachable_at is None:
        return None  # they came back before we could say it
    return Notice(member, await uow.teams.get(row.team_id), subject.full_name, str(payload["step"]))


def _next_working_moment(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    local = now.astimezone(zone)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


# -- planning ----------------------------------------------------------------------------------


async def plan_digests(uow: UnitOfWork, now: datetime, *, late_after: timedelta) -> int:
    wanted = []
    for member in await uow.digest.recipients():
        zone = ZoneInfo(member.timezone)
        local = now.astimezone(zone)
        assert isinstance(member.digest_time, time)
        if local.time() < member.digest_time:
            continue
        moment = datetime.combine(local.date(), member.digest_time, tzinfo=zone).astimezone(UTC)
        wanted.append(
            (member, f"{DIGEST}:{member.id}:{local.date().isoformat()}", local.date(), moment)
        )
    planned = 0
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        existing = await uow.digest.existing_keys([key for _, key, _, _ in chunk])
        for member, key, day, moment in chunk:
            if key in existing:
                continue
            await uow.outbox.enqueue(
                team_id=member.team_id,
                member_id=member.id,
                kind=DIGEST,
                dedup_key=key,
                due_at=moment,
                next_attempt_at=now,
                late=now - moment > late_after,
                now=now,
                payload={"day": day.isoformat()},
            )
            planned += 1
    return planned


async def plan_nudges(uow: UnitOfWork, now: datetime) -> int:
    planned = 0
    teams = (await uow.session.execute(select(Team))).scalars().all()
    for team in teams:
        planned += await _plan_team_nudges(uow, team, now)
    return planned


async def _plan_team_nudges(uow: UnitOfWork, team: Team, now: datetime) -> int:
    session = uow.session
    members = {
        m.id: m
        for m in (
            await session.execute(
                select(Member).where(Member.team_id == team.id, Member.is_active.is_(True))
            )
        ).scalars()
    }
    bosses = [m.id for m in members.values() if m.role in (Role.OWNER, Role.HEAD)]
    # client, recipient, step, key, days, episode start (epoch)
    owed: list[tuple[int, int, str, str, int, int]] = []

    async def idle_hot(
        since: ColumnElement[datetime], days: int
    ) -> Sequence[Row[int, int, datetime]]:
        """Hot, active clients whose `since` moment is more than `days` ago."""
        rows = await session.execute(
            select(Client.id, Client.manager_id, since).where(
                Client.team_id == team.id,
                Client.temperature == Temperature.HOT,
                Client.archived_at.is_(None),
                since < now - timedelta(days=days),
            )
        )
        return rows.all()

    quiet_since = func.coalesce(Client.last_contact_at, Client.created_at)
    for client_id, manager_id, anchor in await idle_hot(quiet_since, team.quiet_hot_days):
        key = f"quiet:{client_id}:{_epoch(anchor)}"
        owed.append((client_id, manager_id, "quiet", key, team.quiet_hot_days, _epoch(anchor)))

    cool_since = func.coalesce(Client.last_activity_at, Client.created_at)
    cooled = []
    for client_id, manager_id, anchor in await idle_hot(cool_since, team.hot_to_warm_days):
        cooled.append(client_id)
        for recipient in {manager_id, *bosses}:
            key = f"cooled:{client_id}:{_epoch(anchor)}:{recipient}"
            owed.append(
                (client_id, recipient, "cooled", key, team.hot_to_warm_days, _epoch(anchor))
            )
    if cooled:
        await session.execute(
            update(Client)
            .where(Client.team_id == team.id, Client.id.in_(cooled))
            .values(temperature=Temperature.WARM, updated_at=now)
        )

    lead_since = lead_anchor()
    first = team.stuck_lead_days
    second = first + team.stuck_escalate_days
    third = second + team.stuck_archive_days
    rows = await session.execute(
        select(Client.id, Client.manager_id, lead_since).where(
            Client.team_id == team.id,
            Client.stage.in_(list(OPEN_LEAD_STAGES)),
            Client.archived_at.is_(None),
            lead_since < now - timedelta(days=first),
        )
    )
    archived = []
    for client_id, manager_id, since in rows:
        idle = now - _aware(since)
        epoch = _epoch(since)
        if idle >= timedelta(days=third):
            archived.append(client_id)
            for recipient in {manager_id, *bosses}:
                key = f"stuck3:{client_id}:{epoch}:{recipient}"
                owed.append((client_id, recipient, "stuck3", key, third, epoch))
        elif idle >= timedelta(days=second):
            for recipient in bosses:
                key = f"stuck2:{client_id}:{epoch}:{recipient}"
                owed.append((client_id, recipient, "stuck2", key, second, epoch))
        else:
            owed.append(
                (client_id, manager_id, "stuck1", f"stuck1:{client_id}:{epoch}", first, epoch)
            )
    if archived:
        await session.execute(
            update(Client)
            .where(Client.team_id == team.id, Client.id.in_(archived))
            .values(stage=Stage.LOST, archived_at=now, stage_changed_at=now, updated_at=now)
        )

    planned = 0
    for start in range(0, len(owed), 500):
        chunk = owed[start : start + 500]
        existing = await uow.digest.existing_keys([item[3] for item in chunk])
        for client_id, recipient, step, key, days, episode in chunk:
            member = members.get(recipient)
            if key in existing or member is None or member.unreachable_at is not None:
                continue
            await uow.outbox.enqueue(
                team_id=team.id,
                member_id=recipient,
                kind=NUDGE,
                dedup_key=key,
                due_at=now,
                next_attempt_at=_next_working_moment(
                    now, ZoneInfo(member.timezone), member.work_start, member.work_end
                ),
                late=False,
                now=now,
                client_id=client_id,
                payload={"step": step, "days": days, "episode": episode},
            )
            planned += 1
    return planned


def _aware(moment: datetime) -> datetime:
    # CASE expressions come back untyped on SQLite: a naive string or datetime in UTC.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch(moment: datetime) -> int:
    return int(_aware(moment).timestamp())


# -- content -----------------------------------------------------------------------------------


@dataclass
class _TeamFacts:
    team: TeamDTO
    due: dict[int, list[NamedClient]]
    overdue: dict[int, list[NamedClient]]
    quiet: dict[int, list[NamedClient]]
    stuck: dict[int, list[NamedClient]]
    birthdays: dict[int, list[Birthday]]
    overdue_counts: dict[int, int]
    members: list[tuple[int, str, str]]
    member_rows: dict[int, MemberDTO]
    sent_days: dict[int, list[date]]


class DigestBatch:
    """Team-wide aggregates computed once and shared by every digest built in one sweep, so a
    thousand digests cost a handful of grouped queries, not ten queries each."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._facts: dict[tuple[int, date], _TeamFacts] = {}
        self._numbers: dict[tuple[int, datetime], dict[int, DayNumbers]] = {}

    async def facts(self, uow: UnitOfWork, team_id: int, day: date) -> _TeamFacts:
        key = (team_id, day)
        if key not in self._facts:
            self._facts[key] = await self._load(uow, team_id, day)
        return self._facts[key]

    async def numbers(
        self, uow: UnitOfWork, team_id: int, start: datetime, end: datetime
    ) -> dict[int, DayNumbers]:
        key = (team_id, start)
        if key not in self._numbers:
            self._numbers[key] = await uow.digest.day_numbers(team_id, None, start, end)
        return self._numbers[key]

    async def _load(self, uow: UnitOfWork, team_id: int, day: date) -> _TeamFacts:
        repo, now = uow.digest, self.now
        team = await uow.teams.get(team_id)
        due: dict[int, list[NamedClient]] = {}
        overdue: dict[int, list[NamedClient]] = {}
        for manager, client, due_on in await repo.pending_due_by(team_id, day):
            (due if due_on == day else overdue).setdefault(manager, []).append(client)
        quiet: dict[int, list[NamedClient]] = {}
        for manager, client in await repo.quiet_by_manager(
            team_id, now - timedelta(days=team.quiet_hot_days)
        ):
            quiet.setdefault(manager, []).append(client)
        stuck: dict[int, list[NamedClient]] = {}
        for manager, client in await repo.stuck_by_manager(
            team_id,
            [s.value for s in OPEN_LEAD_STAGES],
            now - timedelta(days=team.stuck_lead_days),
        ):
            stuck.setdefault(manager, []).append(client)
        birthdays: dict[int, list[Birthday]] = {}
        week = [day + timedelta(days=n) for n in range(7)]
        for birthday in await repo.birthdays(team_id, None, week):
            birthdays.setdefault(birthday.manager_id, []).append(birthday)
        return _TeamFacts(
            team=team,
            due=due,
            overdue=overdue,
            quiet=quiet,
            stuck=stuck,
            birthdays=birthdays,
            overdue_counts=await repo.overdue_by_manager(team_id, day),
            members=await repo.team_members(team_id),
            member_rows=await uow.members.of_team(team_id),
            sent_days=await uow.outbox.digest_days(team_id, now - timedelta(days=CATCH_UP_DAYS)),
        )


async def load_digest(
    uow: UnitOfWork, row: OutboxRow, now: datetime, batch: DigestBatch | None = None
) -> Digest | None:
    batch = batch or DigestBatch(now)
    day = date.fromisoformat(str((row.payload or {}).get("day")))
    facts = await batch.facts(uow, row.team_id, day)
    member = facts.member_rows.get(row.member_id)
    if member is None or not member.is_active or member.unreachable_at is not None:
        return None
    zone = ZoneInfo(member.timezone)
    start = datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    numbers = await batch.numbers(uow, row.team_id, start, end)
    lines: list[ManagerLine] = []
    if member.role in (Role.OWNER, Role.HEAD):
        for member_id, name, role in facts.members:
            late = facts.overdue_counts.get(member_id, 0)
            if role == Role.OWNER and member_id != member.id and not late:
                continue
            n = numbers.get(member_id, DayNumbers())
            lines.append(ManagerLine(member_id, name, n.calls, late, n.deals, n.deal_sum))
    earlier = [d for d in facts.sent_days.get(member.id, []) if d < day]
    last_day = max(earlier) if earlier else None
    catch_up = (
        last_day + timedelta(days=1) if last_day and last_day < day - timedelta(days=1) else None
    )
    quiet = facts.quiet.get(member.id, [])
    stuck = facts.stuck.get(member.id, [])
    return Digest(
        member=member,
        team=facts.team,
        day=day,
        catch_up_since=catch_up,
        due_today=facts.due.get(member.id, []),
        overdue=facts.overdue.get(member.id, []),
        quiet=quiet[:LIST_LIMIT],
        quiet_total=len(quiet),
        stuck=stuck[:LIST_LIMIT],
        stuck_total=len(stuck),
        birthdays=facts.birthdays.get(member.id, []),
        yesterday=numbers.get(member.id, DayNumbers()),
        team_lines=lines,
    )


async def load_nudge(uow: UnitOfWork, row: OutboxRow) -> Nudge | None:
    if row.client_id is None:
        return None
    member = await uow.members.get(row.team_id, row.member_id)
    client = await uow.clients.get(row.team_id, row.client_id)
    if member is None or client is None or not member.is_active:
        return None
    payload = row.payload or {}
    step = str(payload.get("step"))
    # Something happened since the nudge was planned: the episode is over, say nothing.
    if step == "quiet" and (
        client.temperature != Temperature.HOT
        or _epoch(client.last_contact_at or client.created_at) != payload.get("episode")
    ):
        return None
    if step in ("stuck1", "stuck2"):
        since = max(client.stage_changed_at, client.last_activity_at or client.stage_changed_at)
        if client.archived_at or client.stage not in OPEN_LEAD_STAGES:
            return None
        if _epoch(since) != payload.get("episode"):
            return None
    names = await uow.members.names(row.team_id, {client.manager_id})
    return Nudge(
        member=member,
        team=await uow.teams.get(row.team_id),
        client=client,
        step=step,
        days=int((row.payload or {}).get("days", 0)),
        manager_name=names.get(client.manager_id, ""),
    )
