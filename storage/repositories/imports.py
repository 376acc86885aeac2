"""Bulk writes for the import of a client table: thousands of rows per statement, not per row.

`ClientRepository.add` flushes one client at a time, which is right for `/add` and far too slow
for 50,000 rows. On PostgreSQL each table's rows of a batch go in one `COPY` (asyncpg's
`copy_records_to_table` on the session's own connection, so in its transaction): a third of the
time of the multi-row INSERTs, whose statements SQLAlchemy builds and asyncpg sends with every
value bound. On SQLite they go as one executemany per table (a C loop over one prepared
statement: nothing to gain from anything else).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, TypeDecorator, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import ActivityKind
from storage.models import Activity, AuditEntry, Client, ClientPhone, ClientTag, Followup, Team
from storage.repositories.rollups import RollupRepository

# First key of the two-int advisory lock taken by an import, the team id being the second: one
# namespace of our own, so other advisory locks (keyed by other ids) never collide with it.
IMPORT_LOCK_NAMESPACE = 7301
# How many of a team's latest imports are searched for the token of a repeated press.
_RECENT_IMPORTS = 50
# Ids per DELETE when an import's rows are taken back (SQLite binds at most 32,766 values).
_UNDO_IDS = 1000


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    @property
    def commits_per_batch(self) -> bool:
        """Whether an import commits each batch on its own. SQLite has one writer at a time:
        one transaction for a whole file would hold every other member's update at the write
        gate until it ends. PostgreSQL lets them through, so the file stays one transaction."""
        return not self._postgres

    async def lock_team(self, team_id: int) -> None:
        """One import per team at a time: a second (a double tap on PostgreSQL) waits for the
        first to commit and then sees its `import` audit row. An advisory lock, not a row lock
        on the team: /add, transfers and /forget update the team row (roster_version) and must
        not wait for a minute-long import. Released at commit or rollback. SQLite's write gate
        already serialises writers: nothing to take there."""
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :team_id)"),
                {"namespace": IMPORT_LOCK_NAMESPACE, "team_id": team_id},
            )

    async def already_imported(self, team_id: int, token: str) -> bool:
        """Whether an import with this one-time token (one per file sent) was already saved."""
        rows = await self._session.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.team_id == team_id, AuditEntry.action == "import")
            .order_by(AuditEntry.id.desc())
            .limit(_RECENT_IMPORTS)
        )
        return any(details and details.get("token") == token for details in rows)

    async def client_keys(self, team_id: int) -> list[tuple[int, str, str | None, str | None]]:
        """(id, name, city, email) of every client not erased: what duplicates are found by."""
        rows = await self._session.execute(
            select(Client.id, Client.name, Client.city, Client.email).where(
                Client.team_id == team_id, Client.erased_at.is_(None)
            )
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    async def phone_keys(self, team_id: int) -> list[tuple[int, str]]:
        rows = await self._session.execute(
            select(ClientPhone.client_id, ClientPhone.digits).where(ClientPhone.team_id == team_id)
        )
        return [(row[0], row[1]) for row in rows]

    async def reserve_client_ids(self, team_id: int, count: int) -> list[int]:
        """Ids for `count` new clients, so phones, tags and follow-ups can be written in bulk
        beside them. (INSERT ... RETURNING in input order runs row by row on SQLite: 40 times
        slower.) PostgreSQL hands them out from the column's sequence. On SQLite every
        transaction begins with BEGIN IMMEDIATE (storage/sqlite_driver.py), so it holds the
        write lock already and max(id) cannot move before it ends: the caller writes the
        clients in the transaction that reserved their ids. (The team row is not touched here:
        on PostgreSQL its row lock would hold /add and transfers for the whole write; the
        caller bumps it at the end.)"""
        if count <= 0:
            return []
        if self._postgres:
            rows = await self._session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('clients', 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"count": count},
            )
            return [int(row[0]) for row in rows]
        start = int(await self._session.scalar(select(func.max(Client.id))) or 0)
        return list(range(start + 1, start + count + 1))

    async def _add(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._postgres and _same_keys(rows):
            await self._copy(table, rows)
        else:
            await self._session.execute(insert(table), list(rows))

    async def _copy(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """COPY the rows into `table` on the session's connection, inside its transaction.
        Values pass through the columns' own conversions (UTC datetimes, money as hundredths)
        as an INSERT would; columns the rows leave out get their server defaults."""
        conn = await self._session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if not raw.is_in_transaction():
            # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement: COPY must
            # not be that statement, or it would commit on its own.
            await conn.execute(text("SELECT 1"))
        dialect = self._session.get_bind().dialect
        names = list(rows[0])
        convert = [
            (column.type.process_bind_param, dialect)
            if isinstance(column.type, TypeDecorator)
            else None
            for column in (table.c[name] for name in names)
        ]
        if any(convert):
            records = [
                tuple(
                    value if how is None else how[0](value, how[1])
                    for value, how in zip(row.values(), convert, strict=True)
                )
                for row in rows
            ]
        else:
            records = [tuple(row.values()) for row in rows]
        await raw.copy_records_to_table(table.name, records=records, columns=names)

    async def remove_clients(self, team_id: int, client_ids: Sequence[int]) -> None:
        """Take back the clients an import wrote (its phones, tags, follow-ups and notes go
        with them: ON DELETE CASCADE). The roll-ups need no step while an import writes no
        deals and only notes, which they do not count; `add_activities` says where that
        would change."""
        for start in range(0, len(client_ids), _UNDO_IDS):
            clients = Client.__table__
            await self._session.execute(
                delete(clients).where(
                    clients.c.team_id == team_id,
                    clients.c.id.in_(list(client_ids[start : start + _UNDO_IDS])),
                )
            )

    async def add_clients(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert clients whose ids were reserved above."""
        await self._add(Client.__table__, rows)

    async def bump_roster(self, team_id: int) -> None:
        await self._session.execute(
            update(Team).where(Team.id == team_id).values(roster_version=Team.roster_version + 1)
        )

    async def add_phones(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._add(ClientPhone.__table__, rows)

    async def add_tags(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._add(ClientTag.__table__, rows)

    async def add_followups(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._add(Followup.__table__, rows)

    async def add_activities(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._add(Activity.__table__, rows)
        if rows:
            # The import's one write of activities: the roll-up moves with it (notes today,
            # which it does not count; any counted kind a file brings is added here).
            await RollupRepository(self._session).activities_added(rows)

    async def merge_targets(
        self, team_id: int, client_ids: Sequence[int]
    ) -> dict[int, dict[str, Any]]:
        """Current column values of the clients duplicates are merged into."""
        if not client_ids:
            return {}
        # Core rows, not ORM objects: client rows are updated with Core statements, which would
        # leave an identity map's copies stale (storage/repositories/clients.py).
        clients = Client.__table__
        rows = await self._session.execute(
            select(clients).where(clients.c.team_id == team_id, clients.c.id.in_(list(client_ids)))
        )
        return {row.id: dict(row._mapping) for row in rows}

    async def notes_of(self, team_id: int, client_ids: Sequence[int]) -> dict[int, set[str]]:
        """Texts of the notes the clients already have: a file merged again adds none twice."""
        if not client_ids:
            return {}
        rows = await self._session.execute(
            select(Activity.client_id, Activity.text).where(
                Activity.team_id == team_id,
                Activity.client_id.in_(list(client_ids)),
                Activity.kind == ActivityKind.NOTE,
            )
        )
        found: dict[int, set[str]] = {}
        for client_id, note in rows:
            if note:
                found.setdefault(client_id, set()).add(note)
        return found

    async def tags_of(self, team_id: int, client_ids: Sequence[int]) -> dict[int, set[str]]:
        if not client_ids:
            return {}
        rows = await self._session.execute(
            select(ClientTag.client_id, ClientTag.tag).where(
                ClientTag.team_id == team_id, ClientTag.client_id.in_(list(client_ids))
            )
        )
        found: dict[int, set[str]] = {}
        for client_id, tag in rows:
            found.setdefault(client_id, set()).add(tag)
        return found


def _same_keys(rows: Sequence[dict[str, Any]]) -> bool:
    """COPY takes one column list: every row must name the same columns in the same order."""
    first = list(rows[0])
    return all(list(row) == first for row in rows)
