"""Helpers for tests of the production runtime: settings, Telegram-shaped update bodies, a Bot
API whose sendMessage can be held, and the aiohttp test client around a Runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.runtime import SECRET_HEADER, Runtime
from bot.telegram.local_session import LocalSession
from tests.support.harness import Person

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-runtime"
SECRET = "webhook-Secret_42"
GOOD = {SECRET_HEADER: SECRET}


def runtime_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "bot_token": TOKEN,
        "bot_mode": "webhook",
        "webhook_url": "https://bot.example.org",
        "webhook_secret": SECRET,
        "database_url": "sqlite+aiosqlite:///:memory:",
        "redis_url": None,
        "shutdown_timeout_seconds": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


def message_update(update_id: int, person: Person, text: str) -> dict[str, Any]:
    """An update as Telegram posts it (JSON field names, `from` included)."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": person.id, "type": "private"},
            "from": {
                "id": person.id,
                "is_bot": False,
                "first_name": person.first_name,
                "language_code": person.language,
            },
            "text": text,
        },
    }


class GatedSession(LocalSession):
    """LocalSession whose sendMessage waits while `hold()` is on: an update or a sweep tick is
    then caught in the middle of its work."""

    def __init__(self) -> None:
        super().__init__()
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()

    def hold(self) -> None:
        self._open.clear()
        self.waiting.clear()

    def release(self) -> None:
        self._open.set()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        if isinstance(method, SendMessage) and not self._open.is_set():
            self.waiting.set()
            await self._open.wait()
        return await super().make_request(bot, method, timeout)

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent(SendMessage) if m.chat_id == chat_id]


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[TestClient]:
    """The runtime's aiohttp app on a loopback port; leaving stops it like SIGTERM would."""
    client = TestClient(TestServer(runtime.web_app(lifecycle=True)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def settle(runtime: Runtime, within: float = 10.0) -> None:
    """Wait until the updates answered early have been handled."""
    async with asyncio.timeout(within):
        while runtime.in_flight:  # noqa: ASYNC110 (a count, not an event, is what we have)
            await asyncio.sleep(0.01)
