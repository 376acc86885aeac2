"""PostgreSQL and Redis for tests and benchmarks: where they are, whether they answer (CI=true:
absence fails, elsewhere it skips), and throw-away names of one's own in them.

- The test suite owns the database of `TEST_DATABASE_URL` (`test`); each session, and each
  xdist worker, migrates a schema of its own there, and fault tests make `fault_<hex>` schemas
  for their bot processes; all are dropped afterwards. (Not a database per session: DROP
  DATABASE waits for a checkpoint, which took 12 to 80 s at the end of each run on this busy
  machine.)
- Benchmarks get a database of their own (`scratch_database`: `salesbot_bench_<hex>` on the
  same server), dropped, open connections and all, afterwards.
- Redis: db 15 unless `TEST_REDIS_URL` says otherwise, never db 0, and every user a `unique`
  key prefix whose keys it deletes (`wipe_redis`): Redis has numbered databases only, so the
  prefix is the name.

Importing this module imports no fixture: bench/ uses it as well as tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

# The tests' database; benchmarks only reach the server through it.
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def run_sync(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion from sync code, even when called inside a running loop
    (session and module fixtures may be first requested from an async test)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def require(problem: str | None) -> None:
    """A missing service skips the test, or fails it when CI=true (CI must never skip)."""
    import pytest  # here, not at the top: benchmarks import this module without pytest

    if problem is None:
        return
    if IN_CI:
        pytest.fail(problem + "; CI=true requires it", pytrace=False)
    pytest.skip(problem)


def postgres_problem(url: str = PG_URL) -> str | None:
    async def probe() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        finally:
            await engine.dispose()

    try:
        run_sync(lambda: asyncio.wait_for(probe(), 5))
    except Exception as exc:  # any failure to connect means "absent" for the message
        return f"PostgreSQL at {url} is not reachable ({type(exc).__name__}: {exc})"
    return None


def redis_problem(url: str = REDIS_URL) -> str | None:
    async def ping() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        run_sync(ping)
    except Exception as exc:  # any failure means "absent"
        return f"Redis at {url} is not reachable ({type(exc).__name__}: {exc})"
    return None


def require_redis() -> None:
    require(redis_problem())


# --- PostgreSQL: databases and schemas of one's own ------------------------------------------


async def _admin(statement: str) -> None:
    """CREATE/DROP DATABASE: outside a transaction, and with no statement timeout, since
    DROP DATABASE waits for a checkpoint, which takes long on a busy disk."""
    import asyncpg

    server = make_url(PG_URL)
    conn = await asyncpg.connect(
        user=server.username,
        password=server.password,
        host=server.host or "127.0.0.1",
        port=server.port or 5432,
        database=server.database,
        timeout=10,
    )
    try:
        await conn.execute(statement, timeout=None)
    finally:
        await conn.close()


async def create_database(purpose: str) -> str:
    """A new, empty database of one's own on the server of `PG_URL`; returns its URL."""
    name = unique(f"salesbot_{purpose}")
    await _admin(f'CREATE DATABASE "{name}"')
    return database_url(name)


async def ensure_database(name: str) -> str:
    """A database under a fixed name (a benchmark's kept base), created when missing."""
    import asyncpg

    with suppress(asyncpg.DuplicateDatabaseError):
        await _admin(f'CREATE DATABASE "{name}"')
    return database_url(name)


def database_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    """Drops it even while a killed bot's connections linger."""
    await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@asynccontextmanager
async def scratch_database(purpose: str) -> AsyncIterator[str]:
    url = await create_database(purpose)
    try:
        yield url
    finally:
        await drop_database(url)


async def create_schema(url: str, prefix: str = "fault") -> str:
    name = unique(prefix)
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    finally:
        await admin.dispose()
    return name


async def drop_schema(url: str, name: str) -> None:
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await admin.dispose()


def schema_engine(url: str, schema: str) -> AsyncEngine:
    return create_engine(url, search_path=schema)


@dataclass(frozen=True)
class Schema:
    """A throw-away schema: the URL of its database, and its name."""

    url: str
    name: str

    def engine(self) -> AsyncEngine:
        return schema_engine(self.url, self.name)


# --- Redis -------------------------------------------------------------------------------------


async def wipe_redis(prefix: str, url: str = REDIS_URL) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
