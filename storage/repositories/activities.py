from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import ActivityDTO, to_dto
from storage.models import Activity, Deal


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        team_id: int,
        client_id: int,
        author_id: int,
        kind: str,
        outcome: str | None,
        text: str | None,
        occurred_at: datetime,
    ) -> int:
        row = Activity(
            team_id=team_id,
            client_id=client_id,
            author_id=author_id,
            kind=kind,
            outcome=outcome,
            text=text,
            occurred_at=occurred_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def recent(
        self, team_id: int, client_id: int, kinds: Sequence[str], limit: int
    ) -> list[ActivityDTO]:
        rows = await self._session.scalars(
            select(Activity)
            .where(
                Activity.team_id == team_id,
                Activity.client_id == client_id,
                Activity.kind.in_(list(kinds)),
            )
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(limit)
        )
        return [to_dto(ActivityDTO, row) for row in rows]

    async def add_deal(
        self,
        *,
        team_id: int,
        client_id: int,
        manager_id: int,
        activity_id: int | None,
        amount: Decimal,
        margin_percent: Decimal | None,
        profit: Decimal | None,
        currency: str,
        closed_on: date,
        now: datetime,
    ) -> int:
        deal = Deal(
            team_id=team_id,
            client_id=client_id,
            manager_id=manager_id,
            activity_id=activity_id,
            amount=amount,
            margin_percent=margin_percent,
            profit=profit,
            currency=currency,
            closed_on=closed_on,
            created_at=now,
        )
        self._session.add(deal)
        await self._session.flush()
        return deal.id
