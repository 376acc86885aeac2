"""Apply or revert Alembic migrations programmatically on an async engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number, the same in every copy of the bot: the advisory lock's name.
MIGRATION_LOCK_ID = 0x5A1E5B07


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revisions_in_order() -> list[str]:
    """All revisions from the first to head: the stairway test walks them."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def _run(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    config = alembic_config()

    def _sync(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Two replicas starting together with MIGRATE_ON_START: the second waits here, then
            # finds the schema at head and does nothing. A session-level lock, so it also spans
            # migrations that commit on their own; it is released before the connection returns.
            await connection.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            await connection.commit()
            try:
                await connection.run_sync(_sync)
                await connection.commit()
            finally:
                # After a failure the transaction is aborted: end it before unlocking.
                await connection.rollback()
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                await connection.commit()
            return
        await _run_sqlite(connection, _sync)


async def _run_sqlite(connection: AsyncConnection, migrate: Callable[[Connection], None]) -> None:
    # A batch migration rebuilds a table (create, copy, drop, rename); with foreign keys on,
    # the drop deletes every child row through ON DELETE CASCADE: 0010 once emptied `members`
    # that way. As Alembic advises, keys are off while migrating, and a foreign_key_check
    # before the commit refuses a migration that leaves a dangling row. The PRAGMA is ignored
    # inside a transaction, so it goes through the driver's connection before BEGIN.
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.execute("PRAGMA foreign_keys=OFF")
    try:
        await connection.run_sync(migrate)
        dangling = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
        if dangling:
            tables = sorted({str(row[0]) for row in dangling})
            raise RuntimeError(f"the migration left rows without their parent in {tables}")
        await connection.commit()
    finally:
        await connection.rollback()
        await driver.execute("PRAGMA foreign_keys=ON")
