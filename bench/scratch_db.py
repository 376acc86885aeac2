"""A throw-away, migrated database for one benchmark run: a SQLite file in a temporary folder,
or a database of its own (`salesbot_bench_<hex>`) on the PostgreSQL server of
`TEST_DATABASE_URL`, never the `test` database itself; either is removed afterwards."""

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
from tests.support.services import scratch_database


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
