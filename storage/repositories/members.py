from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import MemberDTO, TeamDTO, to_dto
from storage.hot import HotStatement
from storage.models import FsmRecord, Member, Team
from storage.repositories.columns import columns_for
from storage.sqlite_driver import quick

_MEMBERS = Member.__table__
_TEAMS = Team.__table__
_MEMBER_COLUMNS = columns_for(_MEMBERS, MemberDTO)
_WITH_TEAM = HotStatement(
    select(*_MEMBER_COLUMNS, *columns_for(_TEAMS, TeamDTO))
    .join_from(_MEMBERS, _TEAMS, _TEAMS.c.id == _MEMBERS.c.team_id)
    .where(_MEMBERS.c.telegram_id == bindparam("telegram_id"))
)
_FSM = FsmRecord.__table__
# Every update's first read: the member, the team and the conversation state in one statement.
_WITH_TEAM_AND_CONVERSATION = HotStatement(
    select(*_MEMBER_COLUMNS, *columns_for(_TEAMS, TeamDTO), _FSM.c.state, _FSM.c.data)
    .join_from(_MEMBERS, _TEAMS, _TEAMS.c.id == _MEMBERS.c.team_id)
    .outerjoin(_FSM, _FSM.c.key == bindparam("conversation"))
    .where(_MEMBERS.c.telegram_id == bindparam("telegram_id"))
)
_MEMBER = HotStatement(
    select(*_MEMBER_COLUMNS).where(
        _MEMBERS.c.team_id == bindparam("team_id"), _MEMBERS.c.id == bindparam("member_id")
    )
)
_MEMBER_FIELDS = len(_MEMBER_COLUMNS)
# One member's name: a card's manager, on every card opened.
_NAME = HotStatement(
    select(_MEMBERS.c.id, _MEMBERS.c.full_name).where(
        _MEMBERS.c.team_id == bindparam("team_id"), _MEMBERS.c.id == bindparam("member_id")
    )
)


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_telegram_id(self, telegram_id: int) -> MemberDTO | None:
        row = await self._session.scalar(select(Member).where(Member.telegram_id == telegram_id))
        return to_dto(MemberDTO, row) if row else None

    async def with_team(self, telegram_id: int) -> tuple[MemberDTO, TeamDTO] | None:
        """The account's membership and its team in one round trip: every update starts here."""
        row = await _WITH_TEAM.first(self._session, {"telegram_id": telegram_id})
        if row is None:
            return None
        return MemberDTO(*row[:_MEMBER_FIELDS]), TeamDTO(*row[_MEMBER_FIELDS:])

    async def with_team_and_conversation(
        self, telegram_id: int, conversation: str
    ) -> tuple[MemberDTO, TeamDTO, tuple[str | None, dict[str, Any]]] | None:
        """`with_team`, and the conversation state stored under the key `conversation` (as
        `FsmRepository.get` reads it) in the same statement."""
        row = await _WITH_TEAM_AND_CONVERSATION.first(
            self._session, {"telegram_id": telegram_id, "conversation": conversation}
        )
        if row is None:
            return None
        state, data = row[-2:]
        return (
            MemberDTO(*row[:_MEMBER_FIELDS]),
            TeamDTO(*row[_MEMBER_FIELDS:-2]),
            (state, dict(data or {})),
        )

    async def of_team(self, team_id: int) -> dict[int, MemberDTO]:
        rows = await self._session.scalars(select(Member).where(Member.team_id == team_id))
        return {row.id: to_dto(MemberDTO, row) for row in rows}

    async def get(self, team_id: int, member_id: int) -> MemberDTO | None:
        row = await _MEMBER.first(self._session, {"team_id": team_id, "member_id": member_id})
        return MemberDTO(*row) if row else None

    async def names(self, team_id: int, member_ids: set[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        if len(member_ids) == 1:
            [member_id] = member_ids
            found = await _NAME.rows(self._session, {"team_id": team_id, "member_id": member_id})
            return {row[0]: row[1] for row in found}
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
        await self._session.execute(
            quick(update(Member).where(Member.id == member_id).values(**values))
        )

    async def update(self, team_id: int, member_id: int, **values: Any) -> None:
        await self._session.execute(
            quick(
                update(Member)
                .where(Member.team_id == team_id, Member.id == member_id)
                .values(**values)
            )
        )
