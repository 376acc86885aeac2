"""Start, tick and stop: the order in which the runtime's parts come up and go down.

Shutdown order (`stop()`): refuse new webhook requests with 503 and report not ready; stop
polling; pause the sweep's clock (no new tick) and wait for the tick in progress and the updates
in flight (bounded by SHUTDOWN_TIMEOUT_SECONDS), only then shut APScheduler down (bot/ticker.py:
it would cancel a tick still running); give back outbox rows claimed and not sent;
delete the webhook if this was the last instance; close the Bot session, Redis and the engine.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from aiogram.client.session.base import BaseSession
from aiogram.types import Update
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Application, Overrides, build
from bot.clock import Clock
from bot.config import Settings
from bot.miniapp.server import MiniAppServer
from bot.runtime import bot_api
from bot.runtime.http import web_application
from bot.runtime.inflight import InFlight
from bot.runtime.instances import Instances, UpdatePruner
from bot.runtime.polling import Polling
from bot.runtime.probes import Probes
from bot.runtime.webhook import WebhookEndpoint
from bot.ticker import Ticker

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, app: Application, *, scheduler: bool = True) -> None:
        self.app = app
        self.settings = app.settings
        self.metrics = app.metrics
        self.redis = app.redis
        # Off in tests that tick by hand (`await runtime.tick()`).
        self.run_scheduler = scheduler
        self.updates = InFlight(app)
        self.polling = Polling(app)
        self.instances = Instances(app)
        self.pruner = UpdatePruner(app)
        self.probes = Probes(app, lambda: self._closing)
        self.webhook = WebhookEndpoint(app, self.updates, lambda: self._closing)
        self.miniapp = MiniAppServer(app)
        self._closing = False
        self._started = False
        self._stopped = False
        self._ticker: Ticker | None = None
        self._tick_task: asyncio.Task[Any] | None = None
        self._announcer: asyncio.Task[None] | None = None
        self._warm_up: asyncio.Task[None] | None = None

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        session: BaseSession | None = None,
        engine: AsyncEngine | None = None,
        scheduler: bool = True,
    ) -> Runtime:
        overrides = Overrides(clock=clock, session=session, engine=engine)
        return cls(build(settings, overrides), scheduler=scheduler)

    def web_app(self, *, lifecycle: bool = False) -> web.Application:
        """With `lifecycle`, the aiohttp app's start-up and shutdown call `start()` and `stop()`."""
        if not lifecycle:
            return web_application(self.settings, self.probes, self.webhook, miniapp=self.miniapp)
        return web_application(
            self.settings,
            self.probes,
            self.webhook,
            miniapp=self.miniapp,
            on_startup=self.start,
            on_shutdown=self.stop,
        )

    @property
    def in_flight(self) -> int:
        return len(self.updates)

    @property
    def closing(self) -> bool:
        return self._closing

    async def readiness_problem(self) -> str | None:
        return await self.probes.readiness_problem()

    async def process(self, update: Update) -> None:
        await self.updates.process(update)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.instances.heartbeat()
        if self.app.files is not None:
            # The file workers' forkserver loads openpyxl now, not when the first file arrives.
            self._warm_up = asyncio.create_task(self.app.files.warm_up())
        # What exists now (modules, classes, the app) lives as long as the process: a full
        # garbage collection during a big import need not scan it again (bench/loop_stall.py).
        gc.collect()
        gc.freeze()
        allowed = self.app.dispatcher.resolve_used_update_types()
        if self.settings.bot_mode == "webhook":
            if not await bot_api.announce(self.app, allowed):
                # Probably still set from the last start (Telegram keeps queueing meanwhile);
                # keep trying in the background rather than refuse to serve.
                self._announcer = asyncio.create_task(
                    bot_api.announce_until_done(self.app, allowed, lambda: self._closing)
                )
        else:
            await self.polling.start(allowed)
        if self.run_scheduler:
            self._ticker = Ticker(self.tick, self.settings.delivery.sweep_interval_seconds)
            self._ticker.start()

    async def tick(self) -> None:
        """One sweep tick plus housekeeping; never raises (the next tick retries)."""
        if self._closing:
            return
        self._tick_task = asyncio.current_task()
        # First: an instance whose ticks fail (database down) is still alive, and must not look
        # gone to a replica that stops and decides whether to delete the webhook.
        await self.instances.heartbeat()
        try:
            report = await self.app.sweep.run_once()
            self.metrics.reminders_sent += report.sent
            await self.pruner.when_due()
        except Exception as exc:
            self.metrics.sweep_failures += 1
            log.error("sweep tick failed: %s", type(exc).__name__, exc_info=exc)
        finally:
            self._tick_task = None

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._closing = True
        deadline = time.monotonic() + self.settings.shutdown_timeout_seconds
        log.info("shutting down", extra={"in_flight": self.in_flight})
        if self._ticker is not None:
            self._ticker.pause()  # no new tick; the one in progress is waited for below
        if self._announcer is not None:
            self._announcer.cancel()
        await self.polling.stop()
        await self._wait_for_work(deadline)
        if self._ticker is not None:
            self._ticker.shutdown()  # only now: APScheduler cancels whatever it still runs
        try:
            released = await self.app.sweep.release_leases()
            if released:
                log.info("shutdown: released outbox leases", extra={"released": released})
        except Exception as exc:  # they expire by themselves after lease_seconds
            log.warning("shutdown: could not release outbox leases (%s)", type(exc).__name__)
        if self.settings.bot_mode == "webhook" and self._started and await self.instances.leave():
            await bot_api.delete_webhook(self.app)
        await self.close()

    async def _wait_for_work(self, deadline: float) -> None:
        """The updates in flight and the tick in progress, until the deadline; then cancelled."""
        waiting = self.updates.tasks()
        for tick in (self._tick_task, self._ticker.current if self._ticker else None):
            if tick is not None and tick is not asyncio.current_task():
                waiting.add(tick)
        if not waiting:
            return
        _done, late = await asyncio.wait(waiting, timeout=max(0.0, deadline - time.monotonic()))
        if late:
            log.warning("shutdown: %d tasks still running at the deadline", len(late))
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=1.0)

    async def close(self) -> None:
        await self.app.close()
