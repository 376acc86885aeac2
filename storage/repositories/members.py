from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import MemberDTO, TeamDTO, to_dto
from storage.models import Member, Team


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_telegram_id(self, telegram_id: int) -> MemberDTO | None:
        row = await self._session.scalar(select(Member).where(Member.telegram_id == telegram_id))
        return to_dto(MemberDTO, row) if row else None

    async def with_team(self, telegram_id: int) -> tuple[MemberDTO, TeamDTO] | None:
        """The account's membership and its team in one round trip: every update starts here."""
        row = (
            await self._session.execute(
                select(Member, Team)
                .join(Team, Team.id == Member.team_id)
                .where(Member.telegram_id == telegram_id)
            )
        ).first()
        if row is None:
            return None
        return to_dto(MemberDTO, row[0]), to_dto(TeamDTO, row[1])

    async def of_team(self, team_id: int) -> dict[int, MemberDTO]:
        rows = await self._session.scalars(select(Member).where(Member.team_id == team_id))
        return {row.id: to_dto(MemberDTO, row) for row in rows}

    async def get(self, team_id: int, member_id: int) -> MemberDTO | None:
        row = await self._session.scalar(
            select(Member).where(Member.team_id == team_id, Member.id == member_id)
        )
        return to_dto(MemberDTO, row) if row else None

    async def names(self, team_id: int, member_ids: set[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        rows = await self._session.execute(
            select(Member.id, Member.full_name).where(
                Member.team_id == team_id, Member.id.in_(member_ids)
            )
        )
        return {row.id: row.full_name for row in rows}

    async def create(
        self,
        *,
        team_id: int,
        telegram_id: int,
        role: str,
        full_name: str,
        username: str | None,
        language: str | None,
        telegram_language: str | None,
        timezone: str,
        work_start: time,
        work_end: time,
        now: datetime,
        digest_time: time = time(9, 0),
    ) -> MemberDTO:
        member = Member(
            team_id=team_id,
            telegram_id=telegram_id,
            role=role,
            full_name=full_name,
            username=username,
            language=language,
            telegram_language=telegram_language,
            timezone=timezone,
            work_start=work_start,
            work_end=work_end,
            digest_time=digest_time,
            is_active=True,
            created_at=now,
        )
        self._session.add(member)
        await self._session.flush()
        return to_dto(MemberDTO, member)

    async def update_by_id(self, member_id: int, **values: Any) -> None:
        """For jobs, which hold a member id from a row of the same team."""
        await self._session.execute(update(Member).where(Member.id == member_id).values(**values))

    async def update(self, team_id: int, member_id: int, **values: Any) -> None:
        await self._session.execute(
            update(Member).where(Member.team_id == team_id, Member.id == member_id).values(**values)
        )
