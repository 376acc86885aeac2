"""One unit of work per update or job: repositories share its session and only it commits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.repositories.activities import ActivityRepository
from storage.repositories.analytics import AnalyticsRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.base_table import BaseTableRepository
from storage.repositories.calendar import CalendarFeedRepository
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.clients import ClientRepository
from storage.repositories.digest import DigestRepository
from storage.repositories.export import ExportRepository
from storage.repositories.followups import FollowupRepository
from storage.repositories.fsm import FsmRepository
from storage.repositories.imports import ImportRepository
from storage.repositories.invites import InviteRepository
from storage.repositories.members import MemberRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.privacy import PrivacyRepository
from storage.repositories.rollups import RollupRepository
from storage.repositories.roster import RosterRepository
from storage.repositories.sent_messages import SentMessageRepository
from storage.repositories.teams import TeamRepository
from storage.repositories.updates import ProcessedUpdateRepository


class NestedUnitOfWorkError(RuntimeError):
    """A unit of work was opened while the same task holds one open.

    One update or job is one unit of work: a second one would be a second transaction whose
    effects commit or roll back apart from the first, and on SQLite it would wait forever for
    the write lock (or the FIFO gate) that the first one holds. Pass the open unit of work down
    instead. (Another task may open its own: it waits for its turn.)
    """


# The task that holds a unit of work open in this context, if any.
_holder: ContextVar[asyncio.Task[Any] | None] = ContextVar("salesbot_uow_holder", default=None)


class UnitOfWork:
    def __init__(self, session: AsyncSession, gate: _Gate | None = None) -> None:
        self.session = session
        self._gate = gate
        self.teams = TeamRepository(session)
        self.members = MemberRepository(session)
        self.clients = ClientRepository(session)
        self.activities = ActivityRepository(session)
        self.followups = FollowupRepository(session)
        self.invites = InviteRepository(session)
        self.audit = AuditRepository(session)
        self.fsm = FsmRepository(session)
        self.outbox = OutboxRepository(session)
        self.campaigns = CampaignRepository(session)
        self.digest = DigestRepository(session)
        self.imports = ImportRepository(session)
        self.export = ExportRepository(session)
        self.privacy = PrivacyRepository(session)
        self.updates = ProcessedUpdateRepository(session)
        self.roster = RosterRepository(session)
        self.analytics = AnalyticsRepository(session)
        self.calendar = CalendarFeedRepository(session)
        self.sent_messages = SentMessageRepository(session)
        self.rollups = RollupRepository(session)
        self.base_table = BaseTableRepository(session)
        # Conversation state already read or written in this unit of work, by storage key.
        self.fsm_cache: dict[str, tuple[str | None, dict[str, Any]]] = {}
        # Run after a successful commit, then forgotten (a rollback forgets them too): writes to
        # stores outside the database, such as conversation state in Redis.
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        # Run by hold_member before the database's hold: a store outside the database whose
        # writes come after the commit adds its own (bot/telegram/fsm_storage.py, Redis).
        self.member_guards: list[Callable[[int], Awaitable[None]]] = []
        # Run when the unit of work ends, committed or not, after the after-commit writes:
        # what a guard took is given back there.
        self.on_close: list[Callable[[], Awaitable[None]]] = []

    async def hold_member(self, member_id: int) -> None:
        """Until this unit of work ends, the member's other units of work that ask the same
        wait here (FsmRepository.hold_member); with conversation state outside the database,
        also until that state is written after the commit."""
        for guard in self.member_guards:
            await guard(member_id)
        await self.fsm.hold_member(member_id)

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self.after_commit = self.after_commit, []
        for hook in hooks:
            await hook()

    async def rollback(self) -> None:
        await self.session.rollback()
        self.fsm_cache.clear()
        self.after_commit = []

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Commit what this unit of work did so far and let other units of work run while the
        caller waits for something that is not the database (a file read in a worker process
        for seconds): on SQLite the write gate is released, on PostgreSQL the connection goes
        back to the pool. Afterwards the unit of work goes on in a new transaction. Use it only
        where what came before may be committed on its own."""
        await self.commit()
        if self._gate is not None:
            self._gate.release()
        try:
            yield
        finally:
            if self._gate is not None:
                await self._gate.acquire()


class UnitOfWorkFactory:
    """Opens a unit of work; leaving the block without commit() rolls everything back."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, serialize: bool = False
    ) -> None:
        self._session_factory = session_factory
        # SQLite has one writer at a time. Queueing units of work here, first come first served,
        # replaces the busy handler's sleep-and-retry (which made waiting updates seconds late).
        # A unit of work opened inside another one fails (NestedUnitOfWorkError) instead of
        # waiting here for itself.
        self._lock: asyncio.Lock | None = asyncio.Lock() if serialize else None
        self._single_write: async_sessionmaker[AsyncSession] | None = None

    def __call__(self) -> _UowContext:
        return _UowContext(self._session_factory, self._lock)

    def single_write(self) -> _UowContext:
        """A unit of work for one write statement, atomic by itself: on PostgreSQL it runs
        without BEGIN and COMMIT (two round trips of three; `commit()` is then a no-op), on
        SQLite as any other. Several statements in it would each commit on their own: use it
        only where each statement's effect stands alone."""
        bind = self._session_factory.kw.get("bind")
        if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
            return self()
        if self._single_write is None:
            self._single_write = async_sessionmaker(
                **{
                    **self._session_factory.kw,
                    "bind": bind.execution_options(isolation_level="AUTOCOMMIT"),
                }
            )
        return _UowContext(self._single_write, self._lock)


class _Gate:
    """One unit of work's hold on the factory's lock: released at the end only if held (a
    unit of work cancelled while `paused()` waits to take it back does not hold it)."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self.held = False

    async def acquire(self) -> None:
        await self._lock.acquire()
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()


class _UowContext:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], lock: asyncio.Lock | None
    ) -> None:
        self._session_factory = session_factory
        self._gate = _Gate(lock) if lock is not None else None
        self._session: AsyncSession | None = None
        self._uow: UnitOfWork | None = None
        self._holding: Token[asyncio.Task[Any] | None] | None = None

    async def __aenter__(self) -> UnitOfWork:
        task = asyncio.current_task()
        if task is not None and _holder.get() is task:
            raise NestedUnitOfWorkError(
                "a unit of work was opened inside another one in the same task: pass the open "
                "unit of work down instead (on SQLite this would wait for itself forever)"
            )
        if self._gate is not None:
            await self._gate.acquire()
        self._holding = _holder.set(task)
        self._session = self._session_factory()
        self._uow = UnitOfWork(self._session, self._gate)
        return self._uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            if exc_type is not None:
                await self._session.rollback()
        finally:
            try:
                try:
                    await self._session.close()
                finally:
                    if self._uow is not None:
                        await _run_quietly(self._uow.on_close)
            finally:
                if self._holding is not None:
                    with contextlib.suppress(ValueError):  # left in another context: nothing held
                        _holder.reset(self._holding)
                    self._holding = None
                if self._gate is not None:
                    self._gate.release()


async def _run_quietly(hooks: list[Callable[[], Awaitable[None]]]) -> None:
    """Every hook runs even if one before it failed (each releases something of its own)."""
    for hook in hooks:
        with contextlib.suppress(Exception):
            await hook()
    hooks.clear()
