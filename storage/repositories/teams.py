from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import TeamDTO, to_dto
from storage.models import Team


class TeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(Team)) or 0)

    async def create(
        self, *, name: str, timezone: str, currency: str, now: datetime, **rules: int
    ) -> TeamDTO:
        """`rules`: the follow-up and nudge periods of RuleDefaults, by column name."""
        team = Team(
            name=name,
            timezone=timezone,
            currency=currency,
            roster_version=0,
            created_at=now,
            **rules,
        )
        self._session.add(team)
        await self._session.flush()
        return to_dto(TeamDTO, team)

    async def get(self, team_id: int) -> TeamDTO:
        team = await self._session.get_one(Team, team_id)
        return to_dto(TeamDTO, team)

    async def update(self, team_id: int, **values: object) -> None:
        await self._session.execute(update(Team).where(Team.id == team_id).values(**values))
