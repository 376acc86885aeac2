"""Try-locks that keep several instances from doing the same wasteful work at the same moment.

They guard work that is correct anyway (planning is idempotent, the outbox claim is exclusive):
a lost or expired lock costs some duplicated effort, never a duplicate message. So they are
try-locks with a time to live, not queues: whoever does not get one simply skips its turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Deletes the key only if it still holds our token: an expired lock taken over by another
# instance is not released by us.
# How often a waiting lock (`RedisLocks.wait_for`) asks again.
_POLL_SECONDS = 0.01
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class Locks(Protocol):
    def try_hold(self, name: str, ttl_seconds: float) -> Any:
        """`async with locks.try_hold(name, ttl) as held:` held is True if this caller won."""
        ...


class LocalLocks:
    """One instance (no Redis): an asyncio lock per name, never waited for."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    @asynccontextmanager
    async def try_hold(self, name: str, ttl_seconds: float) -> AsyncIterator[bool]:
        if name in self._held:
            yield False
            return
        self._held.add(name)
        try:
            yield True
        finally:
            self._held.discard(name)


class RedisLocks:
    """SET NX PX with a random token per holder; released by compare-and-delete."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    @asynccontextmanager
    async def try_hold(self, name: str, ttl_seconds: float) -> AsyncIterator[bool]:
        key = f"{self._prefix}:lock:{name}"
        token = uuid.uuid4().hex
        try:
            held = bool(
                await self._redis.set(key, token, nx=True, px=max(1, int(ttl_seconds * 1000)))
            )
        except Exception as exc:  # Redis down: doing the (idempotent) work beats skipping it
            log.warning("lock %s: Redis unavailable (%s); proceeding without it", name, exc)
            yield True
            return
        try:
            yield held
        finally:
            if held:
                try:
                    await self._redis.eval(_RELEASE, 1, key, token)
                except Exception as exc:  # it expires by itself
                    log.warning("lock %s: release failed (%s)", name, type(exc).__name__)

    async def wait_for(self, name: str, ttl_seconds: float, wait_seconds: float) -> str | None:
        """The exception to try-locks: waits (polling) up to `wait_seconds` for the lock, for
        work that must not overlap (conversation state read, changed and written by updates of
        one member, bot/telegram/fsm_storage.py). Its token for `let_go`; None when not got in
        time or Redis is unavailable (the caller goes on unguarded, as before the lock)."""
        key = f"{self._prefix}:lock:{name}"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait_seconds
        ttl_ms = max(1, int(ttl_seconds * 1000))
        try:
            while not await self._redis.set(key, token, nx=True, px=ttl_ms):
                if time.monotonic() >= deadline:
                    log.warning("lock %s: not released in %.0f s; going on", name, wait_seconds)
                    return None
                await asyncio.sleep(_POLL_SECONDS)
        except Exception as exc:
            log.warning("lock %s: Redis unavailable (%s); going on", name, type(exc).__name__)
            return None
        return token

    async def let_go(self, name: str, token: str) -> None:
        try:
            await self._redis.eval(_RELEASE, 1, f"{self._prefix}:lock:{name}", token)
        except Exception as exc:  # it expires by itself
            log.warning("lock %s: release failed (%s)", name, type(exc).__name__)
