"""Prepared hot statements: the few statements every update runs, compiled once per dialect and
run as one DB-API call on the connection the unit of work already holds.

`session.execute(statement)` costs 100–250 µs per statement before and after the database's own
10–50 µs: the ORM session's execute path, the statement's cache key (a walk of its whole tree on
every call), an execution context, and a result object with its metadata. For a statement built
once at import with bind parameters none of that changes between calls, so a `HotStatement`
does it once per dialect (SQL text, positional parameter order, bind and result processors,
taken from SQLAlchemy's own compiled form, so values convert exactly as through the session)
and each call only converts the parameters, runs the SQL and converts the rows:

- SQLite: `LoopFirstConnection.run_statement` (storage/sqlite_driver.py), the same rules as a
  statement through SQLAlchemy (reads and quick writes on the loop, the rest on the thread);
- PostgreSQL: the asyncpg connection's `fetch` (asyncpg's statement cache: a prepared statement
  per connection, one round trip), inside the adapter's transaction; a plain read that comes
  before the transaction's first write runs before its BEGIN (see `_asyncpg_fetch`).

The session stays the owner of the transaction: the connection is the one `session.connection()`
returns (which begins the transaction, BEGIN IMMEDIATE on SQLite), pending ORM changes are
flushed first as autoflush would, and a database error goes through SQLAlchemy's own handling
(wrapped as `sqlalchemy.exc.*`, a lost connection invalidated). A statement this module cannot
run exactly as SQLAlchemy would (expanding IN lists, Python-side column defaults) goes through
`session.execute` unchanged, and so does every statement on another driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import Select
from sqlalchemy.util.concurrency import greenlet_spawn

from storage.sqlite_driver import QUICK_WRITE, LoopFirstConnection

Processor = Callable[[Any], Any] | None
# The asyncpg adapter's isolation levels (None: the server's default, READ COMMITTED) at which
# a plain read may run before BEGIN; at REPEATABLE READ the snapshot is the first statement's.
_READS_OUTSIDE = (None, "read_committed", "autocommit")
_LINK = "salesbot_hot_link"
# Compiled forms kept per statement: dialects times SET-clause variants (client updates).
_VARIANTS_KEPT = 64


def _locks_or_calls_out(statement: Select[Any]) -> bool:
    """A row lock anywhere inside (a subquery's FOR UPDATE) or a function with effects
    (pg_advisory_xact_lock, nextval, set_config): outside a transaction the lock would end
    with the statement. Read from the generic SQL once, when the statement is built."""
    try:
        sql = str(statement.compile()).lower()
    except Exception:  # not printable without its dialect: keep it inside the transaction
        return True
    return (
        " for update" in sql
        or " for share" in sql
        or any(name in sql for name in ("advisory", "nextval", "setval", "set_config"))
    )


class _Compiled:
    """One statement's SQL for one dialect, with what turns values into parameters and back."""

    __slots__ = ("binds", "fixed", "names", "results", "sql")

    def __init__(
        self,
        sql: str,
        names: tuple[str, ...],
        binds: tuple[Processor, ...],
        fixed: dict[str, Any],
        results: tuple[Processor, ...] | None,
    ) -> None:
        self.sql = sql
        self.names = names
        self.binds = binds
        # Values the statement carries itself (`state == "pending"`), by bind name.
        self.fixed = fixed
        self.results = results

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        fixed = self.fixed
        return tuple(
            value if process is None else process(value)
            for value, process in zip(
                (values[name] if name in values else fixed[name] for name in self.names),
                self.binds,
                strict=True,
            )
        )

    def rows(self, raw: Sequence[Any]) -> list[tuple[Any, ...]]:
        results = self.results
        if results is None or not raw:
            return []
        if not any(results):
            return [tuple(row) for row in raw]
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, results, strict=True)
            )
            for row in raw
        ]


class _Link:
    """The unit of work's connection during one transaction (see `_link`)."""

    __slots__ = ("adapter", "connection", "dialect", "transaction")

    def __init__(self, transaction: Any, connection: AsyncConnection) -> None:
        self.transaction = transaction
        self.connection = connection
        self.dialect: Dialect = connection.dialect
        self.adapter: Any = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]


async def _link(session: AsyncSession) -> _Link:
    """The connection of the session's transaction, begun; looked up once per transaction."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    link: _Link | None = sync.info.get(_LINK)
    if (
        link is not None
        and transaction is link.transaction
        and transaction is not None
        and transaction.is_active
    ):
        return link
    connection = await session.connection()
    link = sync.info[_LINK] = _Link(sync.get_transaction(), connection)
    return link


class HotStatement:
    """A Core statement run below `session.execute`; see the module's docstring."""

    __slots__ = ("_compiled", "_plain_read", "_quick_write", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._quick_write = bool(statement._execution_options.get(QUICK_WRITE))  # type: ignore[attr-defined]
        # A SELECT that locks nothing: on PostgreSQL it may run before the transaction's BEGIN
        # (see `_asyncpg_fetch`). One with a WITH clause never does: its CTEs may write.
        self._plain_read = (
            isinstance(statement, Select)
            and statement._for_update_arg is None
            and not statement._independent_ctes
            and not _locks_or_calls_out(statement)
        )
        # (dialect name, driver, parameter keys) -> compiled form, or None: not runnable raw.
        self._compiled: dict[tuple[str, str, tuple[str, ...]], _Compiled | None] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
        cache_key = (dialect.name, dialect.driver, keys)
        try:
            return self._compiled[cache_key]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        form: _Compiled | None = None
        runnable = (
            compiled.positional
            and not compiled.insert_prefetch
            and not compiled.update_prefetch
            and not any(bind.expanding for bind in compiled.binds.values())
            and not compiled.literal_execute_params
            and not compiled.post_compile_params
        )
        if runnable:
            processors = compiled._bind_processors
            names = tuple(compiled.positiontup)
            results: tuple[Processor, ...] | None = None
            if compiled._result_columns:
                results = tuple(
                    column.type._cached_result_processor(dialect, None)
                    for column in compiled._result_columns
                )
            fixed = {
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required
            }
            form = _Compiled(
                compiled.string,
                names,
                tuple(processors.get(name) for name in names),
                fixed,
                results,
            )
        if len(self._compiled) < _VARIANTS_KEPT:
            self._compiled[cache_key] = form
        return form

    async def rows(self, session: AsyncSession, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows (those of RETURNING for a write), converted as SQLAlchemy would.
        As through the session, the parameters' keys pick an INSERT's columns and an UPDATE's
        SET clause (each set of keys compiled once)."""
        sync = session.sync_session
        if sync.autoflush and (sync.new or sync.deleted or sync.identity_map.check_modified()):
            await session.flush()
        link = await _link(session)
        compiled = self._compile(link.dialect, tuple(sorted(values)))
        if compiled is None or not isinstance(
            link.adapter, LoopFirstConnection | AsyncAdapt_asyncpg_connection
        ):
            result = await session.execute(self.statement, dict(values))
            returns_rows = cast(CursorResult[Any], result).returns_rows
            return [tuple(row) for row in result] if returns_rows else []
        parameters = compiled.parameters(values)
        try:
            if isinstance(link.adapter, LoopFirstConnection):
                raw = (
                    await link.adapter.run_statement(compiled.sql, parameters, self._quick_write)
                ).rows or ()
            else:
                raw = await _asyncpg_fetch(
                    link.adapter,
                    compiled.sql,
                    parameters,
                    self._plain_read and compiled.sql.startswith("SELECT"),
                )
        except Exception as error:
            await _raise_as_sqlalchemy(link, error, compiled.sql, parameters)
            raise  # not reached: the line above always raises
        return compiled.rows(raw)

    async def first(
        self, session: AsyncSession, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        rows = await self.rows(session, values)
        return rows[0] if rows else None


async def _asyncpg_fetch(
    adapter: Any, sql: str, parameters: tuple[Any, ...], plain_read: bool
) -> list[Any]:
    """One statement in the adapter's transaction, begun here if the session has not yet sent
    one (the adapter begins lazily, with the first statement).

    A plain read before the transaction's first other statement runs before its BEGIN: at READ
    COMMITTED every statement takes its own snapshot, inside a transaction block or not, and a
    SELECT that locks no rows holds nothing the rest of the transaction relies on, so what it
    sees and what the transaction does are the same. What it saves is a round trip each for
    BEGIN and COMMIT in an update that only reads (`/today`), and the member's read of every
    update no longer holds a transaction open. A statement that locks or writes, or any
    statement through the session, begins the transaction as before; so does every statement
    once it has begun (a read after a write sees that write).
    """
    async with adapter._execute_mutex:
        if adapter._transaction is None and not (
            plain_read and adapter.isolation_level in _READS_OUTSIDE
        ):
            await adapter._start_transaction()
        return await adapter._connection.fetch(sql, *parameters)  # type: ignore[no-any-return]


async def _raise_as_sqlalchemy(
    link: _Link, error: Exception, sql: str, parameters: tuple[Any, ...]
) -> None:
    """Raise `error` as SQLAlchemy would have: the driver's error as the DB-API's class, then
    SQLAlchemy's (a lost connection invalidated and its pool recycled)."""
    try:
        link.adapter._handle_exception(error)
    except Exception as dbapi_error:
        error = dbapi_error
    if not isinstance(error, link.dialect.loaded_dbapi.Error):
        raise error
    sync_connection = link.connection.sync_connection
    assert sync_connection is not None  # the session's connection is open: it just ran `sql`
    await greenlet_spawn(
        sync_connection._handle_dbapi_exception,
        error,
        sql,
        parameters,
        None,
        None,
    )
