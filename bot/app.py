"""The composition root: `build(settings, overrides)` is the one place that wires the application.

Everything that starts the bot builds it here: `python -m bot` (through bot/runtime), the console
playground, the tests' harness and runtime kit, and the benchmarks. `Overrides` holds the few
things a caller other than production replaces (the clock, the Bot API transport, the engine).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.jobs.sweep import DeliverySweep
from bot.locks import LocalLocks, Locks, RedisLocks
from bot.metrics import Metrics
from bot.services.class_cache import ClassCache
from bot.services.context import ConversationEraser
from bot.services.hub import ServiceParts
from bot.services.importing.worker import FileWorkers
from bot.services.weekly import WeeklyReports
from bot.telegram.fsm_storage import (
    DeferredStorage,
    RedisConversations,
    SqlStorage,
    TransactionalFSMMiddleware,
)
from bot.telegram.middlewares import (
    MembersOnlyMiddleware,
    PressedMessageMiddleware,
    UnitOfWorkMiddleware,
    UpdateLogMiddleware,
)
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.routing import LeanDispatcher
from bot.telegram.sender import RateLimiter, RedisChatSpacing, Sender
from bot.telegram.sessions import TelegramSession
from bot.ticker import Ticker
from handlers import get_routers
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory

# Any syntactically valid token works offline: the console and tests never reach Telegram.
OFFLINE_TOKEN = "1000000001:offline-console-token-not-a-real-one"

# Telegram times a chat's messages on arrival: a send exactly 1 s after the last one can land
# a fraction of a millisecond early (network jitter) and get 429, so keep a small margin.
PER_CHAT_INTERVAL = 1.05
# Redis answers the readiness probe (3 s) or the probe reports it unreachable.
REDIS_TIMEOUT_SECONDS = 3.0
# A step-by-step command left half done in Redis is forgotten after a month.
REDIS_CONVERSATION_TTL = timedelta(days=30)


@dataclass(frozen=True)
class Overrides:
    """What tests, benchmarks and the console replace; the defaults are production's."""

    clock: Clock | None = None
    # The Bot API transport: LocalSession (bot/telegram/local_session.py) keeps it in memory.
    session: BaseSession | None = None
    engine: AsyncEngine | None = None
    # Telegram redelivers an update it got no answer for: production records update ids and
    # drops repeats. The console and the test harness number their updates from 1 on every run.
    dedup_updates: bool = True


@dataclass
class Application:
    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    clock: Clock
    dispatcher: Dispatcher
    bot: Bot
    sweep: DeliverySweep
    metrics: Metrics = field(default_factory=Metrics)
    files: FileWorkers | None = None
    # Set when REDIS_URL is: conversation state, locks and per-chat pacing shared by replicas.
    redis: Any | None = None
    locks: Locks = field(default_factory=LocalLocks)
    # The caches every unit of work's services share: the chat's and the Mini App's.
    parts: ServiceParts | None = None

    async def close(self) -> None:
        """Each part is closed even if another one fails to: this runs on the way out."""
        if self.files is not None:
            self.files.close()
        if self.parts is not None:
            with suppress(Exception):
                await self.parts.classes.close()
        with suppress(Exception):
            await self.bot.session.close()
        with suppress(Exception):
            await self.dispatcher.storage.close()
        if self.redis is not None:
            with suppress(Exception):
                await self.redis.aclose()
        await self.engine.dispose()


@dataclass
class _RedisParts:
    client: Any
    fsm_storage: BaseStorage
    locks: Locks
    conversations: ConversationEraser


def build(settings: Settings, overrides: Overrides | None = None) -> Application:
    overrides = overrides or Overrides()
    clock = overrides.clock or SystemClock()
    engine = overrides.engine or build_engine(settings)
    uow_factory = UnitOfWorkFactory(
        create_session_factory(engine), serialize=engine.dialect.name == "sqlite"
    )
    shared = _redis_parts(settings) if settings.redis_url is not None else None
    metrics = Metrics()
    files = FileWorkers(settings.import_files)
    parts = ServiceParts(
        settings,
        clock,
        shared.conversations if shared else None,
        files,
        # The base table's classes are rebuilt in units of work of their own, in the background.
        classes=ClassCache(opener=uow_factory),
    )
    dispatcher = build_dispatcher(
        settings,
        uow_factory,
        clock,
        shared.fsm_storage if shared else None,
        metrics=metrics,
        dedup_updates=overrides.dedup_updates,
        conversations=shared.conversations if shared else None,
        files=files,
        parts=parts,
    )
    bot = build_bot(settings, overrides.session)
    limiter = RateLimiter(
        per_second=settings.delivery.global_per_second, per_chat_interval=PER_CHAT_INTERVAL
    )
    # With Redis (several replicas) the per-chat pace is shared; the global one stays local.
    spacing = (
        RedisChatSpacing(shared.client, settings.redis_prefix, interval=PER_CHAT_INTERVAL)
        if shared
        else None
    )
    sender = Sender(bot, limiter, chat_spacing=spacing)
    notifier = TelegramNotifier(sender, clock, settings.default_language)
    locks = shared.locks if shared else LocalLocks()
    weekly = WeeklyReports(clock, settings.analytics, settings.limits, settings.rules)
    sweep = DeliverySweep(
        uow_factory, clock, notifier, settings.delivery, locks=locks, weekly=weekly
    )
    return Application(
        settings,
        engine,
        uow_factory,
        clock,
        dispatcher,
        bot,
        sweep,
        metrics,
        files=files,
        redis=shared.client if shared else None,
        locks=locks,
        parts=parts,
    )


def build_engine(settings: Settings) -> AsyncEngine:
    return create_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        search_path=settings.database_schema,
    )


def _redis_parts(settings: Settings) -> _RedisParts:
    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from aiogram.fsm.storage.redis import RedisStorage
    from redis.asyncio import Redis

    assert settings.redis_url is not None
    client = Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS * 2,
    )
    keys = DefaultKeyBuilder(prefix=f"{settings.redis_prefix}:fsm", with_destiny=True)
    ttl = REDIS_CONVERSATION_TTL
    inner = RedisStorage(client, key_builder=keys, state_ttl=ttl, data_ttl=ttl)
    locks = RedisLocks(client, settings.redis_prefix)
    return _RedisParts(
        client=client,
        # Its writes wait for the update's commit (bot/telegram/fsm_storage.py); a member held
        # for such state stays held until they are written.
        fsm_storage=DeferredStorage(inner, locks),
        locks=locks,
        conversations=RedisConversations(client, f"{settings.redis_prefix}:fsm"),
    )


def build_dispatcher(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    fsm_storage: BaseStorage | None = None,
    *,
    metrics: Metrics | None = None,
    dedup_updates: bool = False,
    conversations: ConversationEraser | None = None,
    files: FileWorkers | None = None,
    parts: ServiceParts | None = None,
) -> Dispatcher:
    # aiogram's own FSM middleware is replaced by one that reads and writes the conversation
    # state through the update's unit of work; the unit of work must wrap it. (A Redis storage
    # is wrapped in DeferredStorage for the same reason: its writes wait for the commit.)
    # LeanDispatcher (bot/telegram/routing.py): routers that cannot take an update are passed
    # over without asking their handlers one by one.
    dispatcher = LeanDispatcher(
        storage=fsm_storage or SqlStorage(uow_factory, clock), disable_fsm=True
    )
    fsm = dispatcher.fsm = TransactionalFSMMiddleware(
        dispatcher.fsm.storage, dispatcher.fsm.events_isolation, dispatcher.fsm.strategy
    )
    outer = dispatcher.update.outer_middleware
    # Inside aiogram's error middleware, so that it sees a failure before the errors router
    # turns it into a polite answer; outside the unit of work, so that its time includes it.
    outer(UpdateLogMiddleware(metrics))
    outer(
        UnitOfWorkMiddleware(
            uow_factory,
            clock,
            settings,
            dedup_updates=dedup_updates,
            metrics=metrics,
            conversations=conversations,
            files=files,
            parts=parts,
        )
    )
    outer(fsm)
    members_only = MembersOnlyMiddleware()
    dispatcher.message.outer_middleware(members_only)
    dispatcher.callback_query.outer_middleware(members_only)
    # A member's press on a message Telegram no longer shows: one answer for every button.
    dispatcher.callback_query.outer_middleware(PressedMessageMiddleware())
    dispatcher.include_routers(*get_routers())
    return dispatcher


def build_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    token = settings.bot_token.get_secret_value() if settings.has_token else OFFLINE_TOKEN  # type: ignore[union-attr]
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def start_scheduler(app: Application) -> Ticker:
    """The console's clock: APScheduler only ticks, every job's state is in the database, so a
    tick missed or run on several instances at once is harmless. Stop it with
    `await ticker.stop(seconds)`, which lets a tick in progress finish (bot/ticker.py). The
    production runtime ticks its own way (bot/runtime/lifecycle.py: housekeeping too)."""
    ticker = Ticker(app.sweep.run_once, app.settings.delivery.sweep_interval_seconds)
    ticker.start()
    return ticker
