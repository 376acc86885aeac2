"""A throw-away, migrated database for one benchmark run: a SQLite file in a temporary folder,
or a fresh schema in the PostgreSQL of `TEST_DATABASE_URL`; either is removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import upgrade

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def create_schema() -> str:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return schema


async def drop_schema(schema: str) -> None:
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@asynccontextmanager
async def scratch_engine(
    backend: str, name: str, **engine_kwargs: Any
) -> AsyncIterator[AsyncEngine]:
    schema = None
    folder: Path | None = None
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
        engine = create_engine(f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}", **engine_kwargs)
    else:
        schema = await create_schema()
        engine = create_engine(PG_URL, search_path=schema, **engine_kwargs)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        if schema:
            await drop_schema(schema)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
