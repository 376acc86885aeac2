"""Fixtures: a migrated database on SQLite and on the real PostgreSQL, a frozen clock, and a
harness that feeds Telegram updates to the real Dispatcher with an in-memory Bot API."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Base
from tests.harness import BotHarness

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Wednesday 2026-12-02 10:15 in Moscow: the reference moment of tests/data/phrases.tsv.
REFERENCE_MOMENT = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)


def _run_blocking(make_coro) -> object:  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from sync code, even when called inside a running loop
    (session fixtures may be first requested from an async test)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


def _pg_available() -> str | None:
    async def probe() -> None:
        engine = create_engine(PG_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        finally:
            await engine.dispose()

    try:
        _run_blocking(lambda: asyncio.wait_for(probe(), 5))
    except Exception as exc:  # any failure to connect means "absent" for the skip message
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """One migrated schema per test run in the shared `test` database, dropped at the end."""
    problem = _pg_available()
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is not reachable ({problem})"
        if IN_CI:
            pytest.fail(message + "; CI=true requires it", pytrace=False)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = create_engine(PG_URL, search_path=schema)
        await upgrade(engine)
        await engine.dispose()

    async def drop() -> None:
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()

    _run_blocking(create)
    yield schema
    _run_blocking(drop)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test copies the file instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def create() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    _run_blocking(create)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def engine(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        target = tmp_path / "db.sqlite3"
        shutil.copy(sqlite_template, target)
        engine = create_engine(f"sqlite+aiosqlite:///{target}")
        yield engine
        await engine.dispose()
        return
    schema = request.getfixturevalue("pg_schema")
    engine = create_engine(PG_URL, search_path=schema)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(REFERENCE_MOMENT)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=None,
        database_url="sqlite+aiosqlite:///:memory:",
        # Rows of a previewed import wait here for «Import» (never in the tree's ./data).
        import_files={"parsed_dir": tmp_path / "imports"},
    )


@pytest.fixture
async def harness(
    engine: AsyncEngine, clock: FrozenClock, settings: Settings
) -> AsyncIterator[BotHarness]:
    h = BotHarness.create(settings, engine, clock)
    yield h
    await h.app.bot.session.close()
    # Anything Telegram would have refused (too long, broken HTML, a second answer to one
    # button press) fails the test that caused it.
    assert h.session.violations == []
