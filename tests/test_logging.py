"""Structured logs: one line per update with its time and outcome, in text or JSON; no
secrets (also inside tracebacks and Bot API URLs) and no client data at INFO."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import secrets_of
from bot.clock import FrozenClock
from bot.logs import make_handler
from bot.runtime import Runtime
from tests.support.harness import Person
from tests.support.runtime_kit import (
    GOOD,
    SECRET,
    TOKEN,
    GatedSession,
    message_update,
    runtime_settings,
    serving,
    settle,
)

OWNER = Person(901, "Olga")
PATH = "/telegram/webhook"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def log_stream(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The root logger as `python -m bot` sets it up, writing into a buffer."""
    fmt = getattr(request, "param", "json")
    stream = io.StringIO()
    settings = runtime_settings(redis_url="redis://:a-long-redis-password@127.0.0.1:6379/0")
    handler = make_handler(secrets_of(settings), fmt, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_one_json_line_per_update_without_client_data(
    engine: AsyncEngine, clock: FrozenClock, log_stream: io.StringIO
):
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=GatedSession(), engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        texts = [
            "/start",
            "/add Ivanov Petr, +7 913 246-80-57, hot",
            "/note Ivanov wants a discount on pipes",
            "Ivanov",
        ]
        for n, text in enumerate(texts, start=1):
            await client.post(PATH, json=message_update(n, OWNER, text), headers=GOOD)
            await settle(runtime)
    lines = _json_lines(log_stream)
    per_update = [line for line in lines if line["logger"] == "bot.updates"]
    assert [line["update_id"] for line in per_update] == [1, 2, 3, 4]
    assert [line["command"] for line in per_update] == ["/start", "/add", "/note", None]
    first = per_update[0]
    assert first["level"] == "INFO" and first["update_type"] == "message"
    assert first["outcome"] == "ok" and isinstance(first["duration_ms"], float)
    assert first["member_id"] is None  # not a member until /start has been handled
    assert all(isinstance(line["member_id"], int) for line in per_update[1:])
    everything = log_stream.getvalue()
    # The phone is probed in the shapes it could be logged in, each with a separator or a "+",
    # so that no timestamp, duration or id can contain a probe by chance (bare digits like
    # "900" once matched a timestamp's milliseconds).
    phone = ("+7 913", "913 246", "246-80-57", "+79132468057", "79132468057")
    for personal in ("Ivanov", "Petr", "discount", "Olga", *phone):
        assert personal not in everything


@pytest.mark.parametrize("log_stream", ["text"], indirect=True)
async def test_text_lines_are_readable(
    engine: AsyncEngine, clock: FrozenClock, log_stream: io.StringIO
):
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=GatedSession(), engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(7, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
    [line] = [x for x in log_stream.getvalue().splitlines() if "bot.updates" in x]
    assert "INFO bot.updates: update 7 message /start ok in " in line
    assert "update_id=7" in line and "outcome=ok" in line


class LeakySession(GatedSession):
    """A Bot API failure whose text quotes the request URL, token included (as a proxy or a
    network library might)."""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        if isinstance(method, SendMessage):
            url = self.api.api_url(bot.token, method.__api_method__)
            raise ConnectionError(f"cannot reach {url} (secret was {SECRET})")
        return await super().make_request(bot, method, timeout)


async def test_token_and_secrets_never_appear_even_in_tracebacks(
    engine: AsyncEngine, clock: FrozenClock, log_stream: io.StringIO
):
    settings = runtime_settings()
    runtime = Runtime.create(
        settings, clock=clock, session=LeakySession(), engine=engine, scheduler=False
    )
    async with serving(runtime) as client:
        await client.post(PATH, json=message_update(1, OWNER, "/start"), headers=GOOD)
        await settle(runtime)
        await client.post(
            PATH, json=message_update(2, OWNER, "/start"), headers={"X-Other": SECRET}
        )
    output = log_stream.getvalue()
    records = _json_lines(log_stream)
    assert any("ConnectionError" in r.get("exc", "") for r in records), output
    assert "cannot reach" in output and "***" in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert SECRET not in output
    assert repr(settings).count(SECRET) == 0 and TOKEN not in repr(settings)


def test_redis_password_and_webhook_secret_are_masked_too():
    stream = io.StringIO()
    settings = runtime_settings(redis_url="redis://:a-long-redis-password@redis:6379/0")
    logger = logging.getLogger("test.secrets")
    handler = make_handler(secrets_of(settings), "text", stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("redis at redis://:a-long-redis-password@redis:6379/0, header %s", SECRET)
    finally:
        logger.removeHandler(handler)
    assert "a-long-redis-password" not in stream.getvalue() and SECRET not in stream.getvalue()
    assert "a-long-redis-password" not in repr(settings)


def test_webhook_mode_without_a_secret_refuses_to_start_with_a_clear_error(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK", "BOT_", "CI"))}
    env.update(
        BOT_TOKEN=TOKEN,
        BOT_MODE="webhook",
        WEBHOOK_URL="https://bot.example.org",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "requires WEBHOOK_SECRET" in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert TOKEN.split(":")[1][:10] not in result.stderr + result.stdout
    assert not (tmp_path / "db.sqlite3").exists()  # refused before touching anything
