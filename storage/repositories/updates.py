"""Telegram update ids already taken by some instance: a redelivered update is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


class ProcessedUpdateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record `update_id`; False if it was already recorded.

        On PostgreSQL a concurrent claim of the same id by another transaction waits until that
        transaction ends: the loser sees the row if the winner commits, and takes over if the
        winner rolls back.
        """
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(ProcessedUpdate)
            .values(update_id=update_id, received_at=now)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        )
        result = await self._session.execute(statement)
        return result.rowcount == 1

    async def prune(self, before: datetime) -> int:
        """Forget ids received before `before`: Telegram redelivers for at most a day."""
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
        )
        return result.rowcount or 0
