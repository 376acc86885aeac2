"""The outbox: rows of messages owed, claimed under a lease, marked when delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Client, Followup, Member, OutboxMessage
from storage.repositories.columns import rowcount


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    team_id: int
    member_id: int
    kind: str
    followup_id: int | None
    due_at: datetime
    attempts: int
    late: bool
    client_id: int | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DueFollowup:
    """A pending follow-up whose moment has come, with what planning its push needs."""

    followup_id: int
    team_id: int
    member_id: int
    due_at: datetime
    date_only: bool
    timezone: str
    work_start: object
    work_end: object


# The reason recorded on rows dropped because the member blocked the bot.
BLOCKED = "blocked by the member"

_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.team_id,
    OutboxMessage.member_id,
    OutboxMessage.kind,
    OutboxMessage.followup_id,
    OutboxMessage.due_at,
    OutboxMessage.attempts,
    OutboxMessage.late,
    OutboxMessage.client_id,
    OutboxMessage.payload,
)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def due_followups_unplanned(self, now: datetime, limit: int) -> list[DueFollowup]:
        """Pending follow-ups due by `now` that have no outbox row for this due moment yet."""
        planned = exists().where(
            OutboxMessage.followup_id == Followup.id, OutboxMessage.due_at == Followup.due_at
        )
        rows = await self._session.execute(
            select(
                Followup.id,
                Followup.team_id,
                Followup.manager_id,
                Followup.due_at,
                Followup.date_only,
                Member.timezone,
                Member.work_start,
                Member.work_end,
            )
            .join(Member, Member.id == Followup.manager_id)
            .join(Client, Client.id == Followup.client_id)
            .where(
                Followup.state == "pending",
                Followup.due_at <= now,
                Member.is_active.is_(True),
                Member.unreachable_at.is_(None),
                Client.archived_at.is_(None),
                ~planned,
            )
            .order_by(Followup.due_at)
            .limit(limit)
        )
        return [DueFollowup(*row) for row in rows]

    async def enqueue(
        self,
        *,
        team_id: int,
        member_id: int,
        kind: str,
        dedup_key: str,
        due_at: datetime,
        next_attempt_at: datetime,
        late: bool,
        now: datetime,
        followup_id: int | None = None,
        client_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Insert unless a row with this key exists: planning twice, or on two instances, is
        harmless."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(OutboxMessage)
            .values(
                team_id=team_id,
                member_id=member_id,
                kind=kind,
                dedup_key=dedup_key,
                followup_id=followup_id,
                client_id=client_id,
                payload=payload,
                due_at=due_at,
                next_attempt_at=next_attempt_at,
                state="pending",
                attempts=0,
                late=late,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.dedup_key])
        )
        await self._session.execute(statement)

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxRow]:
        """Take up to `limit` due rows for `owner` until the lease runs out. Two instances
        never get the same row; a row whose holder died is taken again once its lease expires."""
        claimable = and_(
            OutboxMessage.state == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )
        pick = (
            select(OutboxMessage.id)
            .where(claimable)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        chosen: Any = pick.scalar_subquery()
        if self._session.get_bind().dialect.name == "postgresql":
            # Materialised once: as a plain `IN (subquery)` PostgreSQL may run the LIMIT ...
            # SKIP LOCKED subquery again per row and claim more than `limit` rows (seen in
            # tests: limit 1 took 2), so that one instance grabs a batch it cannot send before
            # the lease runs out.
            cte = pick.with_for_update(skip_locked=True).cte("pick").prefix_with("MATERIALIZED")
            chosen = select(cte.c.id)
        statement = (
            update(OutboxMessage)
            # The condition is repeated in the UPDATE itself: on SQLite this one statement is
            # the whole claim, and a row taken meanwhile by someone else no longer matches.
            .where(OutboxMessage.id.in_(chosen), claimable)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(*_COLUMNS)
        )
        rows = await self._session.execute(statement)
        return sorted((OutboxRow(*row) for row in rows), key=lambda r: (r.due_at, r.id))

    async def mark_sent(
        self, row_id: int, owner: str, now: datetime, message_id: int | None
    ) -> bool:
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
            .values(
                state="sent",
                sent_at=now,
                telegram_message_id=message_id,
                lease_owner=None,
                lease_until=None,
                attempts=OutboxMessage.attempts + 1,
            )
        )
        return rowcount(result) == 1

    async def retry_later(
        self, row_id: int, owner: str, next_attempt_at: datetime, error: str | None
    ) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
            .values(
                next_attempt_at=next_attempt_at,
                lease_owner=None,
                lease_until=None,
                attempts=OutboxMessage.attempts + 1,
                last_error=(error or "")[:200] or None,
            )
        )

    async def drop(self, row_id: int, owner: str, reason: str) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == owner)
            .values(state="dropped", lease_owner=None, lease_until=None, last_error=reason[:200])
        )

    async def drop_pending_for_member(self, member_id: int, reason: str) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.state == "pending")
            .values(state="dropped", lease_owner=None, lease_until=None, last_error=reason[:200])
        )

    async def reopen_blocked(self, member_id: int, now: datetime) -> None:
        """The member unblocked the bot: what was dropped because of the block is owed again."""
        await self._session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.member_id == member_id,
                OutboxMessage.state == "dropped",
                OutboxMessage.last_error == BLOCKED,
            )
            .values(state="pending", next_attempt_at=now, late=True, last_error=None)
        )

    async def release(self, owner: str) -> int:
        """Give back the rows `owner` claimed but did not finish (a graceful shutdown): they are
        pending again at once instead of waiting for the lease to run out."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.lease_owner == owner, OutboxMessage.state == "pending")
            .values(lease_owner=None, lease_until=None)
        )
        return rowcount(result)

    async def backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Pending rows that may be sent now, and the due moment of the oldest pending row that
        has come due (also counting rows waiting for a retry): what /metrics reports."""
        ready = await self._session.execute(
            select(func.count()).where(
                OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now
            )
        )
        oldest = await self._session.execute(
            select(func.min(OutboxMessage.due_at)).where(
                OutboxMessage.state == "pending", OutboxMessage.due_at <= now
            )
        )
        return int(ready.scalar_one()), oldest.scalar_one()

    async def digest_days(self, team_id: int, since: datetime) -> dict[int, list[date]]:
        """Local dates of the digests delivered to each member of a team since `since`."""
        rows = await self._session.execute(
            select(OutboxMessage.member_id, OutboxMessage.payload).where(
                OutboxMessage.team_id == team_id,
                OutboxMessage.kind == "digest",
                OutboxMessage.state == "sent",
                OutboxMessage.due_at >= since,
            )
        )
        days: dict[int, list[date]] = {}
        for member_id, payload in rows:
            days.setdefault(member_id, []).append(date.fromisoformat(str((payload or {})["day"])))
        return days
