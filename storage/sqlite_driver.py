"""SQLite for an asyncio process: short statements on the event loop, the rest on the driver's
thread, and every statement in one step either way.

SQLAlchemy's aiosqlite adapter sends each step of each statement (open a cursor, execute, fetch,
close) to aiosqlite's worker thread and back. A hop costs 90 µs on a quiet machine and more
under load, while the statements of an update take 10–50 µs each: an update spent most of its
time waiting for hops. This adapter keeps aiosqlite (its thread, connection and error classes)
and changes where and how a statement runs:

- Every statement is cursor + execute + fetchall + close in one call, wherever it runs.
- Inside the transaction (every unit of work starts with BEGIN IMMEDIATE, so it holds SQLite's
  write lock and its snapshot, and no statement of it can wait for another connection):
  - a SELECT runs on the event loop under a deadline: a progress handler interrupts it after
    `LOOP_BUDGET_SECONDS` of processor time (or `LOOP_WALL_LIMIT_SECONDS` in all), which
    leaves the transaction intact, and it runs again on the driver's thread; a statement that
    was heavy is remembered and goes there directly from then on;
  - a write marked `quick_write` (a few rows found by key: `quick()` below) runs on the loop;
  - any other write (bulk updates, deletes, executemany) runs on the driver's thread. A write
    cannot be interrupted safely: SQLite rolls back the whole transaction when it is.
- BEGIN IMMEDIATE is tried on the loop with no busy wait; when another connection holds the
  write lock it waits on the driver's thread, under the connection's busy timeout.
- COMMIT runs on the driver's thread (a WAL checkpoint may write and sync the database file).
- ROLLBACK runs on the driver's thread, and only when a transaction is open: the pool's reset
  of a connection returned after a commit costs nothing, one returned mid-transaction is still
  rolled back.
- SQLite may roll a transaction back by itself (after an I/O error, a full disk, an interrupted
  write, `ON CONFLICT ROLLBACK`). With the driver's own transaction control off, a statement
  after that would run in autocommit and the final COMMIT would find nothing to commit: part of
  the work saved, the rest lost. So a statement of a transaction that is no longer open raises
  `sqlite3.OperationalError` instead (SQLAlchemy wraps it, the unit of work rolls back), and
  so does the COMMIT of such a transaction.

So an update makes one hop (the commit) instead of three or four per statement; the event loop
is held by a read no longer than the budget, and never by a lock.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL
from sqlalchemy.sql.base import Executable
from sqlalchemy.util.concurrency import await_

# Most processor time a SELECT may take on the event loop before it is moved to the driver's
# thread (and remembered as heavy), and most time it may hold the loop in all (then it is moved
# but not remembered: a cold page cache or a busy machine, not the statement, was slow).
LOOP_BUDGET_SECONDS = 0.002
LOOP_WALL_LIMIT_SECONDS = 0.02
# The progress handler is called every this many SQLite virtual machine instructions (a few
# microseconds of work): often enough to keep the budget, rarely enough to cost nothing.
PROGRESS_STEPS = 1000
# Statements that ran over the budget once, remembered up to this many (then no more are added).
SLOW_STATEMENTS_KEPT = 1024
QUICK_WRITE = "quick_write"
DRIVER = "salesbot_aiosqlite"
_BEGIN = "BEGIN IMMEDIATE"

E = TypeVar("E", bound=Executable)


def quick(statement: E) -> E:
    """Mark a write of a few rows found by key: SQLite may run it on the event loop."""
    return statement.execution_options(**{QUICK_WRITE: True})


def register() -> None:
    """Make `sqlite+salesbot_aiosqlite://` (see `engine_url`) reach this dialect."""
    registry.register(f"sqlite.{DRIVER}", __name__, "LoopFirstSQLiteDialect")


def engine_url(url: URL) -> URL:
    register()
    return url.set(drivername=f"sqlite+{DRIVER}")


class _Result:
    __slots__ = ("description", "lastrowid", "rowcount", "rows")

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.description = cursor.description
        # INSERT … RETURNING counts its rows only once they are fetched.
        self.rows = cursor.fetchall() if self.description else None
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Result:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters if parameters is not None else ())
        return _Result(cursor)
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Result:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, parameters)
        return _Result(cursor)
    finally:
        cursor.close()


_ROLLED_BACK = (
    "the transaction was rolled back by SQLite (after an earlier error); "
    "its statements cannot go on in autocommit"
)


def _in_transaction(connection: sqlite3.Connection) -> None:
    """Refuse a statement of a transaction SQLite has rolled back on its own."""
    if not connection.in_transaction:
        raise sqlite3.OperationalError(_ROLLED_BACK)


def _run_in_transaction(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Result:
    _in_transaction(connection)
    return _run(connection, sql, parameters)


def _run_many_in_transaction(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Result:
    _in_transaction(connection)
    return _run_many(connection, sql, parameters)


def _commit(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.commit()


def _commit_in_transaction(connection: sqlite3.Connection) -> None:
    _in_transaction(connection)
    connection.commit()


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.rollback()


async def _at_once(function: Any, *args: Any) -> Any:
    """Run `function` on the loop, from SQLAlchemy's side of the greenlet bridge: the statement
    is awaited like any other (AsyncConnection.execute insists that something was)."""
    return function(*args)


class _Deadline:
    """A progress handler that interrupts a statement run on the loop when it works too long
    (`heavy`: it ran the processor past the budget) or waits too long (on the disk, or for a
    core on a loaded machine).

    The clocks are first read at the handler's first call, `PROGRESS_STEPS` instructions in: most
    reads end before it, and reading the thread's processor clock is a system call."""

    __slots__ = ("cpu_at", "fired", "heavy", "wall_at")

    def __init__(self) -> None:
        self.cpu_at = 0.0
        self.wall_at = 0.0
        self.fired = False
        self.heavy = False

    def __call__(self) -> int:
        if not self.cpu_at:
            self.cpu_at = time.thread_time() + LOOP_BUDGET_SECONDS
            self.wall_at = time.perf_counter() + LOOP_WALL_LIMIT_SECONDS
            return 0
        if time.thread_time() > self.cpu_at:
            self.fired = self.heavy = True
        elif time.perf_counter() > self.wall_at:
            self.fired = True
        return int(self.fired)


class LoopFirstCursor:
    """A DB-API cursor whose statements have already run to completion when execute returns."""

    __slots__ = ("_adapt", "_rows", "arraysize", "description", "lastrowid", "rowcount")
    server_side = False

    def __init__(self, adapt: LoopFirstConnection) -> None:
        self._adapt = adapt
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: collections.deque[Any] = collections.deque()

    def _take(self, result: _Result) -> None:
        self.description = result.description
        self.rowcount = result.rowcount
        self.lastrowid = result.lastrowid
        self._rows = collections.deque(result.rows) if result.rows else collections.deque()

    def execute(self, operation: str, parameters: Any = None, *, quick_write: bool = False) -> None:
        self._take(self._adapt.run(operation, parameters, quick_write))

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._take(self._adapt.run_many(operation, seq_of_parameters))

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio layer; the driver's cursor is closed already."""

    def setinputsizes(self, *sizes: Any) -> None:
        return None

    def nextset(self) -> None:
        return None


class LoopFirstConnection(AsyncAdapt_aiosqlite_connection):
    # Hops sent to the driver's thread and hops it finished: each counter is written by one
    # thread only. While they differ (a hop of a cancelled task may still be running), the
    # loop does not touch the connection and queues its statements behind instead.
    __slots__ = ("_began", "_busy_timeout_ms", "_hops_done", "_hops_sent")

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._busy_timeout_ms: int | None = None
        self._hops_sent = 0
        self._hops_done = 0
        # A transaction was begun and not yet committed or rolled back by us: a statement that
        # finds none open (SQLite rolled it back) must fail, not run in autocommit.
        self._began = False

    @property
    def hops(self) -> int:
        """Calls sent to the driver's thread so far (tests and benchmarks count them)."""
        return self._hops_sent

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            return super().cursor(server_side=True)
        return LoopFirstCursor(self)

    def _loop_connection(self) -> sqlite3.Connection | None:
        """The sqlite3 connection, if the loop may use it now; None while a hop is under way."""
        if self._hops_sent != self._hops_done or self._execute_mutex.locked():
            return None
        return self._connection._connection  # type: ignore[no-any-return]

    def hop(self, function: Any, *args: Any) -> Any:
        """Run `function(sqlite3_connection, *args)` on the driver's thread and wait for it."""
        try:
            driver = self._connection
            if not driver._running or driver._connection is None:
                raise ValueError("Connection closed")
            self._hops_sent += 1
            return await_(driver._execute(self._on_thread, function, *args))
        except Exception as error:
            self._handle_exception(error)

    async def hop_async(self, function: Any, *args: Any) -> Any:
        """`hop` for a caller on the event loop, outside SQLAlchemy (storage/hot.py)."""
        try:
            driver = self._connection
            if not driver._running or driver._connection is None:
                raise ValueError("Connection closed")
            self._hops_sent += 1
            return await driver._execute(self._on_thread, function, *args)
        except Exception as error:
            self._handle_exception(error)

    def _on_thread(self, function: Any, *args: Any) -> Any:
        try:
            return function(self._connection._conn, *args)
        finally:
            self._hops_done += 1

    def run(self, sql: str, parameters: Any, quick_write: bool) -> _Result:
        raw = self._loop_connection()
        if sql == _BEGIN:
            result = self._begin(raw) if raw is not None else self.hop(_run, sql, parameters)
            self._began = True
            return result  # type: ignore[no-any-return]
        if raw is not None and raw.in_transaction:
            try:
                if quick_write:
                    return await_(_at_once(_run, raw, sql, parameters))  # type: ignore[no-any-return]
                if sql[:6].upper() == "SELECT" and sql not in self.dbapi.slow_statements:
                    result = self._read_on_loop(raw, sql, parameters)
                    if result is not None:
                        return result
            except Exception as error:
                self._handle_exception(error)
        # Checked where the statement runs, on the thread, right before it.
        function = _run_in_transaction if self._began else _run
        return self.hop(function, sql, parameters)  # type: ignore[no-any-return]

    def run_many(self, sql: str, seq_of_parameters: Any) -> _Result:
        function = _run_many_in_transaction if self._began else _run_many
        return self.hop(function, sql, seq_of_parameters)  # type: ignore[no-any-return]

    async def run_statement(self, sql: str, parameters: Any, quick_write: bool) -> _Result:
        """`run` for a caller on the event loop, outside SQLAlchemy (storage/hot.py): the same
        rules, inside a transaction the session has begun."""
        raw = self._loop_connection()
        if raw is not None and raw.in_transaction:
            try:
                if quick_write:
                    return _run(raw, sql, parameters)
                if sql[:6].upper() == "SELECT" and sql not in self.dbapi.slow_statements:
                    result = self._read_within_budget(raw, sql, parameters)
                    if result is not None:
                        return result
            except Exception as error:
                self._handle_exception(error)
        function = _run_in_transaction if self._began else _run
        return await self.hop_async(function, sql, parameters)  # type: ignore[no-any-return]

    def _read_on_loop(self, raw: sqlite3.Connection, sql: str, parameters: Any) -> _Result | None:
        """The rows, or None if the budget ran out (the transaction is then as it was)."""
        return await_(_at_once(self._read_within_budget, raw, sql, parameters))  # type: ignore[no-any-return]

    def _read_within_budget(
        self, raw: sqlite3.Connection, sql: str, parameters: Any
    ) -> _Result | None:
        deadline = _Deadline()
        raw.set_progress_handler(deadline, PROGRESS_STEPS)
        try:
            return _run(raw, sql, parameters)
        except sqlite3.OperationalError:
            if not deadline.fired:
                raise
        finally:
            raw.set_progress_handler(None, 0)
        slow = self.dbapi.slow_statements
        if deadline.heavy and len(slow) < SLOW_STATEMENTS_KEPT:
            slow.add(sql)
        return None

    def _begin(self, raw: sqlite3.Connection) -> _Result:
        """Take the write lock without waiting on the loop; wait for it on the thread if held."""
        try:
            if self._busy_timeout_ms is None:
                self._busy_timeout_ms = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
            raw.execute("PRAGMA busy_timeout=0")
            try:
                return await_(_at_once(_run, raw, _BEGIN, None))  # type: ignore[no-any-return]
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT).
                if getattr(error, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
            finally:
                raw.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        except Exception as error:
            self._handle_exception(error)
        return self.hop(_run, _BEGIN, None)  # type: ignore[no-any-return]

    def commit(self) -> None:
        # A transaction SQLite rolled back cannot be committed: saying so beats reporting success.
        function = _commit_in_transaction if self._began else _commit
        self._began = False
        if self._connection._connection:
            self.hop(function)

    def rollback(self) -> None:
        self._began = False
        raw = self._connection._connection
        # After a commit there is nothing to roll back: no hop for the pool's reset.
        if raw is not None and (self._loop_connection() is None or raw.in_transaction):
            self.hop(_rollback)


class LoopFirstDbapi(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        # SQL texts that ran over the loop budget once: they go straight to the thread.
        self.slow_statements: set[str] = set()

    def connect(self, *arg: Any, **kw: Any) -> LoopFirstConnection:
        # The loop and the driver's thread take turns on the connection, never at once.
        kw["check_same_thread"] = False
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return LoopFirstConnection(self, await_(connection))


class LoopFirstSQLiteDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> LoopFirstDbapi:  # type: ignore[override]
        return LoopFirstDbapi(__import__("aiosqlite"), __import__("sqlite3"))

    def do_begin(self, dbapi_connection: Any) -> None:
        # A deferred transaction that later writes can fail at once with "database is locked"
        # (the busy handler is skipped to avoid deadlock). Taking the write lock up front makes
        # concurrent updates queue behind the busy timeout instead. Sent here rather than from a
        # "begin" event: no statement execution around it, and its errors are SQLAlchemy's.
        dbapi_connection.cursor().execute(_BEGIN)

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if isinstance(cursor, LoopFirstCursor):
            quick_write = bool(context is not None and context.execution_options.get(QUICK_WRITE))
            cursor.execute(statement, parameters, quick_write=quick_write)
        else:
            cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        self.do_execute(cursor, statement, None, context)
