"""`/transfer <from> <to> [clients...]`: typed, step by step, and every way it can go wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import TeamAct, TransferPick
from storage.models import Followup
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.reads import audit_rows, managers_of, member_id, texts_to
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max Petrov")
OTHER = Person(3, "Нина")
HEAD = Person(4, "Hugo")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (MANAGER, "/add Иванов, +7 999 111-22-33"),
            (MANAGER, "/add Петров Сергей, +7 999 222-33-44"),
            (MANAGER, "/add Smirnov Trade"),
            (OTHER, "/add Сидоров, +7 999 555-44-33"),
        ),
    )


async def test_head_moves_the_listed_clients_with_their_followups(team: BotHarness):
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    await team.send(MANAGER, "/next Иванов 15.12 10:00 send the price")
    [reply] = await team.send(HEAD, "/transfer max nina Ivanov, Petrov")
    assert "Clients moved from <b>Max Petrov</b> to <b>Нина</b>: 2." in reply.text
    managers = await managers_of(team)
    assert managers["Иванов"] == nina_id and managers["Петров Сергей"] == nina_id
    assert managers["Smirnov Trade"] == max_id
    async with team.uow_factory() as uow:
        pending = {
            f.reason or "first": f.manager_id
            for f in await uow.session.scalars(select(Followup).where(Followup.state == "pending"))
        }
    assert pending["send the price"] == nina_id
    [audit] = await audit_rows(team, "transfer")
    assert audit.actor_id == await member_id(team, HEAD)
    assert audit.details is not None and audit.details["count"] == 2
    assert len(audit.details["client_ids"]) == 2
    # The new manager sees them at once (the lookup cache moved on with the roster).
    assert "Иванов" in (await team.send(OTHER, "/client Иванов"))[0].text
    assert "No client matches" in (await team.send(MANAGER, "/client Иванов"))[0].text
    team.session.clear()
    await make_sweep(team).run_once()
    [summary] = [t for t in texts_to(team, OTHER) if "gave you" in t]
    assert "Hugo gave you clients of Max Petrov, with their follow-ups: 2." in summary
    assert "Иванов" in summary and "Петров Сергей" in summary
    [told] = [t for t in texts_to(team, MANAGER) if "moved" in t]
    assert "Hugo moved your clients to Нина: 2." in told


async def test_all_clients_move_and_the_summary_is_one_message_listing_ten(team: BotHarness):
    for n in range(12):
        await team.send(MANAGER, f"/add Client {n:02d}")
    nina_id = await member_id(team, OTHER)
    [reply] = await team.send(OWNER, "/transfer Max Petrov Нина")
    assert ": 15." in reply.text and "and 5 more" in reply.text
    assert set((await managers_of(team)).values()) == {nina_id}
    team.session.clear()
    await make_sweep(team).run_once()
    summaries = [t for t in texts_to(team, OTHER) if "gave you" in t]
    assert len(summaries) == 1
    assert "Olga gave you clients of Max Petrov, with their follow-ups: 15." in summaries[0]
    assert "and 5 more" in summaries[0]


async def test_members_are_found_by_username(team: BotHarness):
    async with team.uow_factory() as uow:
        nina = await uow.members.by_telegram_id(OTHER.id)
        assert nina is not None
        await uow.members.update(nina.team_id, nina.id, username="nina_sales")
        await uow.commit()
    [reply] = await team.send(OWNER, "/transfer Max @Nina_Sales Smirnov")
    assert "to <b>Нина</b>: 1.\nSmirnov Trade" in reply.text


@pytest.mark.parametrize(
    ("who", "command", "expected"),
    [
        (OWNER, "/transfer Zorro Nina", "No team member matches «Zorro»"),
        (OWNER, "/transfer Max Zorro", "No team member matches «Zorro»"),
        (OWNER, "/transfer Max Max", "already belong to Max Petrov"),
        (OWNER, "/transfer Нина Max Иванов", "«Иванов» is not a client of Нина"),
        (OWNER, "/transfer Max Нина Kuznetsov", "No client of Max Petrov matches «Kuznetsov»"),
        (OWNER, "/transfer Hugo Нина", "Hugo has no clients to transfer"),
        (MANAGER, "/transfer Max Нина", "Only the owner or the head of sales"),
        (MANAGER, "/transfer", "Only the owner or the head of sales"),
    ],
)
async def test_transfer_errors_are_polite_and_move_nothing(
    team: BotHarness, who: Person, command: str, expected: str
):
    before = await managers_of(team)
    [reply] = await team.send(who, command)
    assert expected in reply.text
    assert await managers_of(team) == before
    assert await audit_rows(team, "transfer") == []


async def test_transfer_to_a_removed_member_is_refused(team: BotHarness):
    await team.press(OWNER, TeamAct(act="rmok", mid=await member_id(team, OTHER)).pack())
    before = await managers_of(team)
    [reply] = await team.send(OWNER, "/transfer Max Нина")
    assert "Нина is no longer in the team" in reply.text
    assert await managers_of(team) == before


async def test_transfer_from_a_removed_member_works_and_tells_only_the_receiver(team: BotHarness):
    max_id = await member_id(team, MANAGER)
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    [reply] = await team.send(OWNER, "/transfer Max Hugo")
    assert "Clients moved" in reply.text and ": 3." in reply.text
    team.session.clear()
    await make_sweep(team).run_once()
    assert [t for t in texts_to(team, HEAD) if "follow-ups: 3." in t]
    assert texts_to(team, MANAGER) == []


async def test_step_by_step_transfer_with_buttons(team: BotHarness):
    max_id, nina_id = await member_id(team, MANAGER), await member_id(team, OTHER)
    [ask_from] = await team.send(OWNER, "/transfer")
    assert "Whose clients" in ask_from.text
    assert [label for label, _ in ask_from.buttons] == ["Max Petrov", "Нина"]
    [ask_to] = await team.press(OWNER, dict(ask_from.buttons)["Max Petrov"])
    assert "(3)" in ask_to.text
    assert [label for label, _ in ask_to.buttons] == ["➡️ Olga", "➡️ Hugo", "➡️ Нина"]
    # A button of the first question pressed again is stale now.
    assert await team.press(OWNER, dict(ask_from.buttons)["Нина"]) == []
    assert any("expired" in a for a in team.alerts())
    [ask_which] = await team.press(OWNER, dict(ask_to.buttons)["➡️ Нина"])
    assert "All clients of <b>Max Petrov</b> go to <b>Нина</b>" in ask_which.text
    replies = await team.press(OWNER, dict(ask_which.buttons)["All of them"])
    assert ": 3." in replies[0].text
    assert team.markup_removed()
    assert set((await managers_of(team)).values()) == {nina_id}
    assert max_id not in (await managers_of(team)).values()
    # The conversation is over: the same button does nothing more.
    assert await team.press(OWNER, dict(ask_which.buttons)["All of them"]) == []
    assert len(await audit_rows(team, "transfer")) == 1


async def test_step_by_step_transfer_with_typed_answers(team: BotHarness):
    nina_id = await member_id(team, OTHER)
    await team.send(HEAD, "/transfer")
    [ask_to] = await team.send(HEAD, "maks petrov")
    assert "Max Petrov" in ask_to.text
    [oops] = await team.send(HEAD, "Max")
    assert "already belong to Max Petrov" in oops.text
    [ask_which] = await team.send(HEAD, "nina")
    assert "All clients of <b>Max Petrov</b> go to <b>Нина</b>" in ask_which.text
    [done] = await team.send(HEAD, "Smirnov")
    assert ": 1.\nSmirnov Trade" in done.text
    assert (await managers_of(team))["Smirnov Trade"] == nina_id
    assert (await managers_of(team))["Иванов"] != nina_id


async def test_transfer_with_only_the_source_asks_whom_to(team: BotHarness):
    [ask_to] = await team.send(OWNER, "/transfer Max Petrov")
    assert "To whom do the clients of <b>Max Petrov</b> (3) go?" in ask_to.text
    [cancelled] = await team.send(OWNER, "/cancel")
    assert "Cancelled" in cancelled.text


async def test_forged_transfer_buttons_are_refused(team: BotHarness):
    nina_id = await member_id(team, OTHER)
    before = await managers_of(team)
    for data in (
        TransferPick(step="all", mid=nina_id),
        TransferPick(step="to", mid=nina_id),
        TransferPick(step="from", mid=1),
    ):
        assert await team.press(OWNER, data.pack()) == []
        assert any("expired" in a for a in team.alerts())
    assert await managers_of(team) == before


async def test_ambiguous_client_names_are_not_guessed(team: BotHarness):
    await team.send(MANAGER, "/add Иванов Сергей")
    before = await managers_of(team)
    [reply] = await team.send(OWNER, "/transfer Max Нина Сергей")
    assert "«Сергей» matches several clients of Max Petrov" in reply.text
    assert "Иванов Сергей, Петров Сергей" in reply.text
    assert await managers_of(team) == before
    [reply] = await team.send(OWNER, "/transfer Max Нина Иванов")
    # The exact full name wins over a near one, as in every other command.
    assert reply.text.endswith(": 1.\nИванов")
    assert (await managers_of(team))["Иванов Сергей"] == before["Иванов Сергей"]
