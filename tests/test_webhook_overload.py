"""Webhook overload: a bounded number of updates in flight, 503 (so Telegram redelivers) when no
slot frees in time, and in-process retries of updates whose database was briefly unavailable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram.methods import SendMessage
from aiogram.types import TelegramObject
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.telegram.middlewares as middlewares
from bot.clock import FrozenClock
from bot.runtime import Runtime
from storage.models import ProcessedUpdate
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

PATH = "/telegram/webhook"
PEOPLE = [Person(601 + i, f"Member{i}") for i in range(5)]


@pytest.fixture
def session() -> GatedSession:
    return GatedSession()


@pytest.fixture
def runtime(engine: AsyncEngine, clock: FrozenClock, session: GatedSession) -> Runtime:
    settings = runtime_settings(webhook_max_in_flight=2, webhook_slot_wait_seconds=0.3)
    return Runtime.create(settings, clock=clock, session=session, engine=engine, scheduler=False)


async def processed(engine: AsyncEngine, update_id: int) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
        )
    return found is not None


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (counters, not events, are what we have)
            await asyncio.sleep(0.01)


async def test_full_slots_make_requests_wait_then_503_and_a_redelivery_is_handled_once(
    runtime: Runtime, session: GatedSession, engine: AsyncEngine
):
    one, two, three, four, _ = PEOPLE
    async with serving(runtime) as client:
        session.hold()  # replies cannot leave: both updates stay in flight
        for number, person in ((1, one), (2, two)):
            answer = await client.post(
                PATH, json=message_update(number, person, "/start"), headers=GOOD
            )
            assert answer.status == 200
        await until(lambda: runtime.in_flight == 2)

        # No slot frees within the bound: 503, not handled, not recorded.
        refused = await client.post(PATH, json=message_update(3, three, "/start"), headers=GOOD)
        assert refused.status == 503
        assert refused.headers.get("Retry-After")
        assert runtime.metrics.updates_overloaded == 1
        scraped = await (await client.get("/metrics")).text()
        assert "webhook_requests_overloaded_total 1" in scraped

        # A request arriving while full waits for a slot instead of being answered 200 at once.
        runtime.settings.webhook_slot_wait_seconds = 30.0
        waiting = asyncio.create_task(
            client.post(PATH, json=message_update(4, four, "/start"), headers=GOOD)
        )
        await until(lambda: runtime.metrics.webhook_waiting == 1)
        await asyncio.sleep(0.1)
        assert not waiting.done() and runtime.in_flight == 2
        session.release()
        assert (await waiting).status == 200
        await settle(runtime)

        assert session.texts_to(three.id) == []
        assert not await processed(engine, 3)
        for person in (one, two, four):
            assert len(session.texts_to(person.id)) == 1, person

        # Telegram redelivers the refused update: handled now, and only once.
        for _attempt in range(2):
            again = await client.post(PATH, json=message_update(3, three, "/start"), headers=GOOD)
            assert again.status == 200
            await settle(runtime)
        assert len(session.texts_to(three.id)) == 1
        assert await processed(engine, 3)
        assert runtime.metrics.updates_duplicate == 1
        assert runtime.metrics.updates_failed == 0


def failing_database(times: int) -> Callable[..., Awaitable[Any]]:
    """A message middleware (inside the update's unit of work) whose first `times` calls fail
    the way an exhausted pool does."""
    calls = {"n": 0}

    async def middleware(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            raise sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")
        return await handler(event, data)

    return middleware


async def test_a_transient_database_error_is_retried_and_the_update_is_handled_once(
    runtime: Runtime, session: GatedSession, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(middlewares, "RETRY_BACKOFF_SECONDS", 0.01)
    runtime.app.dispatcher.message.outer_middleware(failing_database(times=2))
    person = PEOPLE[0]
    async with serving(runtime) as client:
        answer = await client.post(PATH, json=message_update(5, person, "/start"), headers=GOOD)
        assert answer.status == 200
        await settle(runtime)
        [reply] = session.texts_to(person.id)
        assert "went wrong" not in reply and "not answering" not in reply
        assert runtime.metrics.updates_retried == 2
        assert (runtime.metrics.updates_handled, runtime.metrics.updates_failed) == (1, 0)
        assert await processed(engine, 5)
        assert "updates_retried_total 2" in await (await client.get("/metrics")).text()


async def test_an_update_failing_every_retry_is_logged_counted_and_answered(
    runtime: Runtime,
    session: GatedSession,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    monkeypatch.setattr(middlewares, "RETRY_BACKOFF_SECONDS", 0.01)
    runtime.app.dispatcher.message.outer_middleware(failing_database(times=100))
    person = PEOPLE[1]
    async with serving(runtime) as client:
        answer = await client.post(PATH, json=message_update(6, person, "/start"), headers=GOOD)
        assert answer.status == 200
        await settle(runtime)
        assert runtime.metrics.updates_retried == runtime.settings.update_db_retries == 2
        assert runtime.metrics.updates_failed == 1
        [reply] = session.texts_to(person.id)
        assert "database" in reply.lower() or "база" in reply.lower()
        assert not await processed(engine, 6)  # a later redelivery would be handled afresh
        assert "updates_failed_total 1" in await (await client.get("/metrics")).text()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("update 6 failed after 3 attempts" in r.getMessage() for r in errors)


async def test_a_reply_answered_429_waits_it_out_and_is_sent_once(
    runtime: Runtime, session: GatedSession, caplog: pytest.LogCaptureFixture
):
    person = PEOPLE[2]
    session.fail_next(429, "Too Many Requests: retry after 1", method=SendMessage, retry_after=1)
    async with serving(runtime) as client:
        answer = await client.post(PATH, json=message_update(7, person, "/start"), headers=GOOD)
        assert answer.status == 200
        await settle(runtime)
    # Two attempts recorded by the fake: the refused one and the one after the wait.
    attempts = session.texts_to(person.id)
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert "not delivered" not in caplog.text
