from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hot import HotStatement
from storage.models import FsmRecord
from storage.sqlite_driver import quick

_FSM = FsmRecord.__table__
# First key of the advisory lock `hold_member` takes (the import's is 7301).
MEMBER_LOCK_NAMESPACE = 7302
_GET = HotStatement(select(_FSM.c.state, _FSM.c.data).where(_FSM.c.key == bindparam("key")))
_DROP = HotStatement(quick(delete(_FSM).where(_FSM.c.key == bindparam("key"))))


def _upsert(dialect: Any, written: tuple[str, ...]) -> HotStatement:
    """INSERT the row, or UPDATE only the `written` fields (and the time) of the one there."""
    insert = dialect.insert(_FSM)
    return HotStatement(
        quick(
            insert.on_conflict_do_update(
                index_elements=[_FSM.c.key],
                set_={
                    **{name: insert.excluded[name] for name in written},
                    "updated_at": insert.excluded.updated_at,
                },
            )
        )
    )


# Built once per dialect and per set of fields written: state, data, or both.
_PUT: dict[tuple[str, tuple[str, ...]], HotStatement] = {
    (name, written): _upsert(dialect, written)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    for written in (("data",), ("state",), ("data", "state"))
}


class FsmRepository:
    """Key-value rows behind the conversation state; knows nothing of aiogram."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        row = await _GET.first(self._session, {"key": key})
        if row is None:
            return None, {}
        state, data = row
        return state, dict(data or {})

    async def put(self, key: str, now: datetime, **values: Any) -> None:
        dialect = self._session.get_bind().dialect.name
        statement = _PUT[dialect, tuple(sorted(values))]
        row = {"state": None, "data": {}, **values}
        await statement.rows(self._session, {"key": key, "updated_at": now, **row})

    async def drop(self, key: str) -> None:
        await _DROP.rows(self._session, {"key": key})

    async def hold_member(self, member_id: int) -> None:
        """Until this transaction ends, other updates of the member that ask the same wait here
        (PostgreSQL: an advisory lock in a namespace of its own; SQLite's write gate already
        lets one update at a time in). For state built up over several updates that arrive at
        once (a batch of shared contacts): each reads what the previous one committed."""
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :member_id)"),
                {"namespace": MEMBER_LOCK_NAMESPACE, "member_id": member_id},
            )
