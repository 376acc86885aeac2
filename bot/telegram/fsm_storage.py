"""FSM storage in our own database, so a half-finished step-by-step command survives a restart.

While an update is handled its conversation state is read and written through that update's
unit of work: one transaction (on SQLite a second writer from the same handler would wait on
itself), and a rollback forgets the state change with everything else. This is explicit, not a
context variable: `UnitOfWorkMiddleware` puts the update's unit of work in the middleware data,
and `TransactionalFSMMiddleware` (aiogram's FSM middleware, one step further in) gives the
handlers an `FSMContext` over `storage.in_transaction(uow)`, a storage made for that update.
The storage itself, used outside an update (a job, a script), is its own transaction per call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, cast, runtime_checkable

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.types import TelegramObject

from bot.clock import Clock
from bot.locks import RedisLocks
from storage.repositories.privacy import mentions
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
# How long a member's Redis lock (_MemberGuard) lives, and is waited for, at most: far longer
# than the short update that holds it; a stopped process's lock expires by itself.
MEMBER_LOCK_SECONDS = 15.0


def _state_value(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state  # type: ignore[return-value]


@runtime_checkable
class JoinsTransaction(Protocol):
    """A storage that can follow one update's unit of work."""

    def in_transaction(self, uow: UnitOfWork) -> BaseStorage: ...


class TransactionalFSMMiddleware(FSMContextMiddleware):
    """aiogram's FSM middleware, with the update's state read and written through the update's
    unit of work (`data["uow"]`, set by UnitOfWorkMiddleware, which must wrap this one)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        uow = data.get("uow")
        storage = self.storage
        if uow is not None and isinstance(storage, JoinsTransaction):
            storage = storage.in_transaction(uow)
        data["fsm_storage"] = storage
        context = self.resolve_event_context(cast(Bot, data["bot"]), data)
        if context is None:
            return await handler(event, data)
        state = FSMContext(storage=storage, key=context.key)
        # As aiogram does: the state is read once the isolation lock is held.
        async with self.events_isolation.lock(key=state.key):
            data.update({"state": state, "raw_state": await state.get_state()})
            return await handler(event, data)

    def conversation_row(self, data: dict[str, Any]) -> str | None:
        """The key of the update's conversation row when the state lives in the database (then
        `UnitOfWorkMiddleware` reads it along with the member, in one statement), else None."""
        if not isinstance(self.storage, SqlStorage):
            return None
        context = self.resolve_event_context(cast(Bot, data["bot"]), data)
        return self.storage.row_key(context.key) if context is not None else None


class SqlStorage(BaseStorage):
    """The conversation table; each call its own transaction unless `in_transaction(uow)`."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._keys = DefaultKeyBuilder(with_destiny=True)

    def in_transaction(self, uow: UnitOfWork) -> BaseStorage:
        return _SqlInTransaction(uow, self._clock, self._keys)

    def row_key(self, key: StorageKey) -> str:
        """The key of the conversation's row (`UnitOfWork.fsm_cache` is keyed on it too)."""
        return self._keys.build(key)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        async with self._uow_factory() as own:
            await own.fsm.put(self._keys.build(key), self._clock.now(), **values)
            await own.commit()

    async def _read(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        async with self._uow_factory() as own:
            return await own.fsm.get(self._keys.build(key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=_state_value(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._read(key))[1]

    async def close(self) -> None:
        return None


class _SqlInTransaction(BaseStorage):
    """The conversation table inside one update: reads cached in the unit of work, writes in
    its transaction, and none at all when nothing changed."""

    def __init__(self, uow: UnitOfWork, clock: Clock, keys: DefaultKeyBuilder) -> None:
        self._uow, self._clock, self._keys = uow, clock, keys

    async def _cached(self, raw_key: str) -> tuple[str | None, dict[str, Any]]:
        cache = self._uow.fsm_cache
        if raw_key not in cache:
            cache[raw_key] = await self._uow.fsm.get(raw_key)
        return cache[raw_key]

    async def _write(self, key: StorageKey, **values: Any) -> None:
        raw_key = self._keys.build(key)
        current = await self._cached(raw_key)
        wanted = (values.get("state", current[0]), values.get("data", current[1]))
        # `state.clear()` after every finished command must not cost two writes.
        if wanted == current:
            return
        await self._uow.fsm.put(raw_key, self._clock.now(), **values)
        self._uow.fsm_cache[raw_key] = wanted

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=_state_value(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._cached(self._keys.build(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._cached(self._keys.build(key)))[1])

    async def close(self) -> None:
        return None  # the update's storage closes nothing: the shared one owns the connection


class DeferredStorage(BaseStorage):
    """A storage outside the database (Redis) made to follow the update's transaction.

    Outside an update (a scheduler job) it is the inner storage. `in_transaction(uow)` gives
    the update's view: reads cached in the unit of work, writes held there too; the final state
    is written after the commit (`UnitOfWork.after_commit`) and forgotten on a rollback, exactly
    like SqlStorage.
    """

    def __init__(self, inner: BaseStorage, locks: RedisLocks | None = None) -> None:
        self.inner = inner
        self._keys = DefaultKeyBuilder(with_destiny=True)
        self._locks = locks

    def in_transaction(self, uow: UnitOfWork) -> BaseStorage:
        if self._locks is not None and not any(
            isinstance(guard, _MemberGuard) for guard in uow.member_guards
        ):
            uow.member_guards.append(_MemberGuard(self._locks, uow))
        return _DeferredInTransaction(self.inner, uow, self._keys)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self.inner.set_state(key, _state_value(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.inner.set_data(key, dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self.inner.get_data(key)

    async def close(self) -> None:
        await self.inner.close()


class _MemberGuard:
    """`uow.hold_member` with the state in Redis: the database's hold (a PostgreSQL advisory
    lock) ends with the commit, but this state is written just after it, so an update of the
    same member let in at the commit could read the state from before it, and later write that
    back over it (capture's answer id, recorded by the step after the answer). A Redis lock per
    member, taken before the database's hold and given back once the unit of work has ended
    (its state written), keeps the next one out until then."""

    def __init__(self, locks: RedisLocks, uow: UnitOfWork) -> None:
        self._locks = locks
        self._uow = uow
        self._held: set[int] = set()

    async def __call__(self, member_id: int) -> None:
        if member_id in self._held:
            return
        self._held.add(member_id)
        name = f"member:{member_id}"
        token = await self._locks.wait_for(name, MEMBER_LOCK_SECONDS, MEMBER_LOCK_SECONDS)
        if token is not None:

            async def release() -> None:
                await self._locks.let_go(name, token)

            self._uow.on_close.append(release)


class _DeferredInTransaction(BaseStorage):
    def __init__(self, inner: BaseStorage, uow: UnitOfWork, keys: DefaultKeyBuilder) -> None:
        self._inner, self._uow, self._keys = inner, uow, keys

    async def _cached(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        raw_key = "deferred:" + self._keys.build(key)
        cache = self._uow.fsm_cache
        if raw_key not in cache:
            state = await self._inner.get_state(key)
            data = await self._inner.get_data(key)
            cache[raw_key] = (state, dict(data))
        return cache[raw_key]

    async def _write(self, key: StorageKey, **values: Any) -> None:
        raw_key = "deferred:" + self._keys.build(key)
        current = await self._cached(key)
        wanted = (values.get("state", current[0]), values.get("data", current[1]))
        if wanted == current:
            return
        uow = self._uow
        first_write = not any(getattr(h, "fsm_key", None) == raw_key for h in uow.after_commit)
        uow.fsm_cache[raw_key] = wanted
        if first_write:
            uow.after_commit.append(_Flush(self._inner, key, uow, raw_key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=_state_value(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._cached(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._cached(key))[1])

    async def close(self) -> None:
        return None


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
