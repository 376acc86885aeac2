"""The updates being handled: webhook updates in tasks of ours, polling ones in aiogram's.

A webhook update takes a slot before it is answered, so that when the instance is saturated
Telegram hears 503 (and redelivers) instead of 200 followed by a task that waits for the
database pool, times out and loses the update. Shutdown waits for every task counted here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.app import Application

log = logging.getLogger(__name__)


class InFlight:
    def __init__(self, app: Application) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(app.settings.webhook_max_in_flight)

    def tasks(self) -> set[asyncio.Future[Any]]:
        # aiogram keeps the tasks of the polled updates it is handling here; read-only use.
        polled: set[asyncio.Task[Any]] = getattr(
            self._app.dispatcher, "_handle_update_tasks", set()
        )
        return set(self._tasks) | set(polled)

    def __len__(self) -> int:
        return len(self.tasks())

    async def take_slot(self) -> bool:
        """A slot within WEBHOOK_SLOT_WAIT_SECONDS, or False (the caller answers 503)."""
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return True
        metrics = self._app.metrics
        metrics.webhook_waiting += 1
        try:
            async with asyncio.timeout(self._app.settings.webhook_slot_wait_seconds):
                await self._slots.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            metrics.webhook_waiting -= 1

    def release_slot(self) -> None:
        self._slots.release()

    def spawn(self, update: Update, *, slot: bool = False) -> asyncio.Task[None]:
        """Handle the update in a task; with `slot`, the slot taken for it is given back after."""
        task = asyncio.create_task(self.process(update), name=f"update-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if slot:
            task.add_done_callback(lambda _: self._slots.release())
        return task

    async def process(self, update: Update) -> None:
        dispatcher, bot = self._app.dispatcher, self._app.bot
        try:
            result = await dispatcher.feed_update(bot, update)
            if isinstance(result, TelegramMethod):
                await dispatcher.silent_call_request(bot, result)
        except Exception as exc:  # the errors router answers handler failures; this is the rest
            log.error("update %s failed: %s", update.update_id, type(exc).__name__, exc_info=exc)
