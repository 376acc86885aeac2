"""A throw-away, migrated database for one benchmark run: a SQLite file in a temporary folder,
or a database of its own (`salesbot_bench_<hex>`) on the PostgreSQL server of
`TEST_DATABASE_URL`, never the `test` database itself; either is removed afterwards.

`kept_engine` is the exception for iterating on a slow-to-generate base: a database under a
stable name (`salesbot_bench_keep_<name>`, or `<tmp>/salesbot-bench-keep/<name>.sqlite3`) that
outlives the run, migrated to the head on every use; `drop_kept` removes it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import upgrade
from tests.support.services import database_url, drop_database, ensure_database, scratch_database

KEPT_FOLDER = Path(tempfile.gettempdir()) / "salesbot-bench-keep"


@asynccontextmanager
async def scratch_engine(
    backend: str, name: str, **engine_kwargs: Any
) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
        engine = create_engine(f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}", **engine_kwargs)
        try:
            await upgrade(engine)
            yield engine
        finally:
            await engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    async with scratch_database("bench") as url:
        engine = create_engine(url, **engine_kwargs)
        try:
            await upgrade(engine)
            yield engine
        finally:
            await engine.dispose()


def _kept_database(name: str) -> str:
    return f"salesbot_bench_keep_{name}"


async def drop_kept(backend: str, name: str) -> None:
    """Removes a kept base (a half-generated one, or one no longer wanted)."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (KEPT_FOLDER / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)
        return
    await drop_database(database_url(_kept_database(name)))


@asynccontextmanager
async def kept_engine(backend: str, name: str, **engine_kwargs: Any) -> AsyncIterator[AsyncEngine]:
    """A migrated database under a stable name, created when missing and left in place."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{KEPT_FOLDER / f'{name}.sqlite3'}"
    else:
        url = await ensure_database(_kept_database(name))
    engine = create_engine(url, **engine_kwargs)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
