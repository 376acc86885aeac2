"""Teams for tests: through the bot, as people would build them (`TeamSpec`, `build_team`:
what the `team` fixture returns), or as rows written straight through the repositories, for
tests that start below the handlers (`team_with_owner`, `team_member_client`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from bot.config import RuleDefaults
from storage.dto import MemberDTO, TeamDTO
from storage.uow import UnitOfWork
from tests.support.harness import BotHarness, Person

NOW = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)

# The usual cast: most modules' teams are made of these four.
OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
HEAD = Person(4, "Hugo")


@dataclass(frozen=True)
class TeamSpec:
    """A team built through the bot, in this order: the owner's /start; each of `invited`
    (a person, or a person and a role; manager when not said) follows an /invite link;
    each of `seated` (person, role) is written straight through the repository (joining by
    invite is tested elsewhere, and this is faster for tests that run per row); then each of
    `commands` (person, text) is sent. `clear` forgets what the bot sent meanwhile."""

    owner: Person = field(default_factory=lambda: OWNER)
    invited: tuple[Person | tuple[Person, str], ...] = (MANAGER,)
    seated: tuple[tuple[Person, str], ...] = ()
    commands: tuple[tuple[Person, str], ...] = ()
    clear: bool = False


async def build_team(harness: BotHarness, spec: TeamSpec) -> BotHarness:
    await harness.join_owner(spec.owner)
    for entry in spec.invited:
        person, role = entry if isinstance(entry, tuple) else (entry, "manager")
        await harness.invite_and_join(spec.owner, person, role=role)
    if spec.seated:
        await _seat(harness, spec.owner, spec.seated)
    for person, command in spec.commands:
        await harness.send(person, command)
    if spec.clear:
        harness.session.clear()
    return harness


async def _seat(harness: BotHarness, owner: Person, seated: tuple[tuple[Person, str], ...]) -> None:
    async with harness.uow_factory() as uow:
        head = await uow.members.by_telegram_id(owner.id)
        assert head is not None
        for person, role in seated:
            await uow.members.create(
                team_id=head.team_id,
                telegram_id=person.id,
                role=role,
                full_name=person.first_name,
                username=None,
                language=None,
                telegram_language=person.language,
                timezone=head.timezone,
                work_start=head.work_start,
                work_end=head.work_end,
                now=harness.clock.now(),
            )
        await uow.commit()


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
