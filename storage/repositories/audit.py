from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, distinct, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hot import HotStatement
from storage.models import AuditEntry, AuditFoundClient, Client, Member
from storage.sqlite_driver import quick

_ADD = HotStatement(quick(insert(AuditEntry.__table__)))
_ADD_RETURNING_ID = quick(insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id))
_AUDIT_LOG = AuditEntry.__table__
_AUDIT = _AUDIT_LOG.c
_LAST_ALERT = (
    select(func.max(_AUDIT.created_at).label("at"))
    .where(_AUDIT.actor_id == bindparam("actor_id"), _AUDIT.action == bindparam("alert"))
    .subquery("last_alert")
)
# Cards opened and exports made since `since`, or since the last alert if that came later:
# one statement (the alarm runs after every card view), the alert's time read inside it.
_VIEWING = HotStatement(
    select(
        func.count(distinct(case((_AUDIT.action == "card_view", _AUDIT.client_id)))),
        func.count(case((_AUDIT.action == "export", _AUDIT.id))),
    )
    .select_from(_LAST_ALERT)
    .join(
        _AUDIT_LOG,
        and_(
            _AUDIT.actor_id == bindparam("actor_id"),
            _AUDIT.created_at >= bindparam("since"),
            or_(_AUDIT.action == "card_view", _AUDIT.action == "export"),
            # The alert reported what came up to it (to the microsecond, as times are kept).
            or_(
                _LAST_ALERT.c.at.is_(None),
                _LAST_ALERT.c.at <= bindparam("since"),
                _AUDIT.created_at > _LAST_ALERT.c.at,
            ),
        ),
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

    async def viewing_since(self, actor_id: int, since: datetime, alert: str) -> tuple[int, int]:
        """(distinct clients whose card the member opened, exports they made) since `since`,
        or since just after the member's last `alert` row if that came later."""
        row = await _VIEWING.first(
            self._session, {"actor_id": actor_id, "since": since, "alert": alert}
        )
        assert row is not None  # an aggregate without GROUP BY: always one row
        return int(row[0] or 0), int(row[1] or 0)
