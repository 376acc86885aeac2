"""Engine and session factory: SQLite (WAL, busy timeout, immediate write locks) or PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util.concurrency import await_

from storage import sqlite_driver

# A pooled PostgreSQL connection idle this long is pinged before use (see _ping_when_idle).
IDLE_PING_SECONDS = 10.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    busy_timeout_ms: int = 15000,
    search_path: str | None = None,
    command_timeout: float = 60,
    **kwargs: Any,
) -> AsyncEngine:
    """Build the engine for `url`.

    `search_path` pins PostgreSQL to one schema: tests use it to isolate runs in a shared database.
    `command_timeout` (PostgreSQL, seconds) bounds one statement; only bulk jobs such as a
    benchmark's data generation raise it.
    """
    parsed = make_url(url)
    # SQLAlchemy copies a failed statement's parameters into the exception text, and handlers
    # log exceptions: without this, client names, phones and notes would reach the logs.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if database in ("", ":memory:"):
            kwargs.setdefault("poolclass", NullPool)
        else:
            kwargs.setdefault("pool_size", 5)
            kwargs.setdefault("max_overflow", 10)
        # Short statements run on the event loop, the rest on aiosqlite's thread, each in one
        # step (storage/sqlite_driver.py): not three or four thread hops per statement.
        engine = create_async_engine(
            sqlite_driver.engine_url(parsed),
            connect_args={"timeout": busy_timeout_ms / 1000},
            **kwargs,
        )
        _tune_sqlite(engine, busy_timeout_ms)
        return engine
    # A database that stops answering (a network partition drops packets) must fail a handler
    # or a sweep tick in seconds, not hang until the kernel gives up on the connection.
    connect_args: dict[str, Any] = {"timeout": 10, "command_timeout": command_timeout}
    if search_path:
        connect_args["server_settings"] = {"search_path": search_path}
    kwargs.setdefault("pool_timeout", 30)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Test a pooled connection before use only if it sat idle for `idle_seconds`.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: with asyncpg that is BEGIN, an empty
    query and ROLLBACK, three round trips before each update's own; this one sends the empty
    query alone. A connection in steady use is known to work; one that broke anyway fails its
    statement, SQLAlchemy then recycles the whole pool, and the update is retried
    (UnitOfWorkMiddleware) on a fresh connection.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            # One empty simple query: SQLAlchemy's own ping wraps it in BEGIN and ROLLBACK,
            # three round trips where one tells as much.
            await_(dbapi_connection._connection.execute(";"))
        except Exception as error:
            # The pool throws this connection away and checks out another (or a new one).
            raise exc.DisconnectionError("idle connection failed its ping") from error


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver: every transaction begins with BEGIN
        # IMMEDIATE, sent by LoopFirstSQLiteDialect.do_begin (storage/sqlite_driver.py).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")  # /forget: freed space is zeroed, not left
        cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def is_unavailable(error: BaseException) -> bool:
    """The database (not the request) failed: refused, cut or timed-out connections. Callers
    tell the member to try again later instead of blaming their input."""
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, ConnectionError | TimeoutError)
