from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import InviteDTO, to_dto
from storage.models import Invite
from storage.repositories.columns import rowcount


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        team_id: int,
        token: str,
        role: str,
        created_by: int,
        now: datetime,
        expires_at: datetime,
    ) -> InviteDTO:
        row = Invite(
            team_id=team_id,
            token=token,
            role=role,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
        self._session.add(row)
        await self._session.flush()
        return to_dto(InviteDTO, row)

    async def by_token(self, token: str) -> InviteDTO | None:
        row = await self._session.scalar(select(Invite).where(Invite.token == token))
        return to_dto(InviteDTO, row) if row else None

    async def claim(self, invite_id: int, member_id: int, now: datetime) -> bool:
        """Mark used only if still unused: two people racing for one link cannot both join."""
        result = await self._session.execute(
            update(Invite)
            .where(Invite.id == invite_id, Invite.used_by.is_(None))
            .values(used_by=member_id, used_at=now)
        )
        return rowcount(result) == 1
