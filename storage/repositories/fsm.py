from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FsmRecord


class FsmRepository:
    """Key-value rows behind the conversation state; knows nothing of aiogram."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        row = await self._session.get(FsmRecord, key)
        if row is None:
            return None, {}
        return row.state, dict(row.data or {})

    async def put(self, key: str, now: datetime, **values: Any) -> None:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        row = {"state": None, "data": {}, **values}
        statement = insert(FsmRecord).values(key=key, updated_at=now, **row)
        statement = statement.on_conflict_do_update(
            index_elements=[FsmRecord.key], set_={**values, "updated_at": now}
        )
        await self._session.execute(statement)

    async def drop(self, key: str) -> None:
        await self._session.execute(delete(FsmRecord).where(FsmRecord.key == key))
