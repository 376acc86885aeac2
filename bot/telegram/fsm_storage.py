"""FSM storage in our own database, so a half-finished step-by-step command survives a restart.

While an update is being handled the storage writes through that update's unit of work (one
transaction: on SQLite a second writer from the same handler would wait on itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey

from bot.clock import Clock
from storage.uow import UnitOfWork, UnitOfWorkFactory

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
