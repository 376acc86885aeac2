"""Webhook mode through the real aiohttp app: the secret, fast answers, malformed bodies,
duplicate deliveries and the webhook's registration."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.methods import DeleteWebhook, SetWebhook
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.runtime import SECRET_HEADER, Runtime
from storage.db import create_engine
from storage.models import ProcessedUpdate
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    SECRET,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

OWNER = Person(501, "Olga")
PATH = "/telegram/webhook"


@pytest.fixture
def session() -> GatedSession:
    return GatedSession()


@pytest.fixture
def runtime(engine: AsyncEngine, clock: FrozenClock, session: GatedSession) -> Runtime:
    return Runtime.create(
        runtime_settings(), clock=clock, session=session, engine=engine, scheduler=False
    )


async def test_webhook_mode_refuses_to_start_without_a_secret():
    with pytest.raises(ValidationError, match="requires WEBHOOK_SECRET"):
        runtime_settings(webhook_secret=None)
    with pytest.raises(ValidationError, match="requires WEBHOOK_SECRET"):
        runtime_settings(webhook_secret="")
    with pytest.raises(ValidationError) as bad:
        runtime_settings(webhook_secret="has spaces and ünicode")
    assert "ünicode" not in str(bad.value.errors(include_input=False))
    assert runtime_settings(bot_mode="polling", webhook_secret=None).bot_mode == "polling"
    with pytest.raises(ValidationError, match="requires WEBHOOK_URL"):
        runtime_settings(webhook_url=None)


def test_the_public_url_gets_the_path_only_when_it_has_none():
    assert runtime_settings().public_webhook_url == "https://bot.example.org/telegram/webhook"
    behind_proxy = runtime_settings(
        webhook_url="https://example.org/bots/sales/", webhook_path="hook"
    )
    assert behind_proxy.public_webhook_url == "https://example.org/bots/sales"
    assert behind_proxy.webhook_path == "/hook"
    assert runtime_settings(webhook_port=None, port=9000).listen_port == 9000
    assert runtime_settings(webhook_port=8443, port=9000).listen_port == 8443


async def test_wrong_or_missing_secret_is_401_and_not_handled(
    runtime: Runtime, session: GatedSession, caplog: pytest.LogCaptureFixture
):
    async with serving(runtime) as client:
        missing = await client.post(PATH, json=message_update(1, OWNER, "/start"))
        wrong = await client.post(
            PATH, json=message_update(2, OWNER, "/start"), headers={SECRET_HEADER: "guess"}
        )
        prefix = await client.post(
            PATH, json=message_update(3, OWNER, "/start"), headers={SECRET_HEADER: SECRET[:-1]}
        )
        assert (missing.status, wrong.status, prefix.status) == (401, 401, 401)
        await settle(runtime)
        assert session.texts_to(OWNER.id) == []
        assert runtime.metrics.updates_handled == 0
        assert runtime.metrics.updates_rejected == 3
        async with runtime.app.uow_factory() as uow:
            assert await uow.members.by_telegram_id(OWNER.id) is None
    assert "guess" not in caplog.text


async def test_good_secret_answers_at_once_and_handles_in_the_background(
    runtime: Runtime, session: GatedSession
):
    async with serving(runtime) as client:
        session.hold()  # the reply cannot leave yet: handling is still going on
        response = await client.post(PATH, json=message_update(10, OWNER, "/start"), headers=GOOD)
        assert response.status == 200 and await response.json() == {}
        await asyncio.wait_for(session.waiting.wait(), 10)
        assert runtime.in_flight == 1
        session.release()
        await settle(runtime)
        assert "owner of a new team" in session.texts_to(OWNER.id)[0]
        assert runtime.metrics.updates_handled == 1


async def test_webhook_is_set_with_the_secret_on_start_and_deleted_on_stop(
    runtime: Runtime, session: GatedSession
):
    async with serving(runtime):
        [setting] = session.sent(SetWebhook)
        assert setting.url == "https://bot.example.org/telegram/webhook"
        assert setting.secret_token == SECRET
        assert setting.drop_pending_updates is False
        assert set(setting.allowed_updates or []) >= {"message", "callback_query"}
        assert set(setting.allowed_updates or []) == set(
            runtime.app.dispatcher.resolve_used_update_types()
        )
        assert session.sent(DeleteWebhook) == []
    [deleting] = session.sent(DeleteWebhook)
    assert deleting.drop_pending_updates is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"message": {"text": "Ivanov +7 900 123-45-67"}}', "not an Update"),
        (b"[1, 2, 3]", "not an Update"),
        (b"\xff\xfe", "not JSON"),
    ],
)
async def test_malformed_body_is_400_and_logged_without_its_content(
    runtime: Runtime,
    session: GatedSession,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    reason: str,
):
    caplog.set_level(logging.INFO)
    async with serving(runtime) as client:
        response = await client.post(PATH, data=body, headers=GOOD)
        assert response.status == 400
    [line] = [r for r in caplog.records if "malformed body" in r.getMessage()]
    assert line.levelno == logging.WARNING and reason in line.getMessage()
    assert "Ivanov" not in caplog.text and "900" not in caplog.text
    assert runtime.metrics.updates_rejected == 1 and runtime.metrics.updates_handled == 0


async def test_duplicate_delivery_is_handled_once(
    runtime: Runtime, session: GatedSession, engine: AsyncEngine
):
    async with serving(runtime) as client:
        update = message_update(77, OWNER, "/start")
        first = await client.post(PATH, json=update, headers=GOOD)
        second = await client.post(PATH, json=update, headers=GOOD)
        assert first.status == second.status == 200
        await settle(runtime)
        assert len(session.texts_to(OWNER.id)) == 1
        assert runtime.metrics.updates_duplicate == 1
        again = await client.post(PATH, json=update, headers=GOOD)
        assert again.status == 200
        await settle(runtime)
        assert len(session.texts_to(OWNER.id)) == 1
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert count == 1


async def test_bad_input_refused_politely_is_not_refused_twice(
    runtime: Runtime, session: GatedSession
):
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        bad = message_update(2, OWNER, "/add " + "Ivanov" * 60)  # name too long
        await client.post(PATH, json=bad, headers=GOOD)
        await settle(runtime)
        await client.post(PATH, json=bad, headers=GOOD)
        await settle(runtime)
    texts = session.texts_to(OWNER.id)
    assert len(texts) == 2, texts
    assert runtime.metrics.by_outcome == {"ok": 1, "refused": 1, "duplicate": 1}


async def test_two_instances_on_one_postgresql_handle_a_redelivered_update_once(
    pg_url: str, pg_schema: str, clock: FrozenClock, engine: AsyncEngine, backend: str
):
    if backend != "postgres":
        pytest.skip("two instances share PostgreSQL; SQLite is one instance")
    sessions = [GatedSession(), GatedSession()]
    engines = [create_engine(pg_url, search_path=pg_schema) for _ in sessions]
    runtimes = [
        Runtime.create(runtime_settings(), clock=clock, session=s, engine=e, scheduler=False)
        for s, e in zip(sessions, engines, strict=True)
    ]
    async with serving(runtimes[0]) as one, serving(runtimes[1]) as two:
        for update_id in range(100, 120):
            update = message_update(update_id, OWNER, "/start" if update_id == 100 else "/today")
            # The same delivery reaches both replicas at the same moment.
            answers = await asyncio.gather(
                one.post(PATH, json=update, headers=GOOD),
                two.post(PATH, json=update, headers=GOOD),
            )
            assert [a.status for a in answers] == [200, 200]
            if update_id == 100:
                await asyncio.gather(*(settle(r) for r in runtimes))
        await asyncio.gather(*(settle(r) for r in runtimes))
    replies = sessions[0].texts_to(OWNER.id) + sessions[1].texts_to(OWNER.id)
    assert len(replies) == 20
    handled = sum(r.metrics.updates_handled for r in runtimes)
    duplicates = sum(r.metrics.updates_duplicate for r in runtimes)
    assert (handled, duplicates) == (20, 20)


async def test_set_webhook_failing_at_start_is_retried_while_serving(
    runtime: Runtime, session: GatedSession
):
    session.fail_next(500, "Internal Server Error", method=SetWebhook)
    async with serving(runtime) as client:
        assert (await client.get("/health")).status == 200
        async with asyncio.timeout(10):
            while len(session.sent(SetWebhook)) < 2:  # noqa: ASYNC110 (a fake's record)
                await asyncio.sleep(0.05)
        response = await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        assert response.status == 200
        await settle(runtime)
        assert session.texts_to(OWNER.id)
