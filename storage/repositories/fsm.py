from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FsmRecord
from storage.sqlite_driver import quick

_FSM = FsmRecord.__table__
_GET = select(_FSM.c.state, _FSM.c.data).where(_FSM.c.key == bindparam("key"))
_DROP = quick(delete(_FSM).where(_FSM.c.key == bindparam("key")))


class FsmRepository:
    """Key-value rows behind the conversation state; knows nothing of aiogram."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        row = (await self._session.execute(_GET, {"key": key})).first()
        if row is None:
            return None, {}
        return row.state, dict(row.data or {})

    async def put(self, key: str, now: datetime, **values: Any) -> None:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        row = {"state": None, "data": {}, **values}
        statement = insert(_FSM).values(key=key, updated_at=now, **row)
        statement = statement.on_conflict_do_update(
            index_elements=[_FSM.c.key], set_={**values, "updated_at": now}
        )
        await self._session.execute(quick(statement))

    async def drop(self, key: str) -> None:
        await self._session.execute(_DROP, {"key": key})
