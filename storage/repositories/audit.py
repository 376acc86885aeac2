from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


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
    ) -> None:
        self._session.add(
            AuditEntry(
                team_id=team_id,
                actor_id=actor_id,
                action=action,
                client_id=client_id,
                details=details,
                created_at=now,
            )
        )
        await self._session.flush()
