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


async def team_member_client(uow: UnitOfWork) -> tuple[int, int, int]:
    """An owner's team (Telegram id 42) with one warm client, Иванов: (team, member, client)."""
    team, member = await team_with_owner(uow, telegram_id=42)
    client_id = await uow.clients.add(
        team_id=team.id,
        manager_id=member.id,
        name="Иванов",
        temperature="warm",
        stage="new",
        stage_changed_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        consent="unknown",
        search_text="ivanov",
        phone_digits="",
    )
    return team.id, member.id, client_id
