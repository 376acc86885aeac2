"""FSM storage in our own database, so a half-finished step-by-step command survives a restart.

While an update is being handled the storage writes through that update's unit of work (one
transaction: on SQLite a second writer from the same handler would wait on itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey

from bot.clock import Clock
from storage.repositories.privacy import mentions
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
bound_uow: ContextVar[UnitOfWork | None] = ContextVar("salesbot_bound_uow", default=None)


class SqlStorage(BaseStorage):
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        raw_key = self._keys.build(key)
        uow = bound_uow.get()
        if uow is None:
            async with self._uow_factory() as own:
                await own.fsm.put(raw_key, self._clock.now(), **values)
                await own.commit()
            return
        current = await self._cached(uow, raw_key)
        wanted = (values.get("state", current[0]), values.get("data", current[1]))
        # `state.clear()` after every finished command must not cost two writes.
        if wanted == current:
            return
        await uow.fsm.put(raw_key, self._clock.now(), **values)
        uow.fsm_cache[raw_key] = wanted

    async def _read(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        raw_key = self._keys.build(key)
        uow = bound_uow.get()
        if uow is not None:
            state, data = await self._cached(uow, raw_key)
            return state, dict(data)
        async with self._uow_factory() as own:
            return await own.fsm.get(raw_key)

    @staticmethod
    async def _cached(uow: UnitOfWork, raw_key: str) -> tuple[str | None, dict[str, Any]]:
        if raw_key not in uow.fsm_cache:
            uow.fsm_cache[raw_key] = await uow.fsm.get(raw_key)
        return uow.fsm_cache[raw_key]

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._read(key))[1]

    async def close(self) -> None:
        return None


class DeferredStorage(BaseStorage):
    """A storage outside the database (Redis) made to follow the update's transaction.

    Inside an update, reads are cached in the unit of work and writes are held there too; the
    final state is written after the commit (`UnitOfWork.after_commit`) and forgotten on a
    rollback, exactly like SqlStorage. Outside an update (a scheduler job) it is the storage.
    """

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def _cached(self, uow: UnitOfWork, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        raw_key = "deferred:" + self._keys.build(key)
        if raw_key not in uow.fsm_cache:
            state = await self.inner.get_state(key)
            data = await self.inner.get_data(key)
            uow.fsm_cache[raw_key] = (state, dict(data))
        return uow.fsm_cache[raw_key]

    async def _write(self, key: StorageKey, **values: Any) -> None:
        uow = bound_uow.get()
        if uow is None:
            if "state" in values:
                await self.inner.set_state(key, values["state"])
            if "data" in values:
                await self.inner.set_data(key, values["data"])
            return
        raw_key = "deferred:" + self._keys.build(key)
        current = await self._cached(uow, key)
        wanted = (values.get("state", current[0]), values.get("data", current[1]))
        if wanted == current:
            return
        first_write = not any(getattr(h, "fsm_key", None) == raw_key for h in uow.after_commit)
        uow.fsm_cache[raw_key] = wanted
        if first_write:
            uow.after_commit.append(_Flush(self.inner, key, uow, raw_key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        uow = bound_uow.get()
        if uow is None:
            return await self.inner.get_state(key)
        return (await self._cached(uow, key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        uow = bound_uow.get()
        if uow is None:
            return await self.inner.get_data(key)
        return dict((await self._cached(uow, key))[1])

    async def close(self) -> None:
        await self.inner.close()


class _Flush:
    """Writes a key's last state and data once the unit of work has committed."""

    def __init__(self, inner: BaseStorage, key: StorageKey, uow: UnitOfWork, raw_key: str) -> None:
        self._inner = inner
        self._key = key
        self._uow = uow
        self.fsm_key = raw_key

    async def __call__(self) -> None:
        state, data = self._uow.fsm_cache.get(self.fsm_key, (None, {}))
        try:
            await self._inner.set_state(self._key, state)
            await self._inner.set_data(self._key, data)
        except Exception as exc:
            # The database part is committed: reporting "nothing was saved" would be false.
            # The member's step-by-step command is what is lost; they can start it again.
            log.error("conversation state not saved: %s", type(exc).__name__)


class RedisConversations:
    """`/forget` for conversation state in Redis (bot/services/context.py ConversationEraser):
    every `<prefix>:...:data` value holding the client's id or naming the person goes, with its
    state. SCAN, not KEYS: Redis keeps serving while the keys are walked."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def erase(self, client_id: int, needles: Sequence[str]) -> int:
        erased = 0
        async for raw in self._redis.scan_iter(match=f"{self._prefix}:*:data", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            value = await self._redis.get(key)
            if value is None:
                continue
            try:
                data = json.loads(value)
            except ValueError:
                continue
            if mentions(data, needles, client_id):
                await self._redis.delete(key, key.removesuffix(":data") + ":state")
                erased += 1
        return erased
