from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import DueItem, FollowupDTO, to_dto
from storage.models import Client, Followup

CAMPAIGN = "campaign"


class FollowupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, team_id: int, followup_id: int) -> FollowupDTO | None:
        row = await self._session.scalar(
            select(Followup).where(Followup.team_id == team_id, Followup.id == followup_id)
        )
        return to_dto(FollowupDTO, row) if row else None

    async def pending_for_client(self, team_id: int, client_id: int) -> FollowupDTO | None:
        row = await self._session.scalar(
            select(Followup).where(
                Followup.team_id == team_id,
                Followup.client_id == client_id,
                Followup.state == "pending",
                # The next contact; campaign follow-ups come on top of it.
                Followup.kind != CAMPAIGN,
            )
        )
        return to_dto(FollowupDTO, row) if row else None

    async def close_pending(
        self,
        team_id: int,
        client_id: int,
        state: str,
        now: datetime,
        *,
        campaigns_due_by: date | None = None,
        all_campaigns: bool = False,
    ) -> None:
        """Close the client's next contact; campaign follow-ups too when due by the given day
        (a contact was made) or all of them (the client refused)."""
        scope = Followup.kind != CAMPAIGN
        if all_campaigns:
            scope = true()
        elif campaigns_due_by is not None:
            scope = or_(scope, Followup.due_on <= campaigns_due_by)
        await self._session.execute(
            update(Followup)
            .where(
                Followup.team_id == team_id,
                Followup.client_id == client_id,
                Followup.state == "pending",
                scope,
            )
            .values(state=state, closed_at=now)
        )

    async def close_one(self, team_id: int, followup_id: int, state: str, now: datetime) -> None:
        await self._session.execute(
            update(Followup)
            .where(
                Followup.team_id == team_id,
                Followup.id == followup_id,
                Followup.state == "pending",
            )
            .values(state=state, closed_at=now)
        )

    async def add(
        self,
        *,
        team_id: int,
        client_id: int,
        manager_id: int,
        created_by: int | None,
        kind: str,
        due_at: datetime,
        due_on: date,
        date_only: bool,
        reason: str | None,
        now: datetime,
        campaign_id: int | None = None,
    ) -> FollowupDTO:
        row = Followup(
            team_id=team_id,
            client_id=client_id,
            manager_id=manager_id,
            created_by=created_by,
            kind=kind,
            due_at=due_at,
            due_on=due_on,
            date_only=date_only,
            reason=reason,
            campaign_id=campaign_id,
            state="pending",
            created_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return to_dto(FollowupDTO, row)

    async def due_for_manager(
        self, team_id: int, manager_id: int, until: datetime
    ) -> list[DueItem]:
        rows = await self._session.execute(
            select(Followup, Client.name, Client.temperature)
            .join(Client, Client.id == Followup.client_id)
            .where(
                Followup.team_id == team_id,
                Followup.manager_id == manager_id,
                Followup.state == "pending",
                Followup.due_at < until,
            )
            .order_by(Followup.due_at, Followup.id)
        )
        return [
            DueItem(followup=to_dto(FollowupDTO, row[0]), client_name=row[1], temperature=row[2])
            for row in rows
        ]
