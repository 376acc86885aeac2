"""A member who writes to the bot again: reachable, owed pushes reopened, Telegram language kept
(bot/services/members.py PresenceService, called for every update of an active member)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.context import ServiceContext
from bot.services.members import PresenceService
from storage.db import create_session_factory
from storage.models import Member, OutboxMessage
from storage.repositories.outbox import BLOCKED
from storage.uow import UnitOfWorkFactory
from tests.support.builders import NOW, team_with_owner
from tests.support.harness import BotHarness, Person

OLGA = Person(7001, "Olga", "ru")


async def _blocked_owner_with_a_dropped_push(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        team, owner = await team_with_owner(uow, telegram_id=OLGA.id, language="en")
        await uow.outbox.enqueue(
            team_id=team.id,
            member_id=owner.id,
            kind="digest",
            dedup_key="digest:test",
            due_at=NOW,
            next_attempt_at=NOW,
            late=False,
            now=NOW,
        )
        # What the sender does on a 403: the member is unreachable, their pushes dropped.
        await uow.outbox.drop_pending_for_member(owner.id, BLOCKED)
        await uow.members.update(team.id, owner.id, unreachable_at=NOW)
        await uow.commit()
        return owner.id


async def _state(engine: AsyncEngine, member_id: int) -> tuple[object, str | None, str, bool]:
    async with engine.connect() as conn:
        member = (
            await conn.execute(
                select(Member.unreachable_at, Member.telegram_language).where(
                    Member.id == member_id
                )
            )
        ).one()
        push = (await conn.execute(select(OutboxMessage.state, OutboxMessage.late))).one()
    return member.unreachable_at, member.telegram_language, push.state, push.late


async def test_a_member_seen_again_is_reachable_and_owed_the_dropped_pushes(
    engine: AsyncEngine, clock: FrozenClock, settings: Settings
):
    factory = UnitOfWorkFactory(create_session_factory(engine))
    member_id = await _blocked_owner_with_a_dropped_push(factory)
    async with factory() as uow:
        member, _team = await uow.members.with_team(OLGA.id)  # type: ignore[misc]
        presence = PresenceService(ServiceContext(uow, clock, settings.limits, settings.rules))
        now = await presence.seen(member, "ru")
        await uow.commit()
    assert now.unreachable_at is None and now.telegram_language == "ru"
    assert await _state(engine, member_id) == (None, "ru", "pending", True)


async def test_a_member_seen_as_usual_changes_nothing(
    engine: AsyncEngine, clock: FrozenClock, settings: Settings
):
    factory = UnitOfWorkFactory(create_session_factory(engine))
    async with factory() as uow:
        _team, owner = await team_with_owner(uow, telegram_id=OLGA.id, language="en")
        await uow.commit()
    async with factory() as uow:
        presence = PresenceService(ServiceContext(uow, clock, settings.limits, settings.rules))
        assert await presence.seen(owner, "en") == owner
        assert await presence.seen(owner, None) == owner


async def test_any_update_of_a_blocked_member_reopens_their_pushes(harness: BotHarness):
    member_id = await _blocked_owner_with_a_dropped_push(harness.uow_factory)
    await harness.send(OLGA, "/help")
    assert await _state(harness.app.engine, member_id) == (None, "ru", "pending", True)
