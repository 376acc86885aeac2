"""The morning digest and the nudges: planned as outbox rows, their content loaded when sent.

A digest is keyed by member and local date, so a restart never sends two; after downtime only
today's is planned, and it says since when it covers (the missed days fold into it).
A nudge is keyed by client and the moment its clock started ("episode"): any activity moves
that moment, so the next nudge is a new episode and the old one is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.dto import ClientDTO, MemberDTO, TeamDTO
from storage.enums import OPEN_LEAD_STAGES, Role, Temperature
from storage.repositories.digest import (
    Birthday,
    DayNumbers,
    DigestMember,
    IdleClient,
    ManagerLine,
    NamedClient,
    TeamMemberLine,
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


@dataclass(frozen=True, slots=True)
class _DueDigest:
    member: DigestMember
    key: str  # the outbox dedup key: one digest per member and local day
    day: date
    moment: datetime  # the member's digest time that day, UTC


async def plan_digests(uow: UnitOfWork, now: datetime, *, late_after: timedelta) -> int:
    wanted: list[_DueDigest] = []
    for member in await uow.digest.recipients():
        zone = ZoneInfo(member.timezone)
        local = now.astimezone(zone)
        if local.time() < member.digest_time:
            continue
        day = local.date()
        moment = datetime.combine(day, member.digest_time, tzinfo=zone).astimezone(UTC)
        wanted.append(_DueDigest(member, f"{DIGEST}:{member.id}:{day.isoformat()}", day, moment))
    planned = 0
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        existing = await uow.digest.existing_keys([due.key for due in chunk])
        for due in chunk:
            if due.key in existing:
                continue
            await uow.outbox.enqueue(
                team_id=due.member.team_id,
                member_id=due.member.id,
                kind=DIGEST,
                dedup_key=due.key,
                due_at=due.moment,
                next_attempt_at=now,
                late=now - due.moment > late_after,
                now=now,
                payload={"day": due.day.isoformat()},
            )
            planned += 1
    return planned


@dataclass(frozen=True, slots=True)
class OwedNudge:
    """A nudge a rule says is owed: to whom, about which client, and since when."""

    client_id: int
    recipient_id: int
    step: str  # quiet, cooled, stuck1, stuck2, stuck3
    key: str  # the outbox dedup key: one nudge per client, episode (and recipient)
    days: int  # the rule's threshold, told in the text
    episode: int  # the moment its clock started, epoch seconds


async def plan_nudges(uow: UnitOfWork, now: datetime) -> int:
    planned = 0
    for team in await uow.digest.teams():
        planned += await _plan_team_nudges(uow, team, now)
    return planned


def _owed_nudges(
    team: TeamDTO,
    bosses: list[int],
    quiet: list[IdleClient],
    cooled: list[IdleClient],
    stuck: list[IdleClient],
    now: datetime,
) -> tuple[list[OwedNudge], list[int]]:
    """What the team's rules owe for its idle clients, and which stuck leads go to the archive."""
    owed: list[OwedNudge] = []
    for client in quiet:
        epoch = _epoch(client.since)
        key = f"quiet:{client.id}:{epoch}"
        owed.append(
            OwedNudge(client.id, client.manager_id, "quiet", key, team.quiet_hot_days, epoch)
        )
    for client in cooled:
        epoch = _epoch(client.since)
        for recipient in {client.manager_id, *bosses}:
            key = f"cooled:{client.id}:{epoch}:{recipient}"
            owed.append(
                OwedNudge(client.id, recipient, "cooled", key, team.hot_to_warm_days, epoch)
            )
    first = team.stuck_lead_days
    second = first + team.stuck_escalate_days
    third = second + team.stuck_archive_days
    archived: list[int] = []
    for client in stuck:
        idle = now - client.since
        epoch = _epoch(client.since)
        if idle >= timedelta(days=third):
            archived.append(client.id)
            for recipient in {client.manager_id, *bosses}:
                key = f"stuck3:{client.id}:{epoch}:{recipient}"
                owed.append(OwedNudge(client.id, recipient, "stuck3", key, third, epoch))
        elif idle >= timedelta(days=second):
            for recipient in bosses:
                key = f"stuck2:{client.id}:{epoch}:{recipient}"
                owed.append(OwedNudge(client.id, recipient, "stuck2", key, second, epoch))
        else:
            key = f"stuck1:{client.id}:{epoch}"
            owed.append(OwedNudge(client.id, client.manager_id, "stuck1", key, first, epoch))
    return owed, archived


async def _plan_team_nudges(uow: UnitOfWork, team: TeamDTO, now: datetime) -> int:
    repo = uow.digest
    members = {m.id: m for m in (await uow.members.of_team(team.id)).values() if m.is_active}
    bosses = [m.id for m in members.values() if m.role in (Role.OWNER, Role.HEAD)]
    quiet = await repo.quiet_hot(team.id, now - timedelta(days=team.quiet_hot_days))
    cooled = await repo.cooling_hot(team.id, now - timedelta(days=team.hot_to_warm_days))
    await repo.cool_down(team.id, [client.id for client in cooled], now)
    stuck = await repo.idle_leads(
        team.id, list(OPEN_LEAD_STAGES), now - timedelta(days=team.stuck_lead_days)
    )
    owed, archived = _owed_nudges(team, bosses, quiet, cooled, stuck, now)
    await repo.archive_lost(team.id, archived, now)

    planned = 0
    for start in range(0, len(owed), 500):
        chunk = owed[start : start + 500]
        existing = await repo.existing_keys([nudge.key for nudge in chunk])
        for nudge in chunk:
            member = members.get(nudge.recipient_id)
            if nudge.key in existing or member is None or member.unreachable_at is not None:
                continue
            await uow.outbox.enqueue(
                team_id=team.id,
                member_id=nudge.recipient_id,
                kind=NUDGE,
                dedup_key=nudge.key,
                due_at=now,
                next_attempt_at=_next_working_moment(
                    now, ZoneInfo(member.timezone), member.work_start, member.work_end
                ),
                late=False,
                now=now,
                client_id=nudge.client_id,
                payload={"step": nudge.step, "days": nudge.days, "episode": nudge.episode},
            )
            planned += 1
    return planned


def _epoch(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


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
    members: list[TeamMemberLine]
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
        for other in facts.members:
            late = facts.overdue_counts.get(other.id, 0)
            if other.role == Role.OWNER and other.id != member.id and not late:
                continue
            n = numbers.get(other.id, DayNumbers())
            lines.append(ManagerLine(other.id, other.full_name, n.calls, late, n.deals, n.deal_sum))
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
