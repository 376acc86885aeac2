"""Housekeeping shared by the replicas: who is alive, and old processed-update ids.

With several replicas (Redis), one stopping during a rolling update must not delete the
webhook from under the others: each instance heartbeats into a sorted set on every tick, and the
one that leaves last deletes the webhook. Without Redis there is one instance, and it deletes.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import timedelta

from bot.app import Application

log = logging.getLogger(__name__)

# Telegram redelivers an unanswered update for about a day; ids older than this are forgotten.
PROCESSED_UPDATES_KEEP = timedelta(days=2)
# Which clients a push, digest or card was about: a reply to one older than a month is no
# longer logged for them (it gets a hint), and the table stays about a month of messages.
SENT_MESSAGES_KEEP = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600.0


class Instances:
    def __init__(self, app: Application) -> None:
        self._app = app
        self._key = f"{app.settings.redis_prefix}:instances"

    async def heartbeat(self) -> None:
        redis = self._app.redis
        if redis is None:
            return
        with suppress(Exception):
            await redis.zadd(self._key, {self._app.sweep.owner: time.time()})

    async def leave(self) -> bool:
        """Leave the registry; True if no other live instance remains (or the registry is
        unreachable: then False, and the webhook is kept, the safe side)."""
        redis = self._app.redis
        if redis is None:
            return True
        # An instance silent for three ticks and a minute is gone (killed, not stopped).
        stale = time.time() - 3 * self._app.settings.delivery.sweep_interval_seconds - 60
        try:
            await redis.zrem(self._key, self._app.sweep.owner)
            await redis.zremrangebyscore(self._key, "-inf", stale)
            others = await redis.zcard(self._key)
        except Exception as exc:
            log.warning("shutdown: instance registry unavailable (%s)", type(exc).__name__)
            return False
        if others:
            log.info("webhook kept: other instances run", extra={"instances": others})
        return not others


class UpdatePruner:
    """Forgets processed update ids older than PROCESSED_UPDATES_KEEP and sent messages older
    than SENT_MESSAGES_KEEP, hourly, on one replica."""

    def __init__(self, app: Application) -> None:
        self._app = app
        self._last: float | None = None

    async def when_due(self) -> None:
        if self._last is None or time.monotonic() - self._last >= PRUNE_EVERY_SECONDS:
            self._last = time.monotonic()
            await self.prune()

    async def prune(self) -> int:
        app = self._app
        async with app.locks.try_hold("prune-updates", 60) as mine:
            if not mine:
                return 0
            async with app.uow_factory() as uow:
                removed = await uow.updates.prune(app.clock.now() - PROCESSED_UPDATES_KEEP)
                removed += await uow.sent_messages.prune(app.clock.now() - SENT_MESSAGES_KEEP)
                await uow.commit()
            return removed
