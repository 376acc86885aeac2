"""`/team`, removing a member, role changes and ownership: who may, what changes, what stays.

The clock starts at Wednesday 2026-12-02 10:15 Moscow time.
"""

from __future__ import annotations

import asyncio
from datetime import time

import pytest
from sqlalchemy import func, select

from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.team import TeamService
from bot.telegram.callbacks import CardAction, TeamAct
from storage.models import Activity, Client, Deal, Followup, Member, OutboxMessage, Team
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.reads import audit_rows, managers_of, member_id, texts_to
from tests.support.sweeps import make_sweep, moscow, pushes

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
HEAD = Person(4, "Hugo")
LATE = Person(5, "Lena")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (MANAGER, "/add Иванов, +7 999 111-22-33"),
            (MANAGER, "/add Петров, +7 999 222-33-44"),
            (OTHER, "/add Сидоров, +7 999 555-44-33"),
        ),
    )


async def member_row(h: BotHarness, person: Person) -> Member:
    async with h.uow_factory() as uow:
        row = await uow.session.scalar(select(Member).where(Member.telegram_id == person.id))
    assert row is not None
    return row


async def test_team_lists_members_with_counts_and_last_activity_in_viewers_zone(team: BotHarness):
    await team.send(OWNER, "/settings tz Asia/Yekaterinburg")
    await team.send(MANAGER, "/call Иванов done")  # 10:15 Moscow is 12:15 in Yekaterinburg
    team.clock.set(moscow(3, 10, 0))  # the first calls of Петров and Сидоров are now late
    [reply] = await team.send(OWNER, "/team")
    text = reply.text
    assert "Team</b> (4)" in text
    max_block = text.split("<b>Max</b>")[1].split("\n\n")[0]
    assert "manager" in max_block and "clients: 2" in max_block and "overdue: 1" in max_block
    assert "12:15" in max_block
    nina_block = text.split("<b>Nina</b>")[1].split("\n\n")[0]
    assert "clients: 1" in nina_block and "overdue: 1" in nina_block
    assert "none yet" in nina_block
    # Owner first, then head, then managers.
    assert text.index("Olga") < text.index("Hugo") < text.index("Max") < text.index("Nina")
    labels = [label for label, _data in reply.buttons]
    assert labels == ["👤 Olga", "👤 Hugo", "👤 Max", "👤 Nina"]


async def test_a_manager_may_not_see_the_team_and_the_head_only_views_and_reassigns(
    team: BotHarness,
):
    [reply] = await team.send(MANAGER, "/team")
    assert "Only the owner or the head of sales" in reply.text
    [roster] = await team.send(HEAD, "/team")
    assert "Max" in roster.text
    max_id = await member_id(team, MANAGER)
    [panel] = await team.press(HEAD, TeamAct(act="open", mid=max_id).pack())
    assert [label for label, _ in panel.buttons] == ["🔁 Reassign clients", "◀️ Team"]
    # The owner's buttons, forged by the head, are refused in the service.
    for data in (
        TeamAct(act="role", mid=max_id, arg="head"),
        TeamAct(act="rmok", mid=max_id),
        TeamAct(act="ownok", mid=max_id),
    ):
        assert await team.press(HEAD, data.pack()) == []
        assert any("Only the team owner" in alert for alert in team.alerts())
    row = await member_row(team, MANAGER)
    assert row.is_active and row.role == "manager"
    assert (await member_row(team, HEAD)).role == "head"


async def test_the_roster_is_paged(team: BotHarness):
    async with team.uow_factory() as uow:
        team_id = (await uow.members.by_telegram_id(OWNER.id)).team_id  # type: ignore[union-attr]
        for n in range(9):
            await uow.members.create(
                team_id=team_id,
                telegram_id=1000 + n,
                role="manager",
                full_name=f"Zed {n}",
                username=None,
                language="en",
                telegram_language="en",
                timezone="Europe/Moscow",
                work_start=time(9),
                work_end=time(18),
                now=team.clock.now(),
            )
        await uow.commit()
    [first] = await team.send(OWNER, "/team")
    assert "Team</b> (13)" in first.text and "Zed 3" in first.text and "Zed 4" not in first.text
    more = dict(first.buttons)["More ▶️"]
    [second] = await team.press(OWNER, more)
    assert "9. <b>Zed 4</b>" in second.text and "Olga" not in second.text
    assert "◀️ Back" in dict(second.buttons)


async def test_owner_changes_a_role_audited_and_the_member_is_told(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    [panel] = await team.press(OWNER, TeamAct(act="open", mid=max_id).pack())
    labels = [label for label, _ in panel.buttons]
    assert labels == [
        "⬆️ Make head of sales",
        "👑 Hand over ownership",
        "🗑 Remove from the team",
        "🔁 Reassign clients",
        "◀️ Team",
    ]
    [edited] = await team.press(OWNER, dict(panel.buttons)["⬆️ Make head of sales"])
    assert "head of sales" in edited.text
    assert (await member_row(team, MANAGER)).role == "head"
    [row] = await audit_rows(team, "role_change")
    assert row.details == {"member_id": max_id, "from": "manager", "to": "head"}
    # Max now sees the whole team.
    assert "Сидоров" in (await team.send(MANAGER, "/list"))[0].text
    team.session.clear()
    await make_sweep(team).run_once()
    assert any("Your role in the team is now: head of sales" in t for t in texts_to(team, MANAGER))
    # Pressing the same button again changes nothing and says so.
    assert await team.press(OWNER, TeamAct(act="role", mid=max_id, arg="head").pack()) == []
    assert any("already has this role" in a for a in team.alerts())
    assert len(await audit_rows(team, "role_change")) == 1


async def test_owner_role_is_never_given_or_taken_by_a_role_button(team: BotHarness):
    owner_id, max_id = await member_id(team, OWNER), await member_id(team, MANAGER)
    for data in (
        TeamAct(act="role", mid=max_id, arg="owner"),
        TeamAct(act="role", mid=owner_id, arg="manager"),
        TeamAct(act="role", mid=owner_id, arg="head"),
    ):
        assert await team.press(OWNER, data.pack()) == []
        assert any("handing the ownership over" in a for a in team.alerts())
    assert (await member_row(team, OWNER)).role == "owner"
    assert (await member_row(team, MANAGER)).role == "manager"
    assert await audit_rows(team, "role_change") == []


async def test_removing_asks_first_then_closes_access_at_once(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    [card] = await team.send(MANAGER, "/client Иванов")  # a card Max keeps on his screen
    old_button = next(data for label, data in card.buttons if "Talked" in label)
    [question] = await team.press(OWNER, TeamAct(act="rm", mid=max_id).pack())
    assert "Remove <b>Max</b> from the team?" in question.text
    assert (await member_row(team, MANAGER)).is_active  # nothing happened yet
    async with team.uow_factory() as uow:
        version = await uow.session.scalar(select(Team.roster_version))
    [done] = await team.press(OWNER, dict(question.buttons)["✅ Yes"])
    assert "is removed from the team" in done.text
    assert "Whom do the clients of <b>Max</b> (2) go to" in done.text
    assert [label for label, _ in done.buttons] == ["➡️ Olga", "➡️ Hugo", "➡️ Nina", "Later"]
    row = await member_row(team, MANAGER)
    assert not row.is_active and row.removed_at == team.clock.now()
    [audit] = await audit_rows(team, "member_removed")
    assert audit.details == {"member_id": max_id, "role": "manager", "clients": 2}
    async with team.uow_factory() as uow:
        assert await uow.session.scalar(select(Team.roster_version)) == version + 1
    # Max's next update, of any kind, is refused politely; /start does not let him back.
    for command in ("/today", "/client Иванов", "/start", "/team", "hello"):
        [reply] = await team.send(MANAGER, command)
        assert "access to this team has been closed" in reply.text, command
    assert await team.press(MANAGER, old_button) == []
    assert any("access to this team has been closed" in a for a in team.alerts())
    async with team.uow_factory() as uow:
        calls = await uow.session.scalar(select(func.count()).select_from(Activity))
    assert calls == 0
    # Until reassigned, Max's clients stay in the owner's and head's view.
    listing = (await team.send(HEAD, "/list"))[0].text
    assert "Иванов" in listing and "Петров" in listing
    roster = (await team.send(OWNER, "/team"))[0].text
    assert "<b>Max</b> — removed" in roster and "clients: 2" in roster


async def test_a_second_press_of_remove_does_nothing_harmful(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    confirm = TeamAct(act="rmok", mid=max_id).pack()
    await team.press(OWNER, confirm)
    assert await team.press(OWNER, confirm) == []
    assert any("has already been removed" in a for a in team.alerts())
    assert len(await audit_rows(team, "member_removed")) == 1


async def test_two_presses_of_remove_at_the_same_moment_remove_once(team: BotHarness):
    confirm = TeamAct(act="rmok", mid=await member_id(team, MANAGER)).pack()
    await asyncio.gather(team.press(OWNER, confirm), team.press(OWNER, confirm))
    assert len(await audit_rows(team, "member_removed")) == 1
    assert sum("has already been removed" in a for a in team.alerts()) == 1
    assert not (await member_row(team, MANAGER)).is_active


@pytest.mark.parametrize(
    ("who", "expected"),
    [(OWNER, "cannot remove yourself"), (HEAD, "Only the team owner")],
)
async def test_removing_oneself_or_without_the_right_is_refused(
    team: BotHarness, who: Person, expected: str
):
    target = await member_id(team, who)
    assert await team.press(who, TeamAct(act="rmok", mid=target).pack()) == []
    assert any(expected in a for a in team.alerts())
    assert (await member_row(team, who)).is_active


async def test_a_member_of_another_team_or_a_made_up_id_is_not_found(team: BotHarness):
    assert await team.press(OWNER, TeamAct(act="rmok", mid=999).pack()) == []
    assert any("No team member matches" in a for a in team.alerts())
    assert await team.press(OWNER, TeamAct(act="open", mid=999).pack()) == []


async def test_after_removal_clients_followups_and_reminders_go_to_the_chosen_member(
    team: BotHarness,
):
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    await team.send(MANAGER, "/call Иванов deal 150000")
    await team.send(MANAGER, "/next Иванов 15.12 10:00 send the price")
    await team.send(MANAGER, "/next Петров 04.12")  # date-only: due when the day starts
    sweep = make_sweep(team)
    team.clock.set(moscow(4, 19, 0))  # after work: the push waits for tomorrow's 9:00
    await sweep.run_once()
    async with team.uow_factory() as uow:
        pending = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.member_id == max_id, OutboxMessage.kind == "followup")
        )
    assert pending == 1
    [done] = await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    to_nina = dict(done.buttons)["➡️ Nina"]
    [moved] = await team.press(OWNER, to_nina)
    assert "Clients moved from <b>Max</b> to <b>Nina</b>: 2." in moved.text
    assert await managers_of(team) == {"Иванов": nina_id, "Петров": nina_id, "Сидоров": nina_id}
    async with team.uow_factory() as uow:
        followups = list(
            await uow.session.scalars(select(Followup).where(Followup.state == "pending"))
        )
        authors = set(await uow.session.scalars(select(Activity.author_id)))
        deal_managers = set(await uow.session.scalars(select(Deal.manager_id)))
    assert {f.manager_id for f in followups} == {nina_id}
    assert authors == {max_id} and deal_managers == {max_id}  # history stays Max's
    [audit] = await audit_rows(team, "transfer")
    assert audit.details is not None and audit.details["count"] == 2
    assert audit.details["from"] == max_id and audit.details["to"] == nina_id
    team.session.clear()
    team.clock.set(moscow(5, 9, 0))
    await sweep.run_once()
    assert [p.text for p in pushes(team, OTHER.id) if "Петров" in p.text]
    assert pushes(team, MANAGER.id) == []
    assert any(
        "gave you clients of Max, with their follow-ups: 2." in t for t in texts_to(team, OTHER)
    )
    team.clock.set(moscow(15, 10, 0))
    await sweep.run_once()
    assert [p.text for p in pushes(team, OTHER.id) if "send the price" in p.text]
    assert pushes(team, MANAGER.id) == []
    # The removed manager's row in /team is gone once nothing is left with him.
    assert "Max" not in (await team.send(OWNER, "/team"))[0].text


async def test_a_transfer_button_to_a_removed_member_or_the_same_one_is_refused(team: BotHarness):
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    await team.press(OWNER, TeamAct(act="rmok", mid=nina_id).pack())
    before = await managers_of(team)
    assert await team.press(OWNER, TeamAct(act="to", mid=max_id, arg=str(nina_id)).pack()) == []
    assert any("Nina is no longer in the team" in a for a in team.alerts())
    assert await team.press(OWNER, TeamAct(act="to", mid=max_id, arg=str(max_id)).pack()) == []
    assert any("already belong to Max" in a for a in team.alerts())
    # Not a member id at all: refused when the press is parsed, like an unknown button.
    assert await team.press(OWNER, f"tm:to:{max_id}:x:0") == []
    assert team.alerts() == ["This button is no longer active."]
    assert await managers_of(team) == before
    assert await audit_rows(team, "transfer") == []


async def test_a_removed_member_returns_only_through_a_new_invite(team: BotHarness):
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    await team.press(OWNER, TeamAct(act="to", mid=max_id, arg=str(nina_id)).pack())
    [reply] = await team.send(MANAGER, "/start")
    assert "access to this team has been closed" in reply.text
    replies = await team.send(OWNER, "/invite manager")
    token = replies[-1].text.split("start=")[1].split()[0]
    replies = await team.send(MANAGER, f"/start {token}")
    assert "Welcome to the team" in replies[0].text
    row = await member_row(team, MANAGER)
    assert row.is_active and row.removed_at is None and row.id == max_id
    # He comes back without the clients he had: they stay where the owner put them.
    assert "No clients" in (await team.send(MANAGER, "/list"))[0].text
    assert len(await audit_rows(team, "member_rejoined")) == 1
    # The same link does not work twice.
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    [again] = await team.send(MANAGER, f"/start {token}")
    assert "already been used" in again.text
    assert not (await member_row(team, MANAGER)).is_active


async def test_ownership_is_handed_over_after_confirmation_and_both_are_told(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    [question] = await team.send(OWNER, "/owner max")
    assert "Hand the team's ownership over to <b>Max</b>?" in question.text
    assert (await member_row(team, MANAGER)).role == "manager"
    [done] = await team.press(OWNER, dict(question.buttons)["✅ Yes"])
    assert "<b>Max</b> is now the owner of the team; you are head of sales." in done.text
    assert (await member_row(team, MANAGER)).role == "owner"
    assert (await member_row(team, OWNER)).role == "head"
    changes = [row.details for row in await audit_rows(team, "role_change")]
    assert {"member_id": max_id, "from": "manager", "to": "owner"} in changes
    team.session.clear()
    await make_sweep(team).run_once()
    assert any("handed the team's ownership over to you" in t for t in texts_to(team, MANAGER))
    # The old owner is head now: no more owner's powers, the new owner has them.
    assert "Only the team owner" in (await team.send(OWNER, "/invite manager"))[0].text
    assert "Invitation for a manager" in (await team.send(MANAGER, "/invite manager"))[0].text
    # The confirmation pressed again is refused: Olga is no longer the owner.
    assert await team.press(OWNER, dict(question.buttons)["✅ Yes"]) == []
    assert any("Only the team owner" in a for a in team.alerts())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("Olga", "already the owner"),
        ("Zorro", "No team member matches «Zorro»"),
    ],
)
async def test_owner_command_errors(team: BotHarness, args: str, expected: str):
    [reply] = await team.send(OWNER, f"/owner {args}")
    assert expected in reply.text
    assert (await member_row(team, OWNER)).role == "owner"


async def test_owner_command_without_a_name_offers_the_members(team: BotHarness):
    [reply] = await team.send(OWNER, "/owner")
    assert [label for label, _ in reply.buttons] == ["👑 Hugo", "👑 Max", "👑 Nina"]
    [question] = await team.press(OWNER, dict(reply.buttons)["👑 Nina"])
    assert "Nina" in question.text
    assert "Only the team owner" in (await team.send(HEAD, "/owner Max"))[0].text


async def test_ownership_to_a_removed_member_is_refused(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    assert "Max is no longer in the team" in (await team.send(OWNER, "/owner Max"))[0].text
    assert await team.press(OWNER, TeamAct(act="ownok", mid=max_id).pack()) == []
    assert (await member_row(team, MANAGER)).role == "manager"


async def test_the_service_keeps_an_active_owner_whatever_it_is_asked(team: BotHarness):
    owner_id, max_id = await member_id(team, OWNER), await member_id(team, MANAGER)
    # No unit of work opened inside this one: on SQLite they queue behind each other.
    async with team.uow_factory() as uow:
        found = await uow.members.with_team(OWNER.id)
        assert found is not None
        actor = Actor(*found)
        settings = team.app.settings
        service = TeamService(ServiceContext(uow, team.clock, settings.limits, settings.rules))
        for call, code in (
            (service.remove(actor, owner_id), "remove_self"),
            (service.change_role(actor, owner_id, "manager"), "role_owner_by_transfer"),  # type: ignore[arg-type]
            (service.hand_over(actor, owner_id), "owner_self"),
        ):
            with pytest.raises(DomainError) as caught:
                await call
            assert caught.value.code == code
        # Even if the owner row were somehow inactive, no change may be saved on top of that.
        await uow.members.update(actor.team.id, owner_id, is_active=False)
        with pytest.raises(DomainError) as caught:
            await service.change_role(actor, max_id, "head")  # type: ignore[arg-type]
        assert caught.value.code == "last_owner"
        await uow.rollback()


async def test_removed_members_pending_messages_are_dropped(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    team.clock.set(moscow(3, 8, 0))
    await make_sweep(team).run_once()  # plans Max's first-call push for 9:00 and his digest
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    async with team.uow_factory() as uow:
        states = set(
            await uow.session.scalars(
                select(OutboxMessage.state).where(OutboxMessage.member_id == max_id)
            )
        )
    assert "pending" not in states
    team.session.clear()
    team.clock.set(moscow(3, 9, 30))
    await make_sweep(team).run_once()
    assert texts_to(team, MANAGER) == []


async def test_card_button_of_a_removed_members_client_still_works_for_the_owner(
    team: BotHarness,
):
    # Nothing is orphaned: the owner acts on the client while it waits for a new manager.
    await team.press(OWNER, TeamAct(act="rmok", mid=await member_id(team, MANAGER)).pack())
    async with team.uow_factory() as uow:
        cid = await uow.session.scalar(select(Client.id).where(Client.name == "Иванов"))
    [card] = await team.press(OWNER, CardAction(act="open", cid=int(cid or 0)).pack())
    assert "Иванов" in card.text and "Max" in card.text


async def test_team_texts_follow_each_members_language(team: BotHarness):
    await team.send(OWNER, "/settings lang ru")
    await team.send(OTHER, "/settings lang ru")
    [roster] = await team.send(OWNER, "/team")
    assert "👥 <b>Команда</b> (4)" in roster.text and "клиентов: 2" in roster.text
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    [done] = await team.press(OWNER, TeamAct(act="to", mid=max_id, arg=str(nina_id)).pack())
    assert "Клиенты переданы от <b>Max</b> к <b>Nina</b>: 2." in done.text
    team.session.clear()
    await make_sweep(team).run_once()
    assert any("передал(а) вам клиентов Max" in t for t in texts_to(team, OTHER))
    assert any("Olga moved your clients to Nina: 2." in t for t in texts_to(team, MANAGER))
    # A removed member is refused in the language their Telegram reports.
    await team.press(OWNER, TeamAct(act="rmok", mid=nina_id).pack())
    [closed] = await team.send(Person(OTHER.id, OTHER.first_name, "ru"), "/today")
    assert "Ваш доступ к команде закрыт" in closed.text
