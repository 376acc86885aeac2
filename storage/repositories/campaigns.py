"""Campaigns: which clients a segment or tag selects, the campaign row and its follow-ups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import MemberDTO, to_dto
from storage.models import Campaign, Client, ClientTag, Followup, Member, Team

# The follow-up kind the "one pending follow-up per client" index leaves out.
CAMPAIGN_KIND = "campaign"


@dataclass(frozen=True, slots=True)
class CampaignDTO:
    id: int
    team_id: int
    created_by: int
    selector: str
    due_on: date
    title: str
    clients_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CampaignTarget:
    client_id: int
    manager_id: int


@dataclass(frozen=True, slots=True)
class PlannedFollowup:
    client_id: int
    manager_id: int
    due_at: datetime
    due_on: date
    date_only: bool


def fold(text: str) -> str:
    """The case-insensitive comparison form, done here rather than in SQL: SQLite's lower()
    only knows ASCII, and segments and titles are often Cyrillic."""
    return " ".join(text.split()).casefold().replace("ё", "е")


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_team(self, team_id: int) -> None:
        """Serialize campaign launches of one team on PostgreSQL, so that two copies of the same
        command cannot both pass the duplicate check (SQLite has one writer anyway)."""
        await self._session.execute(select(Team.id).where(Team.id == team_id).with_for_update())

    async def find_identical(
        self, team_id: int, *, selector: str, due_on: date, title: str
    ) -> CampaignDTO | None:
        """An earlier campaign with this selector, day and title, compared ignoring case."""
        rows = await self._session.scalars(
            select(Campaign)
            .where(Campaign.team_id == team_id, Campaign.due_on == due_on)
            .order_by(Campaign.id)
        )
        for row in rows:
            if fold(row.selector) == fold(selector) and fold(row.title) == fold(title):
                return to_dto(CampaignDTO, row)
        return None

    async def _segments_like(self, team_id: int, segment: str) -> list[str]:
        """The team's segment values, as stored, equal to `segment` ignoring case."""
        values = await self._session.scalars(
            select(Client.segment)
            .where(Client.team_id == team_id, Client.segment.is_not(None))
            .distinct()
        )
        wanted = fold(segment)
        return [value for value in values if value is not None and fold(value) == wanted]

    async def targets(
        self, team_id: int, *, tag: str | None, segment: str | None
    ) -> list[CampaignTarget]:
        """Active (not archived) clients carrying `tag` (already in its stored, case-folded
        form) or whose segment equals `segment` ignoring case, with their managers."""
        matches = []
        if tag:
            matches.append(
                Client.id.in_(
                    select(ClientTag.client_id).where(
                        ClientTag.team_id == team_id, ClientTag.tag == tag
                    )
                )
            )
        if segment and (segments := await self._segments_like(team_id, segment)):
            matches.append(Client.segment.in_(segments))
        if not matches:
            return []
        rows = await self._session.execute(
            select(Client.id, Client.manager_id)
            .where(
                Client.team_id == team_id,
                Client.archived_at.is_(None),
                Client.erased_at.is_(None),
                or_(*matches),
            )
            .order_by(Client.id)
        )
        return [CampaignTarget(client_id=row.id, manager_id=row.manager_id) for row in rows]

    async def managers(self, team_id: int, member_ids: Iterable[int]) -> dict[int, MemberDTO]:
        ids = sorted(set(member_ids))
        if not ids:
            return {}
        rows = await self._session.scalars(
            select(Member).where(Member.team_id == team_id, Member.id.in_(ids))
        )
        return {row.id: to_dto(MemberDTO, row) for row in rows}

    async def add(
        self,
        *,
        team_id: int,
        created_by: int,
        selector: str,
        due_on: date,
        title: str,
        clients_count: int,
        now: datetime,
    ) -> CampaignDTO:
        row = Campaign(
            team_id=team_id,
            created_by=created_by,
            selector=selector,
            due_on=due_on,
            title=title,
            clients_count=clients_count,
            created_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return to_dto(CampaignDTO, row)

    async def add_followups(
        self,
        *,
        team_id: int,
        campaign_id: int,
        created_by: int,
        reason: str,
        planned: Sequence[PlannedFollowup],
        now: datetime,
    ) -> int:
        """One follow-up per planned row, written in one multi-row insert (a campaign may reach
        thousands of clients)."""
        if not planned:
            return 0
        await self._session.execute(
            insert(Followup),
            [
                {
                    "team_id": team_id,
                    "client_id": item.client_id,
                    "manager_id": item.manager_id,
                    "created_by": created_by,
                    "kind": CAMPAIGN_KIND,
                    "due_at": item.due_at,
                    "due_on": item.due_on,
                    "date_only": item.date_only,
                    "reason": reason,
                    "campaign_id": campaign_id,
                    "state": "pending",
                    "created_at": now,
                }
                for item in planned
            ],
        )
        return len(planned)
