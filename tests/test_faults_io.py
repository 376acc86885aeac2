"""Proof under faults of the outside world, in-process on the real PostgreSQL:

- the Bot API answers 429, 500s, times out and refuses connections for a while (a scriptable
  fake over real HTTP): nothing is dropped, and once it recovers everything queued goes out
  within Telegram's limits (measured from the fake's arrival times);
- the database goes away (a TCP proxy in front of PostgreSQL is cut): handlers answer with a
  polite "try again", readiness says why, and the scheduler's sweep resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import SendMessage
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Overrides, build
from bot.config import DeliverySettings, Settings
from bot.runtime import Runtime
from bot.telegram.local_session import LocalSession
from bot.telegram.sessions import TelegramSession
from storage.db import create_engine
from storage.models import OutboxMessage
from tests.support.processes import await_for, message_update, token_for
from tests.support.proxy import CuttableProxy
from tests.support.seed import seed_team
from tests.support.services import PG_URL
from tests.support.telegram_api import ThreadedFakeBotApi, max_in_window, min_gap_per_chat

# Arrival times on loopback wobble by a few milliseconds around the sender's 1 s spacing.
PER_CHAT_TOLERANCE = 0.05


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def fault_api() -> Iterator[ThreadedFakeBotApi]:
    # Held requests outlast the client's 1 s timeout.
    api = ThreadedFakeBotApi(enforce_limits=True, hold_seconds=3.0, retry_after=1)
    api.start()
    yield api
    api.stop()


async def test_bot_api_faults_drop_nothing_and_recovery_keeps_the_limits(
    engine: AsyncEngine,
    pg_url: str,
    fault_api: ThreadedFakeBotApi,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="bot.telegram.sender")
    members, each = 20, 2
    seeded = await seed_team(engine, members=members, followups_per_member=each)
    total = members * each
    settings = Settings(
        _env_file=None,
        bot_token=token_for(4001),
        telegram_api_url=fault_api.base_url,
        database_url=pg_url,
        delivery=DeliverySettings(retry_backoff_seconds=1, batch_size=100),
    )
    session = TelegramSession(api=TelegramAPIServer.from_base(fault_api.base_url), timeout=1)
    app = build(settings, Overrides(session=session, engine=engine, dedup_updates=False))

    async def sweep_like_the_scheduler(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await app.sweep.run_once()
            await asyncio.sleep(0.2)

    def fault_seen(mode: str, since: int, log_from: int) -> bool:
        if mode == "refuse":
            # Nothing listens, so the fake cannot count these: the sender's log can.
            return any("ClientConnectorError" in r.getMessage() for r in caplog.records[log_from:])
        return sum(1 for a in fault_api.attempts[since:] if a.outcome == mode) >= 2

    stop = asyncio.Event()
    sweeping = asyncio.create_task(sweep_like_the_scheduler(stop))
    try:
        # Each fault lasts a while and until the sweep has run into it: no phase can slip
        # by unnoticed on a slow machine.
        for mode in ("429", "500", "timeout", "refuse"):
            since, log_from = len(fault_api.attempts), len(caplog.records)
            phase_started = time.monotonic()
            fault_api.set_mode(mode)
            await await_for(
                lambda m=mode, a=since, r=log_from, t=phase_started: (
                    time.monotonic() - t >= 1.5 and fault_seen(m, a, r)
                ),
                60,
                f"the sweep to meet {mode}",
            )
            assert len(fault_api.sent) == 0
        fault_api.set_mode("ok")
        await await_for(lambda: len(fault_api.sent) >= total, 60, "everything queued to go out")
        stop.set()
        await sweeping
        # A few more sweeps: nothing left to send, nothing sent twice.
        for _ in range(3):
            report = await app.sweep.run_once()
            assert report.sent == 0
    finally:
        stop.set()
        await asyncio.wait({sweeping}, timeout=30)
        await session.close()

    outcomes = Counter(a.outcome for a in fault_api.attempts if a.method == "sendmessage")
    # Every kind of fault was met, and none was answered by giving up on a message.
    assert outcomes["429"] and outcomes["500"] and outcomes["timeout"], outcomes
    sent = fault_api.sent
    per_chat_text = Counter((m.chat_id, m.text) for m in sent)
    assert len(sent) == total and max(per_chat_text.values()) == 1
    expected = {(chat, name) for chat, name in seeded.followups.values()}
    assert {
        (m.chat_id, name) for m in sent for c, name in expected if c == m.chat_id and name in m.text
    } == expected
    async with engine.connect() as conn:
        states = dict(
            (
                await conn.execute(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                )
            ).all()
        )
    assert states == {"sent": total}
    # Within the limits: the fake never had to refuse for flooding, and by arrival time no
    # second held more than 30 requests, no chat got two within a second.
    assert fault_api.api.limit_violations == 0
    requests = [a for a in fault_api.attempts if a.method == "sendmessage" and a.chat_id]
    assert max_in_window([a.at for a in requests]) <= 30
    assert min_gap_per_chat([(a.chat_id, a.at) for a in requests]) >= 1.0 - PER_CHAT_TOLERANCE


async def _proxied_engine(proxy: CuttableProxy, pg_url: str, schema: str) -> AsyncEngine:
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    # The production engine, as the bot builds it: only the address differs.
    return create_engine(url.render_as_string(hide_password=False), search_path=schema)


@pytest.fixture
async def proxy() -> AsyncIterator[CuttableProxy]:
    target = make_url(PG_URL)
    cut = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await cut.start()
    yield cut
    await cut.stop()


async def test_database_outage_polite_answers_and_the_sweep_resumes(
    engine: AsyncEngine, proxy: CuttableProxy, pg_url: str, pg_schema: str
):
    seeded = await seed_team(engine, members=2)
    owner = seeded.telegram_ids[0]
    russian = await seed_team(engine, members=1, first_telegram_id=7_200_000, language="ru")
    ru_owner = russian.telegram_ids[0]
    session = LocalSession()
    settings = Settings(
        _env_file=None,
        bot_token=token_for(4002),
        bot_mode="webhook",
        webhook_url="https://bot.example.org",
        webhook_secret="outage-secret-abcdef",
        database_url=pg_url,
        delivery=DeliverySettings(sweep_interval_seconds=0.5),
    )
    runtime = Runtime.create(
        settings, session=session, engine=await _proxied_engine(proxy, pg_url, pg_schema)
    )
    update_ids = iter(range(1, 100))

    async def say(text: str, who: int = owner, language: str = "en") -> list[str]:
        session.clear()
        raw: dict[str, Any] = json.loads(message_update(next(update_ids), who, text, language))
        await runtime.process(Update.model_validate(raw, context={"bot": runtime.app.bot}))
        return [m.text for m in session.sent(SendMessage) if m.chat_id == who]

    await runtime.start()
    try:
        assert await runtime.readiness_problem() is None
        normal = await say("/today")
        assert len(normal) == 1 and "wrong" not in normal[0]

        await proxy.cut()
        during = await say("/today")
        assert len(during) == 1
        assert "database is not answering" in during[0] and "try again" in during[0]
        assert "Traceback" not in during[0] and "Error" not in during[0]
        # The member's language is in the database too: the answer is in their Telegram's.
        [in_russian] = await say("/today", ru_owner, "ru")
        assert "База данных сейчас не отвечает" in in_russian
        problem = await runtime.readiness_problem()
        assert problem is not None and problem.startswith("database unreachable")
        # Meanwhile something falls due (written past the proxy): the sweep fails, loudly only
        # in its counter and log, and keeps ticking.
        failures = runtime.metrics.sweep_failures
        late = await seed_team(
            engine, members=1, followups_per_member=1, first_telegram_id=7_500_000
        )
        [(chat, name)] = late.followups.values()
        await await_for(lambda: runtime.metrics.sweep_failures >= failures + 2, 20, "failed ticks")
        assert not [m for m in session.sent(SendMessage) if m.chat_id == chat]

        await proxy.restore()
        pushed = await await_for(
            lambda: [m for m in session.sent(SendMessage) if m.chat_id == chat and name in m.text],
            30,
            "the push after the database came back",
        )
        assert len(pushed) == 1
        assert await runtime.readiness_problem() is None
        after = await say("/today")
        assert len(after) == 1 and "try again" not in after[0]
    finally:
        await runtime.stop()
    assert session.violations == []
