from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, distinct, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hot import HotStatement
from storage.models import AuditEntry, AuditFoundClient, Client, Member
from storage.sqlite_driver import quick

_ADD = HotStatement(quick(insert(AuditEntry.__table__)))
_ADD_RETURNING_ID = quick(insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id))
# Every card opened runs these two (bot/services/watch.py): prepared, and one read for both
# counts (the actor_id, created_at index; the action is checked on the rows it finds).
_SINCE = (AuditEntry.actor_id == bindparam("actor_id"), AuditEntry.created_at >= bindparam("since"))
_ACTIVITY_SINCE = HotStatement(
    select(
        func.count(distinct(case((AuditEntry.action == "card_view", AuditEntry.client_id)))),
        func.count(case((AuditEntry.action == "export", 1))),
    ).where(*_SINCE, or_(AuditEntry.action == "card_view", AuditEntry.action == "export"))
)
_LAST_BY = HotStatement(
    select(func.max(AuditEntry.created_at)).where(
        AuditEntry.actor_id == bindparam("actor_id"), AuditEntry.action == bindparam("action")
    )
)


@dataclass(frozen=True, slots=True)
class AuditLine:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    client_id: int | None
    client_name: str | None
    client_erased: bool
    details: dict[str, Any]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        team_id: int,
        actor_id: int | None,
        action: str,
        now: datetime,
        client_id: int | None = None,
        details: dict[str, Any] | None = None,
        found: Iterable[int] = (),
    ) -> None:
        """`found`: the clients a lookup found, for `/forget` to erase its query by."""
        values = {
            "team_id": team_id,
            "actor_id": actor_id,
            "action": action,
            "client_id": client_id,
            "details": details,
            "created_at": now,
        }
        client_ids = list(dict.fromkeys(found))
        if not client_ids:
            await _ADD.rows(self._session, values)
            return
        audit_id = (await self._session.execute(_ADD_RETURNING_ID, values)).scalar_one()
        await self._session.execute(
            insert(AuditFoundClient), [{"audit_id": audit_id, "client_id": c} for c in client_ids]
        )

    async def page(
        self,
        team_id: int,
        *,
        actor_id: int | None,
        actions: Sequence[str],
        since: datetime | None,
        until: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[list[AuditLine], int]:
        """Newest first, with the client's current name and whether it was erased."""
        conditions = [AuditEntry.team_id == team_id]
        if actor_id is not None:
            conditions.append(AuditEntry.actor_id == actor_id)
        if actions:
            conditions.append(AuditEntry.action.in_(list(actions)))
        if since is not None:
            conditions.append(AuditEntry.created_at >= since)
        if until is not None:
            conditions.append(AuditEntry.created_at < until)
        total = await self._session.scalar(
            select(func.count()).select_from(AuditEntry).where(*conditions)
        )
        rows = await self._session.execute(
            select(
                AuditEntry.id,
                AuditEntry.created_at,
                AuditEntry.actor_id,
                Member.full_name,
                AuditEntry.action,
                AuditEntry.client_id,
                Client.name,
                Client.erased_at,
                AuditEntry.details,
            )
            .outerjoin(Member, Member.id == AuditEntry.actor_id)
            .outerjoin(Client, Client.id == AuditEntry.client_id)
            .where(*conditions)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .offset(offset)
            .limit(limit)
        )
        lines = [
            AuditLine(
                id=row.id,
                at=row.created_at,
                actor_id=row.actor_id,
                actor_name=row.full_name,
                action=row.action,
                client_id=row.client_id,
                client_name=row.name,
                client_erased=row.erased_at is not None,
                details=dict(row.details or {}),
            )
            for row in rows
        ]
        return lines, int(total or 0)

    async def activity_since(self, actor_id: int, since: datetime) -> tuple[int, int]:
        """(distinct clients whose card the member opened, exports they made) since then."""
        row = await _ACTIVITY_SINCE.first(self._session, {"actor_id": actor_id, "since": since})
        cards, exports = row if row is not None else (0, 0)
        return int(cards or 0), int(exports or 0)

    async def last_by(self, actor_id: int, action: str) -> datetime | None:
        """When the member last did `action` (uses the actor_id, created_at index)."""
        row = await _LAST_BY.first(self._session, {"actor_id": actor_id, "action": action})
        return row[0] if row is not None else None
