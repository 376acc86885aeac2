"""Every migration upgrades and downgrades cleanly, step by step, on SQLite and PostgreSQL,
and the migrated schema is exactly what the models describe."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.services.weekly import plan_weekly
from storage.db import create_engine
from storage.migrate import current_revision, downgrade, head_revision, revisions_in_order, upgrade
from storage.models import Base
from storage.types import UTCDateTime
from storage.uow import UnitOfWorkFactory
from tests.support.services import unique

_RETRY_DAYS = (
    "followup_hot_days",
    "followup_warm_days",
    "followup_cold_days",
    "no_answer_retry_days",
)


@pytest.fixture
async def empty_engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path):
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stairs.sqlite3'}")
        yield engine
        await engine.dispose()
        return
    pg_url = request.getfixturevalue("pg_url")  # skips or fails with the reason when PG is absent
    # Unique: concurrent runs (xdist workers, other checkouts) share the tests' database.
    schema = unique("stairs")
    admin = create_engine(pg_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(pg_url, search_path=schema)
    yield engine
    await engine.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_each_migration_upgrades_and_downgrades_step_by_step(empty_engine: AsyncEngine):
    revisions = revisions_in_order()
    assert revisions, "there must be at least one migration"
    previous: list[str | None] = [None, *revisions[:-1]]
    for revision, before in zip(revisions, previous, strict=True):
        await upgrade(empty_engine, revision)
        assert await current_revision(empty_engine) == revision
        await downgrade(empty_engine, before or "base")
        assert await current_revision(empty_engine) == before
        await upgrade(empty_engine, revision)
    assert await current_revision(empty_engine) == head_revision()
    await downgrade(empty_engine, "base")
    assert await _tables(empty_engine) == set()


async def test_migrated_schema_matches_the_models(empty_engine: AsyncEngine):
    await upgrade(empty_engine)

    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)

    async with empty_engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
    assert await _tables(empty_engine) == set(Base.metadata.tables)


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'wal.sqlite3'}", busy_timeout_ms=4321)
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await engine.dispose()
    assert (mode, timeout, foreign_keys) == ("wal", 4321, 1)


async def test_a_team_made_before_the_weekly_report_gets_no_catch_up_report(
    empty_engine: AsyncEngine,
):
    """0010 dates existing teams' report from the migration: the first sweep after a mid-week
    deploy sends no owner last week's report marked late."""
    await upgrade(empty_engine, "0009")
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    teams = sa.table(
        "teams",
        *(sa.column(name, sa.Integer()) for name in ("id", *_RETRY_DAYS)),
        sa.column("name", sa.String()),
        sa.column("timezone", sa.String()),
        sa.column("created_at", UTCDateTime()),
    )
    members = sa.table(
        "members",
        *(sa.column(name, sa.Integer()) for name in ("id", "team_id", "telegram_id")),
        *(sa.column(name, sa.String()) for name in ("role", "full_name", "timezone")),
        *(sa.column(name, sa.Time()) for name in ("work_start", "work_end", "digest_time")),
        sa.column("created_at", UTCDateTime()),
    )
    async with empty_engine.begin() as conn:
        await conn.execute(
            sa.insert(teams).values(
                id=1,
                name="Old team",
                timezone="Europe/Moscow",
                created_at=long_ago,
                **dict.fromkeys(_RETRY_DAYS, 3),
            )
        )
        await conn.execute(
            sa.insert(members).values(
                id=1,
                team_id=1,
                telegram_id=1001,
                role="owner",
                full_name="Olga",
                timezone="Europe/Moscow",
                work_start=time(9),
                work_end=time(18),
                digest_time=time(9),
                created_at=long_ago,
            )
        )
    before = datetime.now(UTC).replace(microsecond=0)
    await upgrade(empty_engine)
    after = datetime.now(UTC) + timedelta(seconds=1)
    uow_factory = UnitOfWorkFactory(async_sessionmaker(empty_engine, expire_on_commit=False))
    async with uow_factory() as uow:
        # The owner is still there: on SQLite a batch rebuild of `teams` cascaded to members.
        [recipient] = await uow.digest.weekly_recipients()
        assert before <= recipient.since <= after
        # Eight days back always reach last Monday's moment: without `since` it would be sent.
        planned = await plan_weekly(
            uow, after, late_after=timedelta(hours=1), catch_up=timedelta(days=8)
        )
    assert planned == 0


async def test_a_sqlite_migration_that_rebuilds_a_parent_table_keeps_its_children(
    tmp_path: Path,
):
    """Batch mode rebuilds a table by dropping it: with foreign keys on, SQLite would delete
    every member with the old `teams`. storage.migrate turns the keys off around migrations."""
    from alembic.operations import Operations

    from storage import migrate

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rebuild.sqlite3'}")
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO teams (id, name, timezone, currency, followup_hot_days, "
                    "followup_warm_days, followup_cold_days, no_answer_retry_days, created_at) "
                    "VALUES (1, 'T', 'UTC', 'RUB', 3, 7, 30, 1, '2026-01-01 00:00:00.000000')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO members (id, team_id, telegram_id, role, full_name, timezone, "
                    "work_start, work_end, digest_time, created_at) VALUES (1, 1, 7, 'owner', "
                    "'Olga', 'UTC', '09:00:00', '18:00:00', '09:00:00', "
                    "'2026-01-01 00:00:00.000000')"
                )
            )

        def rebuild_teams(config: object) -> None:
            connection = config.attributes["connection"]  # type: ignore[attr-defined]
            with Operations.context(MigrationContext.configure(connection)):
                from alembic import op

                with op.batch_alter_table("teams", recreate="always"):
                    pass

        await migrate._run(engine, rebuild_teams)
        async with engine.connect() as conn:
            members = (await conn.execute(text("SELECT count(*) FROM members"))).scalar()
            keys_on = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        assert members == 1
        assert keys_on == 1  # back on for the bot's own use of the connection
    finally:
        await engine.dispose()
