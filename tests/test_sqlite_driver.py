"""SQLite's statements run on the event loop in one step, off it when they are heavy or must
wait, and the transaction semantics stay those of BEGIN IMMEDIATE (storage/sqlite_driver.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import sqlite_driver
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.builders import NOW, team_member_client, team_with_owner


@pytest.fixture
def backend() -> str:
    """This module is about SQLite only: the `engine` fixture gives a migrated SQLite file."""
    return "sqlite"


@pytest.fixture
def sqlite_engine(engine: AsyncEngine) -> AsyncEngine:
    return engine


async def _driver(uow: UnitOfWork) -> sqlite_driver.LoopFirstConnection:
    connection = await uow.session.connection()
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    assert isinstance(adapted, sqlite_driver.LoopFirstConnection)
    return adapted


async def test_an_update_reads_and_writes_on_the_loop_and_hops_only_to_commit(
    sqlite_engine: AsyncEngine,
):
    uows = UnitOfWorkFactory(create_session_factory(sqlite_engine), serialize=True)
    async with uows() as uow:
        team_id, member_id, client_id = await team_member_client(uow)
        await uow.commit()
    async with uows() as uow:
        # What `/call Иванов done` does.
        await uow.members.with_team(42)
        driver = await _driver(uow)
        before = driver.hops
        client = await uow.clients.get(team_id, client_id)
        assert client is not None
        await uow.activities.add(
            team_id=team_id,
            client_id=client_id,
            author_id=member_id,
            kind="call",
            outcome="done",
            text=None,
            occurred_at=NOW,
        )
        await uow.clients.update(team_id, client_id, last_contact_at=NOW, updated_at=NOW)
        await uow.followups.close_pending(team_id, client_id, "done", NOW)
        await uow.followups.add(
            team_id=team_id,
            client_id=client_id,
            manager_id=member_id,
            created_by=member_id,
            kind="call",
            due_at=NOW,
            due_on=NOW.date(),
            date_only=True,
            reason=None,
            now=NOW,
        )
        assert driver.hops == before
        await uow.commit()
        assert driver.hops == before + 1
    # Returned to the pool after a commit: nothing to roll back, no hop for it.
    assert driver.hops == before + 1
    async with uows() as uow:
        assert len(await uow.activities.recent(team_id, client_id, ["call"], 5)) == 1


async def test_a_connection_returned_mid_transaction_is_rolled_back(sqlite_engine: AsyncEngine):
    uows = UnitOfWorkFactory(create_session_factory(sqlite_engine), serialize=True)
    async with uows() as uow:
        team_id, _member_id, client_id = await team_member_client(uow)
        await uow.commit()
    async with uows() as uow:
        await uow.clients.update(team_id, client_id, name="Петров")
        # Left without commit: the write is undone and the write lock released.
    async with uows() as uow:
        client = await uow.clients.get(team_id, client_id)
        assert client is not None and client.name == "Иванов"
        await uow.clients.update(team_id, client_id, name="Сидоров")
        await uow.commit()


async def test_a_heavy_read_moves_off_the_loop_and_keeps_the_transaction(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
):
    # No processor time at all on the loop: the first progress check interrupts the read.
    monkeypatch.setattr(sqlite_driver, "LOOP_BUDGET_SECONDS", -1.0)
    heavy = "SELECT count(*) FROM members a, members b, members c, members d"
    uows = UnitOfWorkFactory(create_session_factory(sqlite_engine), serialize=True)
    async with uows() as uow:
        for n in range(13):
            await team_with_owner(uow, telegram_id=100 + n)
        driver = await _driver(uow)
        before = driver.hops
        count = (await uow.session.execute(text(heavy))).scalar_one()
        assert count == 13**4
        assert driver.hops == before + 1  # interrupted on the loop, run again on the thread
        assert heavy in driver.dbapi.slow_statements
        await uow.commit()  # the writes before the interrupted read are still there
    async with uows() as uow:
        assert await uow.teams.count() == 13
        driver = await _driver(uow)
        before = driver.hops
        assert (await uow.session.execute(text(heavy))).scalar_one() == 13**4
        assert driver.hops == before + 1  # remembered: straight to the thread


async def test_waiting_for_another_writer_does_not_block_the_event_loop(
    sqlite_engine: AsyncEngine, tmp_path: Path
):
    # Another process (here: a plain sqlite3 connection) holds the write lock.
    path = sqlite_engine.url.database
    assert path
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=20_000)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        uows = UnitOfWorkFactory(create_session_factory(engine), serialize=True)

        async def write() -> None:
            async with uows() as uow:
                await team_with_owner(uow, telegram_id=42)
                await uow.commit()

        other.execute("BEGIN IMMEDIATE")
        writer = asyncio.create_task(write())
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        # The loop ran on while the writer waited for the lock (on the driver's thread).
        assert ticks == 20 and not writer.done()
        other.commit()
        await asyncio.wait_for(writer, 20)
        async with uows() as uow:
            assert await uow.teams.count() == 1
    finally:
        other.close()
        await engine.dispose()


def _fsm_keys(engine: AsyncEngine) -> list[str]:
    path = engine.url.database
    assert path
    with sqlite3.connect(path) as plain:
        return [key for (key,) in plain.execute("SELECT key FROM fsm_states ORDER BY key")]


async def test_a_transaction_sqlite_rolled_back_on_its_own_is_not_continued_in_autocommit(
    sqlite_engine: AsyncEngine,
):
    insert = "INSERT {}INTO fsm_states (key, state, updated_at) VALUES (:key, 's', :now)"
    uows = UnitOfWorkFactory(create_session_factory(sqlite_engine), serialize=True)
    async with uows() as uow:
        await uow.fsm.put("kept", NOW, state="s")
        await uow.commit()
    with pytest.raises(exc.OperationalError, match="rolled back by SQLite"):
        async with uows() as uow:
            await uow.fsm.put("a", NOW, state="s")
            # A conflict that makes SQLite itself roll the whole transaction back, as an I/O
            # error or a full disk may; the caller goes on as if only the statement failed.
            with pytest.raises(exc.IntegrityError):
                await uow.session.execute(
                    text(insert.format("OR ROLLBACK ")), {"key": "kept", "now": NOW}
                )
            # Neither a hot statement nor one through the session runs in autocommit.
            with pytest.raises(exc.OperationalError, match="rolled back by SQLite"):
                await uow.fsm.put("b", NOW, state="s")
            with pytest.raises(exc.OperationalError, match="rolled back by SQLite"):
                await uow.session.execute(text(insert.format("")), {"key": "c", "now": NOW})
            # Nor does the commit report success for work SQLite has thrown away.
            await uow.commit()
    assert _fsm_keys(sqlite_engine) == ["kept"]
    async with uows() as uow:  # the connection is sound for the next unit of work
        await uow.fsm.put("d", NOW, state="s")
        await uow.commit()
    assert _fsm_keys(sqlite_engine) == ["d", "kept"]


async def test_begin_waits_on_the_thread_for_every_kind_of_busy(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
):
    uows = UnitOfWorkFactory(create_session_factory(sqlite_engine), serialize=True)
    async with uows() as uow:
        driver = await _driver(uow)
        await uow.commit()
    run = sqlite_driver._run
    refused: list[str] = []

    def busy_recovery_once(connection: sqlite3.Connection, sql: str, parameters: object) -> object:
        if sql == sqlite_driver._BEGIN and not refused:
            # Another connection is recovering the WAL: an extended code of SQLITE_BUSY.
            refused.append(sql)
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY  # type: ignore[attr-defined]
            error.sqlite_errorname = "SQLITE_BUSY_RECOVERY"  # type: ignore[attr-defined]
            raise error
        return run(connection, sql, parameters)

    monkeypatch.setattr(sqlite_driver, "_run", busy_recovery_once)
    before = driver.hops
    async with uows() as uow:
        await uow.fsm.put("k", NOW, state="s")
        assert await _driver(uow) is driver
        assert refused == [sqlite_driver._BEGIN]
        assert driver.hops == before + 1  # BEGIN waited on the thread; the write ran on the loop
        await uow.commit()
    assert _fsm_keys(sqlite_engine) == ["k"]
