"""Campaigns: the owner picks a segment or #tag and a day, and every matching client gets a
follow-up for its own manager (on top of the client's own next contact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.errors import ErrorCode
from bot.parsing.dates import When
from bot.parsing.new_client import clean_tag
from bot.services.access import require_role
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.scheduling import Due, due_from_when
from storage.enums import Role
from storage.limits import CAMPAIGN_SELECTOR_CHARS, CAMPAIGN_TITLE_CHARS
from storage.repositories.campaigns import CampaignTarget, PlannedFollowup


@dataclass(frozen=True, slots=True)
class CampaignResult:
    campaign_id: int
    selector: str
    title: str
    due_on: date
    followups: int
    managers: int


class CampaignService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def check_allowed(self, actor: Actor) -> None:
        """Only the owner launches campaigns; the head gets the managers' answer."""
        require_role(actor, Role.OWNER)

    async def launch(self, actor: Actor, selector: str, when: When, title: str) -> CampaignResult:
        self.check_allowed(actor)
        # "#vip" and "VIP" select the same clients, so they name the same campaign.
        selector = " ".join(selector.removeprefix("#").split())
        title = " ".join(title.split())
        if not selector or not title:
            raise DomainError(ErrorCode.CAMPAIGN_USAGE)
        if len(title) > CAMPAIGN_TITLE_CHARS:
            raise DomainError(ErrorCode.CAMPAIGN_TITLE_TOO_LONG, limit=CAMPAIGN_TITLE_CHARS)
        self._check_not_past(actor, when)
        if len(selector) > CAMPAIGN_SELECTOR_CHARS:
            # Longer than any segment or tag can be: nothing can match.
            raise DomainError(ErrorCode.CAMPAIGN_NO_CLIENTS, selector=selector)

        uow, team_id, now = self._ctx.uow, actor.team.id, self._ctx.now()
        await uow.campaigns.lock_team(team_id)
        if await uow.campaigns.find_identical(
            team_id, selector=selector, due_on=when.day, title=title
        ):
            raise DomainError(
                ErrorCode.CAMPAIGN_DUPLICATE,
                selector=selector,
                title=title,
                day=when.day.strftime("%d.%m.%Y"),
            )
        targets = await self._targets(actor, selector)
        if not targets:
            raise DomainError(ErrorCode.CAMPAIGN_NO_CLIENTS, selector=selector)

        managers = await uow.campaigns.managers(team_id, {t.manager_id for t in targets})
        dues: dict[int, Due] = {}
        planned: list[PlannedFollowup] = []
        for target in targets:
            due = dues.get(target.manager_id)
            if due is None:
                # A date-only follow-up falls due when its manager's working day starts.
                due = due_from_when(when, actor, managers.get(target.manager_id))
                dues[target.manager_id] = due
            planned.append(
                PlannedFollowup(
                    client_id=target.client_id,
                    manager_id=target.manager_id,
                    due_at=due.at,
                    due_on=due.on,
                    date_only=due.date_only,
                )
            )
        campaign = await uow.campaigns.add(
            team_id=team_id,
            created_by=actor.member.id,
            selector=selector,
            due_on=when.day,
            title=title,
            clients_count=len(targets),
            now=now,
        )
        created = await uow.campaigns.add_followups(
            team_id=team_id,
            campaign_id=campaign.id,
            created_by=actor.member.id,
            reason=title,
            planned=planned,
            now=now,
        )
        await uow.audit.add(
            team_id=team_id,
            actor_id=actor.member.id,
            action="campaign_launched",
            now=now,
            details={"campaign_id": campaign.id, "clients": created, "managers": len(dues)},
        )
        return CampaignResult(
            campaign_id=campaign.id,
            selector=selector,
            title=title,
            due_on=when.day,
            followups=created,
            managers=len(dues),
        )

    def _check_not_past(self, actor: Actor, when: When) -> None:
        local_now = self._ctx.local_now(actor)
        if when.day < local_now.date():
            raise DomainError(ErrorCode.DATE_PAST)
        if when.at is not None:
            moment = datetime.combine(when.day, when.at, tzinfo=actor.zone)
            if moment < local_now.replace(second=0, microsecond=0):
                raise DomainError(ErrorCode.DATE_PAST)

    async def _targets(self, actor: Actor, selector: str) -> list[CampaignTarget]:
        """A tag (one word, in the form /add stores it) or a segment, ignoring case."""
        single_word = len(selector.split()) == 1
        tag = clean_tag(selector, self._ctx.limits.max_tag_chars) if single_word else None
        return await self._ctx.uow.campaigns.targets(
            actor.team.id, tag=tag or None, segment=selector
        )
