"""Fixtures, registered here and built from tests/support: a migrated database on SQLite and
on the real PostgreSQL, a frozen clock, a Redis key prefix, and a harness that feeds Telegram
updates to the real Dispatcher with an in-memory Bot API, with or without a team in it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
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
from tests.support import services
from tests.support.builders import TeamSpec, build_team
from tests.support.harness import BotHarness

# Wednesday 2026-12-02 10:15 in Moscow: the reference moment of tests/data/phrases.tsv.
REFERENCE_MOMENT = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The tests' PostgreSQL database (`TEST_DATABASE_URL`): present, or skip (fail when
    CI=true). A session, and each xdist worker, works in schemas of its own there."""
    services.require(services.postgres_problem())
    return services.PG_URL


@pytest.fixture(scope="session")
def pg_schema(pg_url: str) -> Iterator[str]:
    """One migrated schema per session; tests empty its tables, it is dropped at the end."""

    async def create() -> str:
        schema = await services.create_schema(pg_url, "t")
        engine = create_engine(pg_url, search_path=schema)
        await upgrade(engine)
        await engine.dispose()
        return schema

    schema = str(services.run_sync(create))
    yield schema
    services.run_sync(lambda: services.drop_schema(pg_url, schema))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test copies the file instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def create() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    services.run_sync(create)
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
    pg_url = request.getfixturevalue("pg_url")
    schema = request.getfixturevalue("pg_schema")
    engine = create_engine(pg_url, search_path=schema)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test alone in the tests' Redis db; its keys are deleted afterwards."""
    services.require_redis()
    prefix = services.unique("salesbot-test")
    yield prefix
    await services.wipe_redis(prefix)


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


@pytest.fixture
def team_spec() -> TeamSpec:
    """Who is in the `team` and what they have done: a module overrides this fixture."""
    return TeamSpec()


@pytest.fixture
async def team(harness: BotHarness, team_spec: TeamSpec) -> BotHarness:
    return await build_team(harness, team_spec)
