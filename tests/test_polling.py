"""Polling mode through the same runtime: updates are handled, a restart that gets the last
batch again handles nothing twice, and stopping waits for the update in flight."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.methods import DeleteWebhook, GetUpdates, SetWebhook, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.runtime import Runtime
from tests.support.harness import Person
from tests.support.runtime_kit import GatedSession, message_update, runtime_settings

OWNER = Person(1101, "Olga")


class PollingSession(GatedSession):
    """getUpdates like Telegram's: everything from `offset` on, waiting briefly when empty."""

    def __init__(self, updates: list[dict[str, Any]]) -> None:
        super().__init__()
        self.updates = updates
        self.arrived = asyncio.Event()

    def deliver(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self.arrived.set()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        if not isinstance(method, GetUpdates):
            return await super().make_request(bot, method, timeout)
        offset = method.offset or 0
        fresh = [u for u in self.updates if u["update_id"] >= offset]
        if not fresh:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.1)
            except TimeoutError:
                return []  # type: ignore[return-value]
            fresh = [u for u in self.updates if u["update_id"] >= offset]
        return [Update.model_validate(u, context={"bot": bot}) for u in fresh]  # type: ignore[return-value]


def _runtime(engine: AsyncEngine, clock: FrozenClock, session: PollingSession) -> Runtime:
    settings = runtime_settings(bot_mode="polling", webhook_secret=None, webhook_url=None)
    return Runtime.create(settings, clock=clock, session=session, engine=engine, scheduler=False)


async def _until(condition: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (polling a fake server's record)
            await asyncio.sleep(0.01)


async def test_polling_handles_updates_and_a_redelivered_batch_once(
    engine: AsyncEngine, clock: FrozenClock
):
    first = PollingSession([message_update(1, OWNER, "/start")])
    runtime = _runtime(engine, clock, first)
    await runtime.start()
    await _until(lambda: first.texts_to(OWNER.id))
    assert first.sent(DeleteWebhook) and not first.sent(SetWebhook)
    await runtime.stop()
    # Stopped before confirming the batch (the next getUpdates carries the offset): Telegram
    # gives the same updates to the restarted bot, along with a new one.
    second = PollingSession([message_update(1, OWNER, "/start"), message_update(2, OWNER, "/help")])
    restarted = _runtime(engine, clock, second)
    await restarted.start()
    await _until(
        lambda: restarted.metrics.updates_handled + restarted.metrics.updates_duplicate == 2
    )
    await restarted.stop()
    assert len(first.texts_to(OWNER.id)) == 1
    assert restarted.metrics.updates_duplicate == 1 and restarted.metrics.updates_handled == 1
    assert "owner of a new team" not in " ".join(second.texts_to(OWNER.id))


async def test_stopping_polling_waits_for_the_update_in_flight(
    engine: AsyncEngine, clock: FrozenClock
):
    session = PollingSession([])
    runtime = _runtime(engine, clock, session)
    await runtime.start()
    session.hold()
    session.deliver(message_update(1, OWNER, "/start"))
    await asyncio.wait_for(session.waiting.wait(), 10)
    stopping = asyncio.create_task(runtime.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()
    session.release()
    await asyncio.wait_for(stopping, 10)
    assert "owner of a new team" in session.texts_to(OWNER.id)[0]
    assert runtime.metrics.updates_handled == 1
