"""All services for one unit of work, built per update by the middleware and per run by jobs."""

from __future__ import annotations

from functools import cached_property

from bot.config import Settings
from bot.services.activities import ActivityService
from bot.services.audit import AuditService
from bot.services.campaigns import CampaignService
from bot.services.clients import ClientService
from bot.services.context import ServiceContext
from bot.services.export import ExportService
from bot.services.importing.service import ImportService
from bot.services.members import MemberSettingsService, PresenceService, TeamSettingsService
from bot.services.onboarding import OnboardingService
from bot.services.portfolio.service import PortfolioService
from bot.services.privacy import PrivacyService
from bot.services.team import TeamService
from bot.services.worklist import WorklistService


class Services:
    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self.ctx = ctx
        self._settings = settings

    @cached_property
    def clients(self) -> ClientService:
        return ClientService(self.ctx)

    @cached_property
    def activities(self) -> ActivityService:
        return ActivityService(self.ctx)

    @cached_property
    def worklist(self) -> WorklistService:
        return WorklistService(self.ctx)

    @cached_property
    def campaigns(self) -> CampaignService:
        return CampaignService(self.ctx)

    @cached_property
    def imports(self) -> ImportService:
        return ImportService(self.ctx)

    @cached_property
    def presence(self) -> PresenceService:
        return PresenceService(self.ctx)

    @cached_property
    def member_settings(self) -> MemberSettingsService:
        return MemberSettingsService(self.ctx)

    @cached_property
    def team_settings(self) -> TeamSettingsService:
        return TeamSettingsService(self.ctx)

    @cached_property
    def export(self) -> ExportService:
        return ExportService(self.ctx)

    @cached_property
    def audit(self) -> AuditService:
        return AuditService(self.ctx)

    @cached_property
    def privacy(self) -> PrivacyService:
        return PrivacyService(self.ctx)

    @cached_property
    def team(self) -> TeamService:
        return TeamService(self.ctx)

    @cached_property
    def portfolio(self) -> PortfolioService:
        return PortfolioService(self.ctx, self._settings.analytics)

    @cached_property
    def onboarding(self) -> OnboardingService:
        s = self._settings
        return OnboardingService(
            self.ctx,
            default_timezone=s.default_timezone,
            default_currency=s.default_currency,
            owner_telegram_id=s.owner_telegram_id,
            open_registration=s.open_registration,
            work_hours=(s.work_start, s.work_end),
            digest_time=s.digest_time,
        )
