"""Stopping never cancels the sweep tick it promises to wait for.

APScheduler 3's asyncio executor cancels its running jobs on shutdown; a tick cancelled between
sending a message and marking it sent gives its row back, and the message goes out twice after
the restart. The tick now runs as a task of ours (bot/ticker.py): SIGTERM and /quit pause the
trigger, wait for the tick, and only then shut APScheduler down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections import Counter
from pathlib import Path

import pytest

from bot.config import Settings
from bot.ticker import Ticker
from storage.db import create_engine
from tests.support.processes import BotProcess, wait_for
from tests.support.seed import seed_team
from tests.support.services import create_schema, drop_schema, run_sync, schema_engine
from tests.support.telegram_api import ThreadedFakeBotApi

MEMBERS = 3


def _errors(process: BotProcess) -> list[str]:
    return [
        json.dumps(line)
        for line in process.log_lines()
        if line.get("level") in ("ERROR", "CRITICAL") or "Traceback" in str(line.get("msg"))
    ]


def _shutting_down(process: BotProcess) -> bool:
    return any(line.get("msg") == "shutting down" for line in process.log_lines())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_sigterm_in_the_middle_of_a_sending_tick_sends_nothing_twice(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
):
    schema: str | None = None
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")  # PostgreSQL present, or skip
        schema = await create_schema(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    api = ThreadedFakeBotApi(enforce_limits=False)
    api.start()

    def bot(name: str, bot_id: int) -> BotProcess:
        return BotProcess(
            name, tmp_path, api_url=api.base_url, database_url=url, schema=schema, bot_id=bot_id
        )

    try:
        first = bot("first", 3001).start()
        first.wait_healthy()
        api.hold_sends()  # the first digest leaves, and its answer waits for the signal
        engine = schema_engine(url, schema) if schema else create_engine(url)
        try:
            seeded = await seed_team(engine, members=MEMBERS, digest_due=True)
        finally:
            await engine.dispose()
        await asyncio.to_thread(wait_for, lambda: api.held >= 1, 60, "a digest on the wire")
        first.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        # The runtime has begun to stop (the old code had cancelled the tick by now).
        await asyncio.to_thread(wait_for, lambda: _shutting_down(first), 30, "shutdown to begin")
        await asyncio.sleep(0.5)
        api.release_sends()
        exits = [await asyncio.to_thread(first.stop, 30)]

        second = bot("second", 3002).start()
        try:
            second.wait_healthy()
            await asyncio.to_thread(
                wait_for,
                lambda: {m.chat_id for m in api.sent} >= set(seeded.telegram_ids),
                60,
                "every member's digest",
            )
            await asyncio.to_thread(
                wait_for, lambda: second.metric("outbox_backlog") == 0, 30, "an empty outbox"
            )
        finally:
            exits.append(second.stop())
    finally:
        api.stop()
        if schema:
            run_sync(lambda: drop_schema(url, schema))
    per_member = Counter(message.chat_id for message in api.sent)
    assert per_member == Counter(seeded.telegram_ids), per_member  # each exactly once
    assert _errors(first) == [] and _errors(second) == [], (first.tail(), second.tail())
    assert exits == [0, 0], (first.tail(), second.tail())


# --- the console's /quit ------------------------------------------------------------------------


def test_quit_in_the_console_during_the_first_tick_lets_it_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from bot import __main__ as entry
    from bot.jobs.sweep import DeliverySweep
    from bot.telegram import console

    settings = Settings(
        _env_file=None, bot_token=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    )
    outcomes: list[str] = []
    real_run_once = DeliverySweep.run_once

    async def scenario() -> None:
        ticking, quitted = asyncio.Event(), asyncio.Event()

        async def first_tick(self: DeliverySweep):  # type: ignore[no-untyped-def]
            ticking.set()
            try:
                await quitted.wait()  # still ticking when /quit is typed
                report = await real_run_once(self)
            except asyncio.CancelledError:
                outcomes.append("cancelled")
                raise
            outcomes.append("finished")
            return report

        async def quit_at_once(*_args: object) -> None:
            await ticking.wait()
            quitted.set()  # "/quit": run_console returns

        monkeypatch.setattr(DeliverySweep, "run_once", first_tick)
        monkeypatch.setattr(console, "run_console", quit_at_once)
        await entry._console(settings)
        await asyncio.sleep(0.1)  # an executor's cancellation would land here

    asyncio.run(entry._migrate(settings))
    caplog.set_level(logging.INFO)
    asyncio.run(scenario())
    assert outcomes == ["finished"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- the Ticker itself --------------------------------------------------------------------------


async def test_stop_pauses_the_trigger_and_waits_for_the_tick_in_progress(
    caplog: pytest.LogCaptureFixture,
):
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def tick() -> None:
        runs.append("start")
        started.set()
        await release.wait()
        runs.append("end")

    ticker = Ticker(tick, interval_seconds=0.01)
    ticker.start()
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(ticker.stop(10))
    for _ in range(20):  # the trigger fires meanwhile: no second tick, no end of waiting
        await asyncio.sleep(0.01)
    assert not stopping.done() and runs == ["start"]
    release.set()
    assert await asyncio.wait_for(stopping, 10) is True
    await asyncio.sleep(0.05)
    assert runs == ["start", "end"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_tick_past_the_deadline_is_cancelled_with_a_warning_only(
    caplog: pytest.LogCaptureFixture,
):
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    ticker = Ticker(stuck, interval_seconds=60)
    ticker.start()
    await asyncio.wait_for(started.wait(), 10)
    assert await ticker.stop(0.1) is False
    await asyncio.sleep(0.05)
    assert ticker.current is None
    assert [r.levelname for r in caplog.records if r.name == "bot.ticker"] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
