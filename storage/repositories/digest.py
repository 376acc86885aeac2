"""Aggregates for the morning digest and the nudges: counted in the database, not in Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import and_, case, extract, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.dto import TeamDTO, to_dto
from storage.enums import Stage, Temperature
from storage.models import (
    Activity,
    Client,
    ClientContact,
    Deal,
    Followup,
    Member,
    OutboxMessage,
    Team,
)
from storage.types import Money


@dataclass(frozen=True, slots=True)
class DigestMember:
    id: int
    team_id: int
    role: str
    timezone: str
    digest_time: time
    work_start: time


@dataclass(frozen=True, slots=True)
class WeeklyRecipient:
    """An active, reachable owner or head of a team whose weekly report is on, with the
    team's choice of day and time and since when the report is owed."""

    id: int
    team_id: int
    role: str
    timezone: str
    digest_time: time
    weekly_day: int
    weekly_time: time | None
    weekly_heads: bool
    since: datetime  # aware UTC: the later of the team's creation and the report's turning on


@dataclass(frozen=True, slots=True)
class NamedClient:
    id: int
    name: str
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Birthday:
    client_id: int
    client_name: str
    person: str | None  # a contact person's name, None for the client themself
    day: date
    manager_id: int = 0


@dataclass(frozen=True, slots=True)
class DayNumbers:
    calls: int = 0
    meetings: int = 0
    deals: int = 0
    deal_sum: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ManagerLine:
    member_id: int
    name: str
    calls: int
    overdue: int
    deals: int
    deal_sum: Decimal


@dataclass(frozen=True, slots=True)
class TeamMemberLine:
    id: int
    full_name: str
    role: str


@dataclass(frozen=True, slots=True)
class IdleClient:
    """A client whose clock has run since `since` (aware UTC): the start of its episode."""

    id: int
    manager_id: int
    since: datetime


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def recipients(self) -> list[DigestMember]:
        rows = await self._session.execute(
            select(
                Member.id,
                Member.team_id,
                Member.role,
                Member.timezone,
                Member.digest_time,
                Member.work_start,
            ).where(Member.is_active.is_(True), Member.unreachable_at.is_(None))
        )
        return [DigestMember(*row) for row in rows]

    async def weekly_recipients(self) -> list[WeeklyRecipient]:
        rows = await self._session.execute(
            select(
                Member.id,
                Member.team_id,
                Member.role,
                Member.timezone,
                Member.digest_time,
                Team.weekly_day,
                Team.weekly_time,
                Team.weekly_heads,
                Team.created_at,
                Team.weekly_since,
            )
            .join(Team, Team.id == Member.team_id)
            .where(
                Team.weekly_enabled.is_(True),
                Member.is_active.is_(True),
                Member.unreachable_at.is_(None),
                or_(
                    Member.role == "owner",
                    and_(Member.role == "head", Team.weekly_heads.is_(True)),
                ),
            )
        )
        out: list[WeeklyRecipient] = []
        for member, team, role, zone, digest, day, at, heads, created, turned_on in rows:
            since = _utc(created) if turned_on is None else max(_utc(created), _utc(turned_on))
            out.append(WeeklyRecipient(member, team, role, zone, digest, day, at, heads, since))
        return out

    async def teams(self) -> list[TeamDTO]:
        return [to_dto(TeamDTO, team) for team in await self._session.scalars(select(Team))]

    async def quiet_hot(self, team_id: int, before: datetime) -> list[IdleClient]:
        """Hot, active clients nobody has talked to since before `before`."""
        return await self._idle_hot(
            team_id, func.coalesce(Client.last_contact_at, Client.created_at), before
        )

    async def cooling_hot(self, team_id: int, before: datetime) -> list[IdleClient]:
        """Hot, active clients with no activity of any kind since before `before`."""
        return await self._idle_hot(
            team_id, func.coalesce(Client.last_activity_at, Client.created_at), before
        )

    async def _idle_hot(
        self, team_id: int, since: ColumnElement[datetime], before: datetime
    ) -> list[IdleClient]:
        rows = await self._session.execute(
            select(Client.id, Client.manager_id, since).where(
                Client.team_id == team_id,
                Client.temperature == Temperature.HOT,
                Client.archived_at.is_(None),
                since < before,
            )
        )
        return [IdleClient(cid, manager, _utc(moment)) for cid, manager, moment in rows]

    async def idle_leads(
        self, team_id: int, stages: Sequence[str], before: datetime
    ) -> list[IdleClient]:
        """Active leads in `stages` that have not moved (stage or activity) since `before`."""
        anchor = lead_anchor()
        rows = await self._session.execute(
            select(Client.id, Client.manager_id, anchor).where(
                Client.team_id == team_id,
                Client.stage.in_(list(stages)),
                Client.archived_at.is_(None),
                anchor < before,
            )
        )
        return [IdleClient(cid, manager, _utc(moment)) for cid, manager, moment in rows]

    async def cool_down(self, team_id: int, client_ids: Sequence[int], now: datetime) -> None:
        """Hot clients left alone too long become warm."""
        if client_ids:
            await self._session.execute(
                update(Client)
                .where(Client.team_id == team_id, Client.id.in_(list(client_ids)))
                .values(temperature=Temperature.WARM, updated_at=now)
            )

    async def archive_lost(self, team_id: int, client_ids: Sequence[int], now: datetime) -> None:
        """Leads stuck past every reminder are closed as lost and archived."""
        if client_ids:
            await self._session.execute(
                update(Client)
                .where(Client.team_id == team_id, Client.id.in_(list(client_ids)))
                .values(stage=Stage.LOST, archived_at=now, stage_changed_at=now, updated_at=now)
            )

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self._session.scalars(
            select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(list(keys)))
        )
        return set(rows)

    async def pending_due_by(self, team_id: int, day: date) -> list[tuple[int, NamedClient, date]]:
        """(manager, client, due day) of every pending follow-up due by `day`, in due order."""
        rows = await self._session.execute(
            select(Followup.manager_id, Client.id, Client.name, Followup.due_on)
            .join(Client, Client.id == Followup.client_id)
            .where(
                Followup.team_id == team_id,
                Followup.state == "pending",
                Followup.due_on <= day,
            )
            .order_by(Followup.due_on, Followup.due_at)
        )
        return [(manager, NamedClient(cid, name), due_on) for manager, cid, name, due_on in rows]

    async def quiet_by_manager(
        self, team_id: int, before: datetime
    ) -> list[tuple[int, NamedClient]]:
        last = func.coalesce(Client.last_contact_at, Client.created_at)
        rows = await self._session.execute(
            select(Client.manager_id, Client.id, Client.name)
            .where(
                Client.team_id == team_id,
                Client.temperature == "hot",
                Client.archived_at.is_(None),
                last < before,
            )
            .order_by(last)
        )
        return [(manager, NamedClient(cid, name)) for manager, cid, name in rows]

    async def stuck_by_manager(
        self, team_id: int, stages: Sequence[str], before: datetime
    ) -> list[tuple[int, NamedClient]]:
        anchor = lead_anchor()
        rows = await self._session.execute(
            select(Client.manager_id, Client.id, Client.name)
            .where(
                Client.team_id == team_id,
                Client.stage.in_(list(stages)),
                Client.archived_at.is_(None),
                anchor < before,
            )
            .order_by(anchor)
        )
        return [(manager, NamedClient(cid, name)) for manager, cid, name in rows]

    async def birthdays(
        self, team_id: int, manager_id: int | None, days: Sequence[date]
    ) -> list[Birthday]:
        """Birthdays of clients and their contact people falling on any of `days`."""
        out: list[Birthday] = []
        pairs = {(d.month, d.day): d for d in days}
        month_day = [
            and_(extract("month", column) == m, extract("day", column) == d)
            for column in (Client.birthday,)
            for (m, d) in pairs
        ]
        scope = [Client.team_id == team_id, Client.archived_at.is_(None)]
        if manager_id is not None:
            scope.append(Client.manager_id == manager_id)
        rows = await self._session.execute(
            select(Client.id, Client.name, Client.birthday, Client.manager_id).where(
                *scope, or_(*month_day)
            )
        )
        for client_id, name, birthday, manager in rows:
            assert birthday is not None  # the query matched its month and day
            day = pairs[(birthday.month, birthday.day)]
            out.append(Birthday(client_id, name, None, day, manager))
        contact_day = [
            and_(
                extract("month", ClientContact.birthday) == m,
                extract("day", ClientContact.birthday) == d,
            )
            for (m, d) in pairs
        ]
        contacts = await self._session.execute(
            select(
                Client.id,
                Client.name,
                ClientContact.name,
                ClientContact.birthday,
                Client.manager_id,
            )
            .join(Client, Client.id == ClientContact.client_id)
            .where(*scope, or_(*contact_day))
        )
        for client_id, name, person, birthday, manager in contacts:
            assert birthday is not None  # the query matched its month and day
            day = pairs[(birthday.month, birthday.day)]
            out.append(Birthday(client_id, name, person, day, manager))
        return sorted(out, key=lambda b: (b.day, b.client_name))

    async def day_numbers(
        self, team_id: int, author_ids: Sequence[int] | None, start: datetime, end: datetime
    ) -> dict[int, DayNumbers]:
        """Calls, meetings and deals logged in [start, end), per author (or manager for deals)."""
        activity_filter = [
            Activity.team_id == team_id,
            Activity.occurred_at >= start,
            Activity.occurred_at < end,
        ]
        if author_ids is not None:
            activity_filter.append(Activity.author_id.in_(list(author_ids)))
        rows = await self._session.execute(
            select(
                Activity.author_id,
                func.sum(case((Activity.kind == "call", 1), else_=0)),
                func.sum(case((Activity.kind == "meeting", 1), else_=0)),
            )
            .where(*activity_filter)
            .group_by(Activity.author_id)
        )
        counts = {author: (int(calls or 0), int(meetings or 0)) for author, calls, meetings in rows}
        deal_filter = [
            Deal.team_id == team_id,
            Deal.created_at >= start,
            Deal.created_at < end,
        ]
        if author_ids is not None:
            deal_filter.append(Deal.manager_id.in_(list(author_ids)))
        rows = await self._session.execute(
            select(Deal.manager_id, func.count(), func.sum(Deal.amount, type_=Money()))
            .where(*deal_filter)
            .group_by(Deal.manager_id)
        )
        deals = {manager: (int(n), total or Decimal(0)) for manager, n, total in rows}
        out: dict[int, DayNumbers] = {}
        for member in set(counts) | set(deals):
            calls, meetings = counts.get(member, (0, 0))
            n, total = deals.get(member, (0, Decimal(0)))
            out[member] = DayNumbers(calls, meetings, n, total)
        return out

    async def overdue_by_manager(self, team_id: int, today: date) -> dict[int, int]:
        rows = await self._session.execute(
            select(Followup.manager_id, func.count())
            .where(
                Followup.team_id == team_id,
                Followup.state == "pending",
                Followup.due_on < today,
            )
            .group_by(Followup.manager_id)
        )
        return {manager: int(n) for manager, n in rows}

    async def team_members(self, team_id: int) -> list[TeamMemberLine]:
        """The active members, by name: the lines of an owner's or head's digest."""
        rows = await self._session.execute(
            select(Member.id, Member.full_name, Member.role)
            .where(Member.team_id == team_id, Member.is_active.is_(True))
            .order_by(Member.full_name)
        )
        return [TeamMemberLine(member_id, name, role) for member_id, name, role in rows]


def lead_anchor() -> ColumnElement[datetime]:
    """Since when a lead has not moved: the later of its stage change and its last activity."""
    last = func.coalesce(Client.last_activity_at, Client.stage_changed_at)
    return case((last > Client.stage_changed_at, last), else_=Client.stage_changed_at)


def _utc(moment: datetime | str) -> datetime:
    # CASE expressions come back untyped on SQLite: a naive string or datetime in UTC.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
