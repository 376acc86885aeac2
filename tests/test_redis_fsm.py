"""REDIS_URL set: conversation state lives in Redis, shared by every instance and following the
update's transaction; cross-instance locks are Redis try-locks."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.locks import LocalLocks, RedisLocks
from bot.runtime import Runtime
from storage.models import FsmRecord
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)
from tests.support.services import REDIS_URL

MANAGER = Person(1001, "Max")
PATH = "/telegram/webhook"


def _runtime(engine: AsyncEngine, clock: FrozenClock, prefix: str) -> tuple[Runtime, GatedSession]:
    session = GatedSession()
    settings = runtime_settings(redis_url=REDIS_URL, redis_prefix=prefix)
    runtime = Runtime.create(settings, clock=clock, session=session, engine=engine, scheduler=False)
    return runtime, session


async def _redis_keys(prefix: str) -> list[str]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted([key async for key in client.scan_iter(match=f"{prefix}:*")])
    finally:
        await client.aclose()


async def test_a_step_by_step_command_continues_on_another_instance(
    engine: AsyncEngine, clock: FrozenClock, redis_prefix: str
):
    one, one_session = _runtime(engine, clock, redis_prefix)
    two, two_session = _runtime(engine, clock, redis_prefix)
    async with serving(one) as first, serving(two) as second:
        for n, text in enumerate(["/start", "/add Ivanov", "/call"], start=1):
            await first.post(PATH, json=message_update(n, MANAGER, text), headers=GOOD)
            await settle(one)
        assert "Which client" in one_session.texts_to(MANAGER.id)[-1]
        assert any(":fsm:" in key for key in await _redis_keys(redis_prefix))
        # The load balancer sends the next answers to the other replica.
        await second.post(PATH, json=message_update(4, MANAGER, "Ivanov"), headers=GOOD)
        await settle(two)
        assert "How did the call" in two_session.texts_to(MANAGER.id)[-1]
        await first.post(PATH, json=message_update(5, MANAGER, "done"), headers=GOOD)
        await settle(one)
        assert "Call with" in one_session.texts_to(MANAGER.id)[-1]
    async with engine.connect() as conn:
        # Nothing in the database's FSM table: Redis holds conversation state now.
        assert await conn.scalar(select(func.count()).select_from(FsmRecord)) == 0


async def test_cancel_clears_the_state_in_redis(
    engine: AsyncEngine, clock: FrozenClock, redis_prefix: str
):
    runtime, session = _runtime(engine, clock, redis_prefix)
    async with serving(runtime) as client:
        for n, text in enumerate(["/start", "/add Ivanov", "/call"], start=1):
            await client.post(PATH, json=message_update(n, MANAGER, text), headers=GOOD)
            await settle(runtime)
        await client.post(PATH, json=message_update(4, MANAGER, "Ivanov"), headers=GOOD)
        await settle(runtime)
        assert "How did the call" in session.texts_to(MANAGER.id)[-1]
        await client.post(PATH, json=message_update(5, MANAGER, "/cancel"), headers=GOOD)
        await settle(runtime)
        assert "Cancelled" in session.texts_to(MANAGER.id)[-1]
        assert not [k for k in await _redis_keys(redis_prefix) if ":fsm:" in k]


async def test_redis_locks_let_one_holder_at_a_time(redis_prefix: str):
    clients = [Redis.from_url(REDIS_URL) for _ in range(2)]
    one, two = (RedisLocks(c, redis_prefix) for c in clients)
    try:
        async with one.try_hold("plan", 30) as first, two.try_hold("plan", 30) as second:
            assert (first, second) == (True, False)
        async with two.try_hold("plan", 30) as again:
            assert again  # released on leaving
        async with one.try_hold("short", 0.05) as held:
            assert held
            await asyncio.sleep(0.2)  # expired meanwhile: taken over by someone else
            async with two.try_hold("short", 30) as taken:
                assert taken
                # Our late release must not free the lock the other one holds now.
        async with one.try_hold("short", 30) as after:
            assert after  # `two` released its own on leaving
    finally:
        for c in clients:
            await c.aclose()


async def test_local_locks_are_try_locks():
    locks = LocalLocks()
    async with locks.try_hold("plan", 30) as first, locks.try_hold("plan", 30) as second:
        assert (first, second) == (True, False)
    async with locks.try_hold("plan", 30) as again:
        assert again


async def test_one_sweep_plans_while_the_other_skips(
    engine: AsyncEngine, clock: FrozenClock, redis_prefix: str
):
    one, _ = _runtime(engine, clock, redis_prefix)
    two, _ = _runtime(engine, clock, redis_prefix)
    locks = RedisLocks(one.redis, redis_prefix)
    async with serving(one), serving(two):
        async with locks.try_hold("sweep-plan", 30) as held:
            assert held
            report = await two.app.sweep.run_once()  # another instance is planning
            assert report.planned == 0
        assert two.metrics.sweep_failures == 0


async def test_ready_reports_redis_unreachable(engine: AsyncEngine, clock: FrozenClock):
    settings = runtime_settings(redis_url="redis://127.0.0.1:1/0")
    runtime = Runtime.create(
        settings, clock=clock, session=GatedSession(), engine=engine, scheduler=False
    )
    try:
        assert (await runtime.readiness_problem() or "").startswith("redis unreachable")
    finally:
        await runtime.close()


async def test_state_writes_wait_for_the_commit_and_vanish_on_rollback(
    engine: AsyncEngine, redis_prefix: str
):
    """Inside an update, the Redis storage follows the unit of work like SqlStorage does."""
    from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.telegram.fsm_storage import DeferredStorage
    from storage.db import create_session_factory
    from storage.uow import UnitOfWorkFactory

    client = Redis.from_url(REDIS_URL)
    keys = DefaultKeyBuilder(prefix=f"{redis_prefix}:fsm", with_destiny=True)
    storage = DeferredStorage(RedisStorage(client, key_builder=keys))
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    uows = UnitOfWorkFactory(create_session_factory(engine))
    try:
        async with uows() as uow:
            update_storage = storage.in_transaction(uow)
            await update_storage.set_state(key, "Steps:name")
            await update_storage.set_data(key, {"client": 1})
            assert await update_storage.get_state(key) == "Steps:name"  # read your own write
            assert await storage.inner.get_state(key) is None  # not written yet
            await uow.rollback()
        assert await storage.get_state(key) is None
        async with uows() as uow:
            update_storage = storage.in_transaction(uow)
            await update_storage.set_state(key, "Steps:outcome")
            await update_storage.set_data(key, {"client": 2})
            await uow.commit()
        assert await storage.get_state(key) == "Steps:outcome"
        assert await storage.get_data(key) == {"client": 2}
    finally:
        await storage.close()


async def test_only_the_last_replica_to_stop_deletes_the_webhook(
    engine: AsyncEngine, clock: FrozenClock, redis_prefix: str
):
    from aiogram.methods import DeleteWebhook, SetWebhook

    one, one_session = _runtime(engine, clock, redis_prefix)
    two, two_session = _runtime(engine, clock, redis_prefix)
    await one.start()
    await two.start()
    assert one_session.sent(SetWebhook) and two_session.sent(SetWebhook)
    await one.stop()  # a rolling update replaces this replica; the other keeps serving
    assert one_session.sent(DeleteWebhook) == []
    await two.stop()
    assert len(two_session.sent(DeleteWebhook)) == 1


def _callback_update(update_id: int, person: Person, data: str) -> dict[str, object]:
    sender = {"id": person.id, "is_bot": False, "first_name": person.first_name}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": sender,
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": person.id, "type": "private"},
                "text": "?",
            },
        },
    }


async def test_forget_drops_conversation_state_kept_in_redis(
    engine: AsyncEngine, clock: FrozenClock, redis_prefix: str
):
    from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.telegram.callbacks import ForgetClient
    from storage.models import Client

    runtime, session = _runtime(engine, clock, redis_prefix)
    redis = Redis.from_url(REDIS_URL)
    keys = DefaultKeyBuilder(prefix=f"{redis_prefix}:fsm", with_destiny=True)
    storage = RedisStorage(redis, key_builder=keys)
    try:
        async with serving(runtime) as client:
            for n, text in enumerate(["/start", "/add Ivanov Petr", "/add Sidorov"], start=1):
                await client.post(PATH, json=message_update(n, MANAGER, text), headers=GOOD)
                await settle(runtime)
            async with engine.connect() as conn:
                ids = dict((await conn.execute(select(Client.name, Client.id))).all())
            # Three colleagues in the middle of a command: two hold Ivanov (by id, by name).
            states = {
                2001: {"cid": ids["Ivanov Petr"]},
                2002: {"draft": "call Ivanov Petr tomorrow"},
                2003: {"cid": ids["Sidorov"], "draft": "format: xlsx"},
            }
            for user, data in states.items():
                key = StorageKey(bot_id=42, chat_id=user, user_id=user)
                await storage.set_state(key, "NoteFlow:text")
                await storage.set_data(key, data)
            await client.post(
                PATH, json=message_update(4, MANAGER, "/forget Ivanov Petr"), headers=GOOD
            )
            await settle(runtime)
            assert "Erase the personal data" in session.texts_to(MANAGER.id)[-1]
            press = ForgetClient(act="yes", cid=ids["Ivanov Petr"]).pack()
            await client.post(PATH, json=_callback_update(5, MANAGER, press), headers=GOOD)
            await settle(runtime)
            async with engine.connect() as conn:
                erased = await conn.scalar(
                    select(Client.erased_at).where(Client.id == ids["Ivanov Petr"])
                )
            assert erased is not None
        left = [k for k in await _redis_keys(redis_prefix) if ":fsm:" in k]
        assert left and all(":2003:" in k for k in left), left
    finally:
        await redis.aclose()
