"""The composition root: the one place that builds settings, engine, Bot and Dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from bot.locks import Locks
from bot.metrics import Metrics
from bot.services.context import ConversationEraser
from bot.services.importing.worker import FileWorkers
from bot.telegram.fsm_storage import SqlStorage, TransactionalFSMMiddleware
from bot.telegram.middlewares import (
    MembersOnlyMiddleware,
    UnitOfWorkMiddleware,
    UpdateLogMiddleware,
)
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.sender import RateLimiter, RedisChatSpacing, Sender
from bot.telegram.sessions import TelegramSession
from bot.ticker import Ticker
from handlers import get_routers
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory

# Any syntactically valid token works offline: the console and tests never reach Telegram.
OFFLINE_TOKEN = "1000000001:offline-console-token-not-a-real-one"


PER_CHAT_INTERVAL = 1.05


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

    async def close(self) -> None:
        if self.files is not None:
            self.files.close()
        await self.bot.session.close()
        await self.engine.dispose()


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
) -> Dispatcher:
    # aiogram's own FSM middleware is replaced by one that reads and writes the conversation
    # state through the update's unit of work; the unit of work must wrap it. (A Redis storage
    # is wrapped in DeferredStorage for the same reason: its writes wait for the commit.)
    dispatcher = Dispatcher(storage=fsm_storage or SqlStorage(uow_factory, clock), disable_fsm=True)
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
        )
    )
    outer(fsm)
    members_only = MembersOnlyMiddleware()
    dispatcher.message.outer_middleware(members_only)
    dispatcher.callback_query.outer_middleware(members_only)
    dispatcher.include_routers(*get_routers())
    return dispatcher


def build_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    token = settings.bot_token.get_secret_value() if settings.has_token else OFFLINE_TOKEN  # type: ignore[union-attr]
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    session: BaseSession | None = None,
    engine: AsyncEngine | None = None,
    fsm_storage: BaseStorage | None = None,
    locks: Locks | None = None,
    dedup_updates: bool = False,
    redis: Any | None = None,
    conversations: ConversationEraser | None = None,
) -> Application:
    clock = clock or SystemClock()
    engine = engine or create_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        search_path=settings.database_schema,
    )
    uow_factory = UnitOfWorkFactory(
        create_session_factory(engine), serialize=engine.dialect.name == "sqlite"
    )
    metrics = Metrics()
    files = FileWorkers(settings.import_files)
    dispatcher = build_dispatcher(
        settings,
        uow_factory,
        clock,
        fsm_storage,
        metrics=metrics,
        dedup_updates=dedup_updates,
        conversations=conversations,
        files=files,
    )
    bot = build_bot(settings, session)
    # Telegram times a chat's messages on arrival: a send exactly 1 s after the last one can land
    # a fraction of a millisecond early (network jitter) and get 429, so keep a small margin.
    limiter = RateLimiter(
        per_second=settings.delivery.global_per_second, per_chat_interval=PER_CHAT_INTERVAL
    )
    # With Redis (several replicas) the per-chat pace is shared; the global one stays local.
    spacing = (
        RedisChatSpacing(redis, settings.redis_prefix, interval=PER_CHAT_INTERVAL)
        if redis is not None
        else None
    )
    sender = Sender(bot, limiter, chat_spacing=spacing)
    notifier = TelegramNotifier(sender, clock, settings.default_language)
    sweep = DeliverySweep(uow_factory, clock, notifier, settings.delivery, locks=locks)
    return Application(
        settings, engine, uow_factory, clock, dispatcher, bot, sweep, metrics, files=files
    )


def start_scheduler(app: Application) -> Ticker:
    """APScheduler only ticks: every job's state is in the database, so a tick missed or run on
    several instances at once is harmless. Stop it with `await ticker.stop(seconds)`, which lets
    a tick in progress finish (bot/ticker.py)."""
    ticker = Ticker(app.sweep.run_once, app.settings.delivery.sweep_interval_seconds)
    ticker.start()
    return ticker
