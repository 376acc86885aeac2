"""Which clients a bot message is about, by its Telegram (chat, message id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hot import HotStatement
from storage.models import SentMessage
from storage.repositories.columns import rowcount
from storage.sqlite_driver import quick

_SENT = SentMessage.__table__
# Built once per dialect: a card's record follows every /client (bot/telegram/middlewares.py),
# so it skips the per-call compile and, on SQLite, the thread hop (a one-row write by key).
_RECORD = {
    name: HotStatement(
        quick(
            dialect.insert(_SENT)
            .values({column.name: bindparam(column.name) for column in _SENT.columns})
            .on_conflict_do_nothing(index_elements=[_SENT.c.chat_id, _SENT.c.message_id])
        )
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
# PostgreSQL, a record that is its own transaction: the same insert, whose commit does not wait
# for the disk. `set_config(..., true)` lasts to the end of the transaction, here the
# statement's own: nothing else's commit is touched. (A bare `SET LOCAL` would be a statement,
# and a transaction, of its own.)
_NO_WAIT = select(func.set_config("synchronous_commit", "off", True).label("setting")).subquery()
_RECORD_ALONE = HotStatement(
    postgresql.insert(_SENT)
    .from_select(
        [column.name for column in _SENT.columns],
        select(
            *(bindparam(column.name, type_=column.type) for column in _SENT.columns)
        ).select_from(_NO_WAIT),
    )
    .on_conflict_do_nothing(index_elements=[_SENT.c.chat_id, _SENT.c.message_id])
)


@dataclass(frozen=True, slots=True)
class SentMessageDTO:
    chat_id: int
    message_id: int
    team_id: int
    member_id: int
    kind: str
    client_ids: tuple[int, ...]
    sent_at: datetime


class SentMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, rows: Sequence[SentMessageDTO]) -> None:
        """Remember each message; one already remembered is left as it is."""
        if not rows:
            return
        bind = self._session.get_bind()
        statement = _RECORD[bind.dialect.name]
        if bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # Each row its own transaction (UnitOfWorkFactory.single_write): the record is
            # best effort (bot/telegram/middlewares.py logs a failure and goes on; a reply to
            # a card not recorded falls back to the card's buttons), so its commit need not
            # wait for the disk; losing it in a crash costs what a failed record costs.
            statement = _RECORD_ALONE if bind.dialect.name == "postgresql" else statement
        for row in rows:
            await statement.rows(
                self._session,
                {
                    "chat_id": row.chat_id,
                    "message_id": row.message_id,
                    "team_id": row.team_id,
                    "member_id": row.member_id,
                    "kind": row.kind,
                    "client_ids": list(row.client_ids),
                    "sent_at": row.sent_at,
                },
            )

    async def find(self, member_id: int, chat_id: int, message_id: int) -> SentMessageDTO | None:
        """The message, if it was sent to this member (a row of another member is never read)."""
        row = (
            await self._session.execute(
                select(
                    SentMessage.chat_id,
                    SentMessage.message_id,
                    SentMessage.team_id,
                    SentMessage.member_id,
                    SentMessage.kind,
                    SentMessage.client_ids,
                    SentMessage.sent_at,
                ).where(
                    SentMessage.chat_id == chat_id,
                    SentMessage.message_id == message_id,
                    SentMessage.member_id == member_id,
                )
            )
        ).first()
        if row is None:
            return None
        ids = tuple(int(cid) for cid in (row.client_ids or []))
        return SentMessageDTO(
            row.chat_id, row.message_id, row.team_id, row.member_id, row.kind, ids, row.sent_at
        )

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(
            delete(SentMessage).where(SentMessage.sent_at < before)
        )
        return rowcount(result)
