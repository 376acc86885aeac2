"""What every service needs for one update or job, built by the caller (middleware or job)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Limits, RuleDefaults
from bot.services.candidate_cache import CandidateCache
from bot.services.class_cache import ClassCache
from bot.services.portfolio.cache import ReportCache
from storage.dto import MemberDTO, TeamDTO
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.importing.worker import FileWorkers


class ConversationEraser(Protocol):
    """Conversation state kept outside the database (Redis): `/forget` asks it to drop every
    state holding the client's id or naming the person. Returns how many went."""

    async def erase(self, client_id: int, needles: Sequence[str]) -> int: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """The member acting, with their team: every service call is scoped by it."""

    member: MemberDTO
    team: TeamDTO

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.member.timezone)


@dataclass(slots=True)
class ServiceContext:
    uow: UnitOfWork
    clock: Clock
    limits: Limits
    rules: RuleDefaults
    candidates: CandidateCache = field(default_factory=CandidateCache)
    # Reports of ended periods (bot/services/portfolio/cache.py); long-lived like `candidates`.
    reports: ReportCache = field(default_factory=ReportCache)
    # Set when conversation state lives outside the database (REDIS_URL); see bot/app.py.
    conversations: ConversationEraser | None = None
    # The worker processes that read imported files off the event loop (long-lived, per app).
    files: FileWorkers | None = None
    # The base table's ABC-XYZ classes (bot/services/base_table.py); long-lived like `reports`.
    classes: ClassCache = field(default_factory=ClassCache)

    def now(self) -> datetime:
        return self.clock.now()

    def local_now(self, actor: Actor) -> datetime:
        return self.clock.now().astimezone(actor.zone)
