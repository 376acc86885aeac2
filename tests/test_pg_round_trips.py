"""PostgreSQL round trips on the update path (issue 11): counted at asyncpg's protocol, so a
change that adds one (a BEGIN before a read-only update, a ping of three exchanges) fails here.
What is sent must stay what the transaction needs: a read after a write runs inside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.db
from storage.db import create_engine, create_session_factory
from storage.repositories.sent_messages import SentMessageDTO
from storage.uow import UnitOfWorkFactory
from tests.support.builders import NOW, team_member_client
from tests.support.round_trips import CLOSE, Log, instrument


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
async def counted(engine: AsyncEngine) -> AsyncIterator[tuple[UnitOfWorkFactory, Log]]:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        await team_member_client(uow)
        await uow.commit()
    await engine.dispose()  # the connections opened from here on are counted
    log = Log()
    instrument(engine, log)
    yield uows, log


def sent(log: Log, start: int) -> list[str]:
    """What was sent since `start`: BEGIN, COMMIT, ... as is, a statement by its first word.
    A statement's preparation (once per connection) is left out."""
    out = []
    for kind, sql, _ms in log.entries[start:]:
        if kind not in (CLOSE, "prepare"):
            out.append(sql.rstrip(";") if kind == "query" else sql.split()[0])
    return out


async def test_an_update_that_only_reads_sends_no_begin_or_commit(
    counted: tuple[UnitOfWorkFactory, Log],
):
    uows, log = counted
    for _ in range(2):  # the first time opens the connection and prepares the statements
        start = len(log.entries)
        async with uows() as uow:
            member, team = await uow.members.with_team(42)  # type: ignore[misc]
            assert await uow.followups.due_for_manager(team.id, member.id, NOW) == []
            await uow.commit()
    assert sent(log, start) == ["SELECT", "SELECT"]


async def test_a_write_begins_the_transaction_and_later_reads_run_inside_it(
    counted: tuple[UnitOfWorkFactory, Log],
):
    uows, log = counted
    for _ in range(2):  # the first time opens the connection and prepares the statements
        start = len(log.entries)
        async with uows() as uow:
            assert await uow.members.with_team(42) is not None
            await uow.fsm.put("k", NOW, state="Steps:details")
            assert await uow.fsm.get("k") == ("Steps:details", {})  # its own write, seen
            await uow.rollback()
    assert sent(log, start) == ["SELECT", "BEGIN", "INSERT", "SELECT", "ROLLBACK"]
    async with uows() as uow:
        assert await uow.fsm.get("k") == (None, {})  # rolled back with the transaction


async def test_a_single_write_is_one_round_trip_and_stays(
    counted: tuple[UnitOfWorkFactory, Log],
):
    uows, log = counted
    async with uows() as uow:
        member, team = await uow.members.with_team(42)  # type: ignore[misc]
        await uow.commit()
    row = SentMessageDTO(42, 7, team.id, member.id, "card", (1,), NOW)
    for message_id in (6, 7):  # the first time prepares the statement
        start = len(log.entries)
        async with uows.single_write() as uow:
            await uow.sent_messages.record([replace(row, message_id=message_id)])
            await uow.commit()
    assert sent(log, start) == ["INSERT"]
    # Its commit alone skips the wait for the disk (a best-effort record); the connection's,
    # and so every later transaction's, stays synchronous.
    assert "set_config" in log.entries[-1][1]
    async with uows() as uow:
        assert await uow.sent_messages.find(member.id, 42, 7) == replace(row, message_id=7)
        setting = await uow.session.execute(text("SHOW synchronous_commit"))
        assert setting.scalar_one() == "on"


async def test_an_idle_connection_the_server_dropped_is_replaced_by_a_one_query_ping(
    engine: AsyncEngine, pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)  # every checkout pings
    pinged = create_engine(pg_url, search_path=pg_schema)
    log = Log()
    instrument(pinged, log)
    try:
        async with pinged.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        start = len(log.entries)
        async with pinged.connect() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first  # the dead one failed its ping (or was seen closed) and went
        start = len(log.entries)
        async with pinged.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert sent(log, start)[:2] == ["", "BEGIN"]  # a live one's: the same, then its own
    finally:
        await pinged.dispose()


async def test_a_counted_activity_and_its_day_bucket_are_one_statement(
    counted: tuple[UnitOfWorkFactory, Log],
):
    uows, log = counted
    async with uows() as uow:
        member, team = await uow.members.with_team(42)  # type: ignore[misc]
        [client] = await uow.session.execute(text("SELECT id FROM clients"))
    for kind in ("call", "call", "note"):
        start = len(log.entries)
        async with uows() as uow:
            await uow.activities.add(
                team_id=team.id,
                client_id=client.id,
                author_id=member.id,
                kind=kind,
                outcome="done" if kind == "call" else None,
                text=None,
                occurred_at=NOW,
            )
            await uow.commit()
        # A note is not counted: no bucket to add to.
        assert sent(log, start) == ["BEGIN", "WITH" if kind == "call" else "INSERT", "COMMIT"]
    async with uows() as uow:
        buckets = (
            await uow.session.execute(text("SELECT kind, day, count FROM activity_days"))
        ).all()
    assert [tuple(row) for row in buckets] == [("call", NOW.date(), 2)]
