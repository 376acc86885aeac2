"""/health, /ready and /metrics on the runtime's aiohttp app, in webhook and polling mode."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.runtime import Runtime
from storage.db import create_engine
from storage.migrate import downgrade, head_revision, revisions_in_order
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

OWNER = Person(601, "Olga")


def _runtime(engine: AsyncEngine, clock: FrozenClock, **overrides: object) -> Runtime:
    return Runtime.create(
        runtime_settings(**overrides),
        clock=clock,
        session=GatedSession(),
        engine=engine,
        scheduler=False,
    )


def parse_prometheus(text: str) -> dict[str, float]:
    """Check the exposition format strictly and return the samples."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    described: dict[str, str] = {}
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert help_text and name not in described
            described[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in {"counter", "gauge"} and name in described and name not in typed
            typed[name] = kind
        else:
            match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*) (-?[0-9.]+(?:e[+-]?\d+)?)", line)
            assert match, line
            name = match.group(1)
            assert name in typed, f"{name} has no TYPE line before it"
            if typed[name] == "counter":
                assert name.endswith("_total")
            samples[name] = float(match.group(2))
    return samples


async def test_health_and_ready_when_all_is_well(engine: AsyncEngine, clock: FrozenClock):
    runtime = _runtime(engine, clock)
    async with serving(runtime) as client:
        health = await client.get("/health")
        assert health.status == 200 and await health.text() == "ok"
        ready = await client.get("/ready")
        assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_not_ready_when_the_database_is_unreachable(clock: FrozenClock):
    # Nothing listens on port 1: the connection is refused at once.
    dead = create_engine("postgresql+asyncpg://postgres:pw@127.0.0.1:1/nowhere")
    runtime = _runtime(dead, clock)
    client_app = runtime.web_app()  # no lifecycle: start() would try the database too
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(client_app)) as client:
        ready = await client.get("/ready")
        assert ready.status == 503
        body = await ready.json()
        assert body["status"] == "not ready" and "database unreachable" in body["reason"]
        assert "pw" not in body["reason"]
        assert (await client.get("/health")).status == 200
        metrics = parse_prometheus(await (await client.get("/metrics")).text())
        assert "updates_handled_total" in metrics and "outbox_backlog" not in metrics
    await dead.dispose()


async def test_not_ready_when_migrations_are_behind(
    engine: AsyncEngine, clock: FrozenClock, backend: str
):
    previous = revisions_in_order()[-2]
    await downgrade(engine, previous)
    runtime = _runtime(engine, clock)
    problem = await runtime.readiness_problem()
    assert problem == f"database schema at {previous}, code expects {head_revision()}"
    from storage.migrate import upgrade

    await upgrade(engine)
    assert await runtime.readiness_problem() is None
    await runtime.close()


async def test_not_ready_while_shutting_down(engine: AsyncEngine, clock: FrozenClock):
    runtime = _runtime(engine, clock)
    async with serving(runtime) as client:
        runtime._closing = True  # what stop() does first
        ready = await client.get("/ready")
        assert ready.status == 503 and (await ready.json())["reason"] == "shutting down"
        posted = await client.post(
            "/telegram/webhook", json=message_update(1, OWNER, "/start"), headers=GOOD
        )
        assert posted.status == 503
        runtime._closing = False


async def test_metrics_count_updates_sends_and_the_outbox_backlog(
    engine: AsyncEngine, clock: FrozenClock
):
    runtime = _runtime(engine, clock)
    async with serving(runtime) as client:
        await client.post(
            "/telegram/webhook", json=message_update(1, OWNER, "/start"), headers=GOOD
        )
        await settle(runtime)
        async with runtime.app.uow_factory() as uow:
            owner = await uow.members.by_telegram_id(OWNER.id)
            assert owner is not None
            for n, minutes_ago in enumerate((30, 5)):
                await uow.outbox.enqueue(
                    team_id=owner.team_id,
                    member_id=owner.id,
                    kind="alert",
                    dedup_key=f"probe:{n}",
                    due_at=clock.now() - timedelta(minutes=minutes_ago),
                    next_attempt_at=clock.now(),
                    late=False,
                    now=clock.now(),
                    payload={"step": "no-such-step", "params": {}},
                )
            await uow.commit()
        response = await client.get("/metrics")
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        metrics = parse_prometheus(await response.text())
        assert metrics["updates_handled_total"] == 1
        assert metrics["updates_failed_total"] == 0
        assert metrics["outbox_backlog"] == 2
        assert metrics["outbox_oldest_due_seconds"] == 30 * 60
        assert metrics["reminders_sent_total"] == 0
        assert metrics["process_resident_memory_bytes"] > 10_000_000
        assert 0 < time.time() - metrics["process_start_time_seconds"] < 600


async def test_reminders_sent_are_counted_from_sweep_reports(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
):
    from bot.telegram.views.alerts import ALERT_TEXTS

    monkeypatch.setitem(ALERT_TEXTS, "probe", lambda params: f"probe {params['n']}")
    session = GatedSession()
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=session, engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        await client.post(
            "/telegram/webhook", json=message_update(1, OWNER, "/start"), headers=GOOD
        )
        await settle(runtime)
        from bot.services.alerts import alert_owners

        async with runtime.app.uow_factory() as uow:
            owner = await uow.members.by_telegram_id(OWNER.id)
            assert owner is not None
            await alert_owners(
                uow,
                team_id=owner.team_id,
                step="probe",
                params={"n": 1},
                dedup_key="one",
                now=clock.now(),
            )
            await uow.commit()
        session.clear()
        await runtime.tick()
        metrics = parse_prometheus(await (await client.get("/metrics")).text())
        # The new team's morning digest goes out in the same tick as the alert.
        assert "probe 1" in session.texts_to(OWNER.id)
        assert metrics["reminders_sent_total"] == len(session.texts_to(OWNER.id))
        assert metrics["outbox_backlog"] == 0 and metrics["outbox_oldest_due_seconds"] == 0


async def test_polling_mode_serves_probes_but_no_webhook_route(
    engine: AsyncEngine, clock: FrozenClock
):
    runtime = _runtime(engine, clock, bot_mode="polling", webhook_secret=None)
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(runtime.web_app())) as client:
        assert (await client.get("/health")).status == 200
        assert (await client.get("/ready")).status == 200
        posted = await client.post("/telegram/webhook", json=message_update(1, OWNER, "/start"))
        assert posted.status in (404, 405)
    await runtime.close()
