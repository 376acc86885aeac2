"""All services for one unit of work, built per update by the middleware and per run by jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.config import Limits, Settings
from bot.services.activities import ActivityService
from bot.services.audit import AuditService
from bot.services.base_table import BaseTableService
from bot.services.calendar import CalendarService
from bot.services.campaigns import CampaignService
from bot.services.candidate_cache import CandidateCache
from bot.services.capture import CaptureService
from bot.services.card_edit import CardService
from bot.services.class_cache import ClassCache
from bot.services.clients import ClientService
from bot.services.context import Actor, ConversationEraser, ServiceContext
from bot.services.export import ExportService
from bot.services.importing.service import ImportService
from bot.services.members import MemberSettingsService, PresenceService, TeamSettingsService
from bot.services.onboarding import OnboardingService
from bot.services.portfolio.cache import ReportCache
from bot.services.portfolio.service import PortfolioService
from bot.services.privacy import PrivacyService
from bot.services.reply_log import ReplyLogService
from bot.services.team import TeamService
from bot.services.worklist import WorklistService
from storage.dto import MemberDTO, TeamDTO
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.importing.worker import FileWorkers


@dataclass
class ServiceParts:
    """What lives as long as the application and every unit of work's services share: the
    chat's updates and the Mini App's requests reach the same caches through it."""

    settings: Settings
    clock: Clock
    conversations: ConversationEraser | None = None
    files: FileWorkers | None = None
    candidates: CandidateCache = field(default_factory=CandidateCache)
    reports: ReportCache | None = None
    classes: ClassCache = field(default_factory=ClassCache)

    def __post_init__(self) -> None:
        if self.reports is None:
            analytics = self.settings.analytics
            self.reports = ReportCache(analytics.cache_seconds, analytics.cache_entries)

    def services(self, uow: UnitOfWork) -> Services:
        assert self.reports is not None
        ctx = ServiceContext(
            uow,
            self.clock,
            self.settings.limits,
            self.settings.rules,
            self.candidates,
            self.reports,
            self.conversations,
            self.files,
            self.classes,
        )
        return Services(ctx, self.settings)


class Services:
    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self._ctx = ctx
        self._settings = settings

    # -- what handlers need besides the services: never the context or the unit of work -------

    @property
    def limits(self) -> Limits:
        """The input limits and page sizes parsers and views apply."""
        return self._ctx.limits

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    def local_now(self, actor: Actor) -> datetime:
        """Now on the actor's wall clock: what "today" and "tomorrow" mean in what they type."""
        return self._ctx.local_now(actor)

    def today(self, actor: Actor) -> date:
        return self._ctx.local_now(actor).date()

    @asynccontextmanager
    async def database_released(self) -> AsyncIterator[None]:
        """While the handler waits on something that is not the database (a download): what was
        done so far is committed and others may write (storage/uow.py, `paused`)."""
        async with self._ctx.uow.paused():
            yield

    async def enter(
        self, found: tuple[MemberDTO, TeamDTO] | None, telegram_language: str | None
    ) -> Actor | None:
        """The acting member of an update or a Mini App request, from their membership row
        (`uow.members.with_team`): None for a stranger or a removed member."""
        if found is None:
            return None
        member, team = found
        if not member.is_active:
            return None
        return Actor(await self.presence.seen(member, telegram_language), team)

    async def discard_changes(self) -> None:
        """Roll back what this update wrote, when the handler reports the failure itself."""
        await self._ctx.uow.rollback()

    @cached_property
    def clients(self) -> ClientService:
        return ClientService(self._ctx)

    @cached_property
    def activities(self) -> ActivityService:
        return ActivityService(self._ctx)

    @cached_property
    def capture(self) -> CaptureService:
        return CaptureService(self._ctx, self.clients)

    @cached_property
    def worklist(self) -> WorklistService:
        return WorklistService(self._ctx)

    @cached_property
    def calendar(self) -> CalendarService:
        return CalendarService(self._ctx)

    @cached_property
    def campaigns(self) -> CampaignService:
        return CampaignService(self._ctx)

    @cached_property
    def imports(self) -> ImportService:
        return ImportService(self._ctx)

    @cached_property
    def presence(self) -> PresenceService:
        return PresenceService(self._ctx)

    @cached_property
    def member_settings(self) -> MemberSettingsService:
        return MemberSettingsService(self._ctx)

    @cached_property
    def team_settings(self) -> TeamSettingsService:
        return TeamSettingsService(self._ctx)

    @cached_property
    def export(self) -> ExportService:
        return ExportService(self._ctx)

    @cached_property
    def audit(self) -> AuditService:
        return AuditService(self._ctx)

    @cached_property
    def privacy(self) -> PrivacyService:
        return PrivacyService(self._ctx)

    @cached_property
    def reply_log(self) -> ReplyLogService:
        return ReplyLogService(self._ctx)

    @cached_property
    def team(self) -> TeamService:
        return TeamService(self._ctx)

    @cached_property
    def portfolio(self) -> PortfolioService:
        return PortfolioService(self._ctx, self._settings.analytics)

    @cached_property
    def base_table(self) -> BaseTableService:
        return BaseTableService(self._ctx, self.portfolio, self.clients, self._settings.analytics)

    @cached_property
    def card(self) -> CardService:
        return CardService(self._ctx, self.team)

    @cached_property
    def onboarding(self) -> OnboardingService:
        s = self._settings
        return OnboardingService(
            self._ctx,
            default_timezone=s.default_timezone,
            default_currency=s.default_currency,
            owner_telegram_id=s.owner_telegram_id,
            open_registration=s.open_registration,
            work_hours=(s.work_start, s.work_end),
            digest_time=s.digest_time,
        )
