"""Rows written straight through the repositories, for tests that start below the handlers."""

from __future__ import annotations

from datetime import UTC, datetime, time

from bot.config import RuleDefaults
from storage.dto import MemberDTO, TeamDTO
from storage.uow import UnitOfWork

NOW = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)


async def team_with_owner(
    uow: UnitOfWork, *, telegram_id: int, timezone: str = "Europe/Moscow", language: str = "en"
) -> tuple[TeamDTO, MemberDTO]:
    team = await uow.teams.create(
        name="Team",
        timezone=timezone,
        currency="RUB",
        now=NOW,
        **RuleDefaults().model_dump(),
    )
    owner = await uow.members.create(
        team_id=team.id,
        telegram_id=telegram_id,
        role="owner",
        full_name="Owner",
        username=None,
        language=language,
        telegram_language=language,
        timezone=timezone,
        work_start=time(9),
        work_end=time(18),
        now=NOW,
    )
    return team, owner
