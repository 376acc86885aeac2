"""Duplicate deliveries and the storage pieces of running several instances: processed update
ids, their pruning, the outbox claim's batch size, and migrations started by two replicas."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.runtime import Runtime
from storage.db import create_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import ProcessedUpdate
from storage.repositories.members import MemberRepository
from storage.uow import UnitOfWorkFactory
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

OWNER = Person(801, "Olga")
PATH = "/telegram/webhook"


def _runtime(engine: AsyncEngine, clock: FrozenClock, session: GatedSession) -> Runtime:
    return Runtime.create(
        runtime_settings(), clock=clock, session=session, engine=engine, scheduler=False
    )


async def test_claiming_an_update_id_twice_fails_and_old_ids_are_pruned(
    engine: AsyncEngine, clock: FrozenClock
):
    from storage.db import create_session_factory

    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        assert await uow.updates.claim(1, clock.now() - timedelta(days=3))
        assert await uow.updates.claim(2, clock.now())
        assert not await uow.updates.claim(1, clock.now())
        await uow.commit()
    async with uows() as uow:
        assert not await uow.updates.claim(2, clock.now())
        assert await uow.updates.prune(clock.now() - timedelta(days=2)) == 1
        await uow.commit()
    async with uows() as uow:
        assert await uow.updates.claim(1, clock.now())  # forgotten, so taken again
        await uow.commit()


async def test_the_tick_prunes_processed_updates(engine: AsyncEngine, clock: FrozenClock):
    runtime = _runtime(engine, clock, GatedSession())
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        clock.advance(timedelta(days=3))
        await client.post(PATH, json=message_update(2, OWNER, "/help"), headers=GOOD)
        await settle(runtime)
        await runtime.tick()
        async with engine.connect() as conn:
            left = (await conn.execute(select(ProcessedUpdate.update_id))).scalars().all()
        assert left == [2]


async def test_a_handler_that_crashes_leaves_the_update_free_for_a_redelivery(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
):
    """The id is recorded in the update's own transaction: a crash rolls it back with
    everything else, so Telegram's redelivery is handled instead of silently dropped."""
    session = GatedSession()
    runtime = _runtime(engine, clock, session)
    # Every update's first read: the member (with the conversation state, on the SQL storage).
    original = MemberRepository.with_team_and_conversation
    crashes = [RuntimeError("database hiccup")]

    async def flaky(self: MemberRepository, telegram_id: int, conversation: str):  # type: ignore[no-untyped-def]
        if crashes:
            raise crashes.pop()
        return await original(self, telegram_id, conversation)

    monkeypatch.setattr(MemberRepository, "with_team_and_conversation", flaky)
    async with serving(runtime) as client:
        update = message_update(5, OWNER, "/start")
        await client.post(PATH, json=update, headers=GOOD)
        await settle(runtime)
        assert runtime.metrics.updates_failed == 1
        assert "Something went wrong" in session.texts_to(OWNER.id)[0]
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
        await client.post(PATH, json=update, headers=GOOD)
        await settle(runtime)
    assert "owner of a new team" in session.texts_to(OWNER.id)[1]
    assert runtime.metrics.updates_handled == 1 and runtime.metrics.updates_duplicate == 0


async def test_harness_and_console_updates_are_not_deduplicated(harness):  # type: ignore[no-untyped-def]
    # They number updates from 1 on every start; Telegram's ids are the only global ones.
    owner = Person(802, "Olga")
    await harness.send(owner, "/start")
    async with harness.app.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0


async def test_outbox_claim_takes_no_more_than_the_batch(engine: AsyncEngine, clock: FrozenClock):
    runtime = _runtime(engine, clock, GatedSession())
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        await runtime.tick()
        async with runtime.app.uow_factory() as uow:
            owner = await uow.members.by_telegram_id(OWNER.id)
            assert owner is not None
            for n in range(5):
                await uow.outbox.enqueue(
                    team_id=owner.team_id,
                    member_id=owner.id,
                    kind="alert",
                    dedup_key=f"batch:{n}",
                    due_at=clock.now(),
                    next_attempt_at=clock.now(),
                    late=False,
                    now=clock.now(),
                    payload={"step": "x", "params": {}},
                )
            await uow.commit()
        lease = timedelta(minutes=2)
        async with runtime.app.uow_factory() as uow:
            first = await uow.outbox.claim("a", clock.now(), lease, 1)
            second = await uow.outbox.claim("b", clock.now(), lease, 3)
            third = await uow.outbox.claim("c", clock.now(), lease, 3)
            await uow.commit()
    assert (len(first), len(second), len(third)) == (1, 3, 1)
    assert len({r.id for r in first + second + third}) == 5


async def test_two_replicas_migrating_at_once_take_turns(pg_url: str):
    """MIGRATE_ON_START on two replicas: the advisory lock makes the second wait, then find
    the schema at head (without it both would create the same tables and one would fail)."""
    schema = f"m_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engines = [create_engine(pg_url, search_path=schema) for _ in range(2)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            await e.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def test_the_sweep_sends_round_robin_over_members():
    from datetime import UTC, datetime

    from bot.jobs.sweep import interleave_members
    from storage.repositories.outbox import OutboxRow

    moment = datetime(2026, 12, 2, tzinfo=UTC)

    def row(row_id: int, member_id: int) -> OutboxRow:
        return OutboxRow(row_id, 1, member_id, "alert", None, moment, 0, False)

    rows = [row(1, 10), row(2, 10), row(3, 10), row(4, 20), row(5, 30), row(6, 30)]
    assert [r.id for r in interleave_members(rows)] == [1, 4, 5, 2, 6, 3]
    assert interleave_members([]) == []


async def test_a_database_outage_is_answered_as_such_in_the_members_language(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
):
    from sqlalchemy.exc import OperationalError

    session = GatedSession()
    runtime = _runtime(engine, clock, session)

    async def down(self: MemberRepository, telegram_id: int, *_: str):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(MemberRepository, "with_team", down)
    monkeypatch.setattr(MemberRepository, "with_team_and_conversation", down)
    russian = Person(803, "Ольга", language="ru")
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await client.post(PATH, json=message_update(2, russian, "/start"), headers=GOOD)
        await settle(runtime)
    assert session.texts_to(OWNER.id) == [
        "The database is not answering right now. Nothing was saved; please try again in a minute."
    ]
    assert "База данных сейчас не отвечает" in session.texts_to(russian.id)[0]
    assert runtime.metrics.updates_failed == 2
