"""Graceful shutdown: an update in the middle of its handling finishes, new ones are refused,
the sweep tick in progress ends, and outbox rows claimed but not sent are given back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.services.alerts import enqueue_alert
from bot.telegram.views.alerts import ALERT_TEXTS
from storage.models import OutboxMessage
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

OWNER = Person(701, "Olga")
ROOT = Path(__file__).resolve().parent.parent
PATH = "/telegram/webhook"


@pytest.fixture(autouse=True)
def probe_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ALERT_TEXTS, "probe", lambda params: f"probe {params['n']}")


async def _owe_alerts(runtime: Runtime, clock: FrozenClock, count: int) -> None:
    async with runtime.app.uow_factory() as uow:
        owner = await uow.members.by_telegram_id(OWNER.id)
        assert owner is not None
        for n in range(count):
            await enqueue_alert(
                uow,
                team_id=owner.team_id,
                member_id=owner.id,
                step="probe",
                params={"n": n},
                dedup_key=str(n),
                now=clock.now(),
            )
        await uow.commit()


async def _outbox(engine: AsyncEngine) -> list[tuple[str, str | None, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(OutboxMessage.dedup_key, OutboxMessage.state, OutboxMessage.lease_owner)
            .where(OutboxMessage.kind == "alert")
            .order_by(OutboxMessage.id)
        )
        return [(key, state, owner) for key, state, owner in rows]


async def test_shutdown_finishes_the_update_in_flight_and_refuses_new_ones(
    engine: AsyncEngine, clock: FrozenClock
):
    session = GatedSession()
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=session, engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        session.hold()
        accepted = await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        assert accepted.status == 200
        await asyncio.wait_for(session.waiting.wait(), 10)  # mid-handling: its reply is leaving
        stopping = asyncio.create_task(runtime.stop())  # what SIGTERM does
        await asyncio.sleep(0.2)
        assert not stopping.done(), "shutdown must wait for the update in flight"
        late = await client.post(PATH, json=message_update(2, OWNER, "/help"), headers=GOOD)
        assert late.status == 503  # Telegram will deliver it again, elsewhere or later
        assert (await client.get("/ready")).status == 503
        session.release()
        await asyncio.wait_for(stopping, 10)
    assert "owner of a new team" in session.texts_to(OWNER.id)[0]
    assert len(session.texts_to(OWNER.id)) == 1
    assert runtime.metrics.updates_handled == 1 and runtime.metrics.updates_failed == 0


async def test_shutdown_lets_the_sweep_tick_finish(engine: AsyncEngine, clock: FrozenClock):
    session = GatedSession()
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=session, engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        await runtime.tick()  # today's digest is out of the way
        await _owe_alerts(runtime, clock, 2)
        session.hold()
        tick = asyncio.create_task(runtime.tick())
        runtime._tick_task = tick  # as the scheduler's job would be recorded
        await asyncio.wait_for(session.waiting.wait(), 10)
        stopping = asyncio.create_task(runtime.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()
        session.release()
        await asyncio.wait_for(stopping, 20)
    assert [state for _key, state, _owner in await _outbox(engine)] == ["sent", "sent"]
    assert runtime.metrics.reminders_sent >= 2


async def test_rows_claimed_but_not_sent_go_back_to_pending_at_the_deadline(
    engine: AsyncEngine, clock: FrozenClock
):
    session = GatedSession()
    runtime = Runtime.create(
        runtime_settings(shutdown_timeout_seconds=0.5),
        clock=clock,
        session=session,
        engine=engine,
        scheduler=False,
    )
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        await runtime.tick()
        await _owe_alerts(runtime, clock, 3)
        session.hold()  # the Bot API hangs: the tick cannot finish in time
        tick = asyncio.create_task(runtime.tick())
        runtime._tick_task = tick
        await asyncio.wait_for(session.waiting.wait(), 10)
        claimed = await _outbox(engine)
        assert [owner for _key, _state, owner in claimed] == [runtime.app.sweep.owner] * 3
        await asyncio.wait_for(runtime.stop(), 10)
        assert tick.done()
    rows = await _outbox(engine)
    # Nothing was sent; nothing stays leased to the stopped instance: another one (or this one
    # restarted) sends them at once instead of after the lease runs out.
    assert rows == [(key, "pending", None) for key, _state, _owner in claimed]


async def test_release_only_gives_back_this_instances_rows(engine: AsyncEngine, clock: FrozenClock):
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=GatedSession(), engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        await runtime.tick()
        await _owe_alerts(runtime, clock, 2)
        from datetime import timedelta

        async with runtime.app.uow_factory() as uow:
            got = await uow.outbox.claim("sweep-mine", clock.now(), timedelta(minutes=2), 1)
            [mine] = got
            [theirs] = await uow.outbox.claim("sweep-other", clock.now(), timedelta(minutes=2), 1)
            await uow.commit()
        async with runtime.app.uow_factory() as uow:
            assert await uow.outbox.release("sweep-mine") == 1
            await uow.commit()
    leases = {key: owner for key, _state, owner in await _outbox(engine)}
    assert list(leases.values()).count("sweep-other") == 1
    assert list(leases.values()).count(None) == 1
    assert mine.id != theirs.id


async def test_the_process_stops_gracefully_on_sigterm(tmp_path):  # type: ignore[no-untyped-def]
    """`python -m bot run` in webhook mode: SIGTERM right after an update was accepted; the
    reply still goes out, the webhook is deleted and the exit code is 0."""
    import json
    import os
    import signal
    import socket
    import sys

    import aiohttp

    from tests.support.runtime_kit import SECRET, TOKEN
    from tests.support.telegram_api import FakeBotApi

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = FakeBotApi()
    base = await api.start()
    root = ROOT
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(
        PYTHONPATH=str(root),
        BOT_TOKEN=TOKEN,
        BOT_MODE="webhook",
        WEBHOOK_URL="https://bot.example.org",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
        TELEGRAM_API_URL=base,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        LOG_FORMAT="json",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        async with client.get(f"{url}/ready") as ready:
                            if ready.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            async with client.post(
                f"{url}/telegram/webhook",
                json=message_update(1, OWNER, "/start"),
                headers=GOOD,
            ) as accepted:
                assert accepted.status == 200
            process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        stderr = (await asyncio.wait_for(process.stderr.read(), 60)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
        await api.stop()
    assert any("owner of a new team" in m.text for m in api.sent), stderr
    assert api.requests[-1] == "deleteWebhook" and "setWebhook" in api.requests
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line.get("outcome") == "ok" and line.get("update_id") == 1 for line in lines)
    assert TOKEN not in stderr and SECRET not in stderr
