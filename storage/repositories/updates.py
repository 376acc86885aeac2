"""Telegram update ids already taken by some instance: a redelivered update is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hot import HotStatement
from storage.models import ProcessedUpdate
from storage.repositories.columns import rowcount
from storage.sqlite_driver import quick

_UPDATES = ProcessedUpdate.__table__
# Built once per dialect: the statement every update from Telegram starts with. It returns a
# row only when it inserted one.
_CLAIM = {
    name: HotStatement(
        quick(
            dialect.insert(_UPDATES)
            .values(update_id=bindparam("update_id"), received_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=[_UPDATES.c.update_id])
            .returning(_UPDATES.c.update_id)
        )
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class ProcessedUpdateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record `update_id`; False if it was already recorded.

        On PostgreSQL a concurrent claim of the same id by another transaction waits until that
        transaction ends: the loser sees the row if the winner commits, and takes over if the
        winner rolls back.
        """
        statement = _CLAIM[self._session.get_bind().dialect.name]
        return bool(await statement.rows(self._session, {"update_id": update_id, "now": now}))

    async def prune(self, before: datetime) -> int:
        """Forget ids received before `before`: Telegram redelivers for at most a day."""
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
        )
        return rowcount(result)
