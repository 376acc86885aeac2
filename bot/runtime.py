"""The production runtime: webhook or polling, probes and metrics, graceful shutdown.

`Runtime.create(settings)` builds the application (Redis-backed when REDIS_URL is set);
`runtime.web_app()` is the aiohttp application (webhook route, /health, /ready, /metrics);
`serve(settings)` runs it all until SIGTERM/SIGINT. Tests build a Runtime in-process and drive
`web_app(lifecycle=True)` with aiohttp's TestServer, which calls `start()` and `stop()`.

Shutdown order (`stop()`): refuse new webhook requests with 503 and report not ready; stop
polling; pause the sweep's clock (no new tick) and wait for the tick in progress and the updates
in flight (bounded by SHUTDOWN_TIMEOUT_SECONDS), only then shut APScheduler down (bot/ticker.py:
it would cancel a tick still running); give back outbox rows claimed and not sent;
delete the webhook if this was the last instance; close the Bot session, Redis and the engine.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import secrets
import signal
import time
from contextlib import suppress
from datetime import timedelta
from typing import Any

from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Application, build_application
from bot.clock import Clock
from bot.config import Settings
from bot.locks import LocalLocks, Locks, RedisLocks
from bot.metrics import CONTENT_TYPE
from bot.telegram.fsm_storage import DeferredStorage, RedisConversations
from bot.ticker import Ticker
from storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram redelivers an unanswered update for about a day; ids older than this are forgotten.
PROCESSED_UPDATES_KEEP = timedelta(days=2)
PRUNE_EVERY_SECONDS = 3600.0
PROBE_TIMEOUT_SECONDS = 3.0
# setWebhook, deleteWebhook and the command menu must not hold start or stop for a minute
# (aiogram's request timeout) while the Bot API hangs.
BOT_API_SETUP_SECONDS = 10.0


class Runtime:
    def __init__(
        self, settings: Settings, app: Application, redis: Any | None, *, scheduler: bool = True
    ) -> None:
        self.settings = settings
        # Off in tests that tick by hand (`await runtime.tick()`).
        self.run_scheduler = scheduler
        self.app = app
        self.redis = redis
        self.metrics = app.metrics
        self._locks: Locks = (
            RedisLocks(redis, settings.redis_prefix) if redis is not None else LocalLocks()
        )
        self._head = head_revision()
        self._tasks: set[asyncio.Task[None]] = set()
        # Slots for webhook updates being handled. Taken before answering, so that when the
        # instance is saturated Telegram hears 503 (and redelivers) instead of 200 followed by
        # a task that waits for the database pool, times out and loses the update.
        self._slots = asyncio.Semaphore(settings.webhook_max_in_flight)
        self._closing = False
        self._started = False
        self._stopped = False
        self._ticker: Ticker | None = None
        self._tick_task: asyncio.Task[Any] | None = None
        self._polling_task: asyncio.Task[None] | None = None
        self._announcer: asyncio.Task[None] | None = None
        self._warm_up: asyncio.Task[None] | None = None
        self._last_prune: float | None = None

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
        redis = None
        fsm_storage = None
        locks: Locks | None = None
        conversations = None
        if settings.redis_url is not None:
            from aiogram.fsm.storage.base import DefaultKeyBuilder
            from aiogram.fsm.storage.redis import RedisStorage
            from redis.asyncio import Redis

            redis = Redis.from_url(
                settings.redis_url.get_secret_value(),
                socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                socket_timeout=PROBE_TIMEOUT_SECONDS * 2,
            )
            keys = DefaultKeyBuilder(prefix=f"{settings.redis_prefix}:fsm", with_destiny=True)
            # A step-by-step command left half done is forgotten after a month.
            month = timedelta(days=30)
            inner = RedisStorage(redis, key_builder=keys, state_ttl=month, data_ttl=month)
            fsm_storage = DeferredStorage(inner)
            locks = RedisLocks(redis, settings.redis_prefix)
            conversations = RedisConversations(redis, f"{settings.redis_prefix}:fsm")
        app = build_application(
            settings,
            clock=clock,
            session=session,
            engine=engine,
            fsm_storage=fsm_storage,
            locks=locks,
            dedup_updates=True,
            redis=redis,
            conversations=conversations,
        )
        return cls(settings, app, redis, scheduler=scheduler)

    # --- the aiohttp application -------------------------------------------------------------

    def web_app(self, *, lifecycle: bool = False) -> web.Application:
        """Routes: POST WEBHOOK_PATH (webhook mode only), GET /health, /ready, /metrics.

        With `lifecycle`, the aiohttp app's start-up and shutdown call `start()` and `stop()`
        (what aiohttp.test_utils.TestServer needs); `serve()` calls them itself.
        """
        web_app = web.Application()
        web_app.router.add_get("/health", self.health)
        web_app.router.add_get("/ready", self.ready)
        web_app.router.add_get("/metrics", self.metrics_endpoint)
        if self.settings.bot_mode == "webhook":
            web_app.router.add_post(self.settings.webhook_path, self.webhook)
        if lifecycle:

            async def on_startup(_: web.Application) -> None:
                await self.start()

            async def on_shutdown(_: web.Application) -> None:
                await self.stop()

            web_app.on_startup.append(on_startup)
            web_app.on_shutdown.append(on_shutdown)
        return web_app

    async def health(self, request: web.Request) -> web.Response:
        # Liveness: answering at all proves the event loop runs.
        return web.Response(text="ok")

    async def ready(self, request: web.Request) -> web.Response:
        problem = await self.readiness_problem()
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": problem}, status=503)

    async def readiness_problem(self) -> str | None:
        if self._closing:
            return "shutting down"
        engine = self.app.engine
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                revision = await current_revision(engine)
        except Exception as exc:  # the reason names the failure's type; never a DSN
            return f"database unreachable ({type(exc).__name__})"
        if revision != self._head:
            return f"database schema at {revision or 'nothing'}, code expects {self._head}"
        if self.redis is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                    await self.redis.ping()
            except Exception as exc:
                return f"redis unreachable ({type(exc).__name__})"
        return None

    async def metrics_endpoint(self, request: web.Request) -> web.Response:
        now = self.app.clock.now()
        backlog: int | None = None
        oldest = None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self.app.uow_factory() as uow:
                backlog, oldest = await uow.outbox.backlog(now)
        except Exception as exc:  # counters are still worth scraping without the database
            log.warning("metrics: outbox backlog unavailable (%s)", type(exc).__name__)
        body = self.metrics.render(backlog, oldest, now)
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def webhook(self, request: web.Request) -> web.Response:
        if self._closing:
            # Telegram retries later; by then another replica, or this one restarted, answers.
            return web.json_response({"ok": False, "reason": "shutting down"}, status=503)
        given = request.headers.get(SECRET_HEADER)
        expected = self.settings.webhook_secret
        assert expected is not None  # Settings refuse webhook mode without it
        if given is None or not secrets.compare_digest(
            given.encode(), expected.get_secret_value().encode()
        ):
            self.metrics.updates_rejected += 1
            log.warning(
                "webhook request refused: %s secret token",
                "missing" if given is None else "wrong",
                extra={"remote": request.remote},
            )
            return web.Response(status=401, text="unauthorized")
        body = await request.read()
        try:
            update = Update.model_validate(json.loads(body), context={"bot": self.app.bot})
        except ValueError as exc:  # JSON, encoding and pydantic errors are all ValueErrors
            self.metrics.updates_rejected += 1
            # The body is personal data: its size and the error's place are logged, not it.
            log.warning(
                "webhook request refused: malformed body (%d bytes): %s",
                len(body),
                describe_malformed(exc),
                extra={"remote": request.remote},
            )
            return web.Response(status=400, text="malformed update")
        if not await self._take_slot():
            self.metrics.updates_overloaded += 1
            log.warning(
                "webhook request refused: %d updates in flight, none finished within %.1f s",
                self.settings.webhook_max_in_flight,
                self.settings.webhook_slot_wait_seconds,
                extra={"update_id": update.update_id},
            )
            # Not handled and not recorded: Telegram redelivers it later (with backoff).
            return web.json_response(
                {"ok": False, "reason": "overloaded"},
                status=503,
                headers={"Retry-After": "1"},
            )
        if self._closing:
            self._slots.release()
            return web.json_response({"ok": False, "reason": "shutting down"}, status=503)
        self.spawn(update, slot=True)
        # Answered before handling: Telegram waits for nobody, and a slow handler must not make
        # it resend. The update's task is tracked so that shutdown waits for it.
        return web.json_response({})

    async def _take_slot(self) -> bool:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return True
        self.metrics.webhook_waiting += 1
        try:
            async with asyncio.timeout(self.settings.webhook_slot_wait_seconds):
                await self._slots.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self.metrics.webhook_waiting -= 1

    def spawn(self, update: Update, *, slot: bool = False) -> asyncio.Task[None]:
        task = asyncio.create_task(self.process(update), name=f"update-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if slot:
            task.add_done_callback(lambda _: self._slots.release())
        return task

    async def process(self, update: Update) -> None:
        dispatcher = self.app.dispatcher
        try:
            result = await dispatcher.feed_update(self.app.bot, update)
            if isinstance(result, TelegramMethod):
                await dispatcher.silent_call_request(self.app.bot, result)
        except Exception as exc:  # the errors router answers handler failures; this is the rest
            log.error("update %s failed: %s", update.update_id, type(exc).__name__, exc_info=exc)

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._tasks) + len(_polling_tasks(self.app))

    @property
    def closing(self) -> bool:
        return self._closing

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self._register_instance()
        if self.app.files is not None:
            # The file workers' forkserver loads openpyxl now, not when the first file arrives.
            self._warm_up = asyncio.create_task(self.app.files.warm_up())
        # What exists now (modules, classes, the app) lives as long as the process: a full
        # garbage collection during a big import need not scan it again (bench/loop_stall.py).
        gc.collect()
        gc.freeze()
        bot = self.app.bot
        allowed = self.app.dispatcher.resolve_used_update_types()
        if self.settings.bot_mode == "webhook":
            if not await self._announce(allowed):
                # Probably still set from the last start (Telegram keeps queueing meanwhile);
                # keep trying in the background rather than refuse to serve.
                self._announcer = asyncio.create_task(self._announce_until_done(allowed))
        else:
            # getUpdates is refused while a webhook is set (say, after trying webhook mode).
            with suppress(TelegramAPIError, TelegramNetworkError, TimeoutError):
                async with asyncio.timeout(BOT_API_SETUP_SECONDS):
                    await bot.delete_webhook(drop_pending_updates=False)
            await self._register_commands()
            self._polling_task = asyncio.create_task(
                self.app.dispatcher.start_polling(
                    bot,
                    handle_signals=False,
                    close_bot_session=False,
                    allowed_updates=allowed,
                    # The same bound as the webhook's: more would only queue for the pool.
                    tasks_concurrency_limit=self.settings.webhook_max_in_flight,
                )
            )
        if self.run_scheduler:
            self._ticker = Ticker(self.tick, self.settings.delivery.sweep_interval_seconds)
            self._ticker.start()

    async def _register_commands(self) -> None:
        from bot.telegram.menu import register_commands

        try:
            async with asyncio.timeout(BOT_API_SETUP_SECONDS):
                await register_commands(self.app.bot, self.settings.default_language)
        except (TelegramAPIError, TelegramNetworkError, TimeoutError) as exc:
            log.warning("command menu not registered: %s", type(exc).__name__)

    async def _announce(self, allowed: list[str]) -> bool:
        """setWebhook (with the secret) and the command menu; False if the Bot API failed."""
        try:
            async with asyncio.timeout(BOT_API_SETUP_SECONDS):
                await self.app.bot.set_webhook(
                    self.settings.public_webhook_url,
                    secret_token=self.settings.webhook_secret.get_secret_value(),  # type: ignore[union-attr]
                    allowed_updates=allowed,
                    drop_pending_updates=False,
                )
        except (TelegramAPIError, TelegramNetworkError, TimeoutError) as exc:
            log.error("setWebhook failed: %s", type(exc).__name__)
            return False
        log.info("webhook set", extra={"allowed_updates": ",".join(allowed)})
        await self._register_commands()
        return True

    async def _announce_until_done(self, allowed: list[str]) -> None:
        delay = 1.0
        while not self._closing:
            await asyncio.sleep(delay)
            if await self._announce(allowed):
                return
            delay = min(delay * 2, 60.0)

    async def tick(self) -> None:
        """One sweep tick plus housekeeping; never raises (the next tick retries)."""
        if self._closing:
            return
        self._tick_task = asyncio.current_task()
        # First: an instance whose ticks fail (database down) is still alive, and must not look
        # gone to a replica that stops and decides whether to delete the webhook.
        await self._heartbeat()
        try:
            report = await self.app.sweep.run_once()
            self.metrics.reminders_sent += report.sent
            last = self._last_prune
            if last is None or time.monotonic() - last >= PRUNE_EVERY_SECONDS:
                self._last_prune = time.monotonic()
                await self.prune_processed_updates()
        except Exception as exc:
            self.metrics.sweep_failures += 1
            log.error("sweep tick failed: %s", type(exc).__name__, exc_info=exc)
        finally:
            self._tick_task = None

    async def prune_processed_updates(self) -> int:
        async with self._locks.try_hold("prune-updates", 60) as mine:
            if not mine:
                return 0
            async with self.app.uow_factory() as uow:
                removed = await uow.updates.prune(self.app.clock.now() - PROCESSED_UPDATES_KEEP)
                await uow.commit()
            return removed

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
        if self._polling_task is not None:
            with suppress(RuntimeError):  # polling had already ended
                await self.app.dispatcher.stop_polling()
            try:
                await self._polling_task
            except Exception as exc:
                log.error("polling ended with %s", type(exc).__name__, exc_info=exc)
        waiting: set[asyncio.Future[Any]] = set(self._tasks) | _polling_tasks(self.app)
        for tick in (self._tick_task, self._ticker.current if self._ticker else None):
            if tick is not None and tick is not asyncio.current_task():
                waiting.add(tick)
        if waiting:
            _done, late = await asyncio.wait(waiting, timeout=max(0.0, deadline - time.monotonic()))
            if late:
                log.warning("shutdown: %d tasks still running at the deadline", len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        if self._ticker is not None:
            self._ticker.shutdown()  # only now: APScheduler cancels whatever it still runs
        try:
            released = await self.app.sweep.release_leases()
            if released:
                log.info("shutdown: released outbox leases", extra={"released": released})
        except Exception as exc:  # they expire by themselves after lease_seconds
            log.warning("shutdown: could not release outbox leases (%s)", type(exc).__name__)
        if self.settings.bot_mode == "webhook" and self._started:
            await self._delete_webhook_if_last()
        await self.close()

    async def close(self) -> None:
        if self.app.files is not None:
            self.app.files.close()
        with suppress(Exception):
            await self.app.bot.session.close()
        with suppress(Exception):
            await self.app.dispatcher.storage.close()
        if self.redis is not None:
            with suppress(Exception):
                await self.redis.aclose()
        await self.app.engine.dispose()

    # --- instances: the last one to stop deletes the webhook -----------------------------------

    def _instances_key(self) -> str:
        return f"{self.settings.redis_prefix}:instances"

    async def _register_instance(self) -> None:
        await self._heartbeat()

    async def _heartbeat(self) -> None:
        if self.redis is None:
            return
        with suppress(Exception):
            await self.redis.zadd(self._instances_key(), {self.app.sweep.owner: time.time()})

    async def _delete_webhook_if_last(self) -> None:
        """With several replicas, one stopping (a rolling update) must not cut off the others.
        Without Redis there is one instance, and it deletes."""
        if self.redis is not None:
            try:
                key = self._instances_key()
                stale = time.time() - 3 * self.settings.delivery.sweep_interval_seconds - 60
                await self.redis.zrem(key, self.app.sweep.owner)
                await self.redis.zremrangebyscore(key, "-inf", stale)
                others = await self.redis.zcard(key)
            except Exception as exc:
                log.warning("shutdown: instance registry unavailable (%s)", type(exc).__name__)
                return
            if others:
                log.info("webhook kept: other instances run", extra={"instances": others})
                return
        try:
            async with asyncio.timeout(BOT_API_SETUP_SECONDS / 2):
                await self.app.bot.delete_webhook(drop_pending_updates=False)
            log.info("webhook deleted")
        except (TelegramAPIError, TelegramNetworkError, TimeoutError) as exc:
            log.warning("deleteWebhook failed: %s", type(exc).__name__)


def _polling_tasks(app: Application) -> set[asyncio.Task[Any]]:
    # aiogram keeps the tasks of updates it is handling here; read-only use.
    return set(getattr(app.dispatcher, "_handle_update_tasks", set()))


def describe_malformed(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON (at position {exc.pos})"
    if isinstance(exc, ValidationError):
        places = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        return f"not an Update ({exc.error_count()} errors at {', '.join(places[:5])})"
    return f"unreadable ({type(exc).__name__})"


async def serve(settings: Settings, *, runtime: Runtime | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    runtime = runtime or Runtime.create(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    port = settings.listen_port if settings.bot_mode == "webhook" else settings.http_port
    try:
        if port is not None:
            runner = web.AppRunner(
                runtime.web_app(), access_log=None, handle_signals=False, shutdown_timeout=5.0
            )
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, port).start()
            log.info("listening", extra={"host": settings.webhook_host, "port": port})
        await runtime.start()
        log.info("started", extra={"mode": settings.bot_mode, "instance": runtime.app.sweep.owner})
        polling = runtime._polling_task
        if polling is not None:
            # Polling ending by itself (an invalid token) ends the process too.
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({stopper, polling}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        else:
            await stop.wait()
        log.info("signal received, stopping")
    finally:
        await runtime.stop()
        if runner is not None:
            await runner.cleanup()
        log.info("stopped")
