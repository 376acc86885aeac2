"""Managers see and change only their own clients; head and owner see all. Enforced in the
services: forged buttons and guessed ids change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.telegram.callbacks import CardAction, PickClient
from storage.models import Activity, Client, Followup
from tests.support.builders import TeamSpec, team_with_owner
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
HEAD = Person(4, "Hugo")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=((OTHER, "/add Сидоров, +7 999 555-44-33"),),
    )


async def _sidorov_id(h: BotHarness) -> int:
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(Client.id).where(Client.name == "Сидоров")))


async def _activity_count(h: BotHarness) -> int:
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Activity)) or 0)


async def test_manager_cannot_find_or_open_anothers_client(team: BotHarness):
    for command in ("/client Сидоров", "/call Сидоров done", "/note Сидоров hi", "/hot Сидоров"):
        replies = await team.send(MANAGER, command)
        assert "No client matches" in replies[0].text, command
    assert "Nothing found" in (await team.send(MANAGER, "/find 5554433"))[0].text
    assert "No clients match" in (await team.send(MANAGER, "/list"))[0].text
    assert await _activity_count(team) == 0


@pytest.mark.parametrize("act", ["done", "no_answer", "tomorrow", "week", "hot", "open"])
async def test_forged_card_buttons_for_anothers_client_are_refused(team: BotHarness, act: str):
    forged = CardAction(act=act, cid=await _sidorov_id(team)).pack()
    await team.press(MANAGER, forged)
    assert any("not found" in alert for alert in team.alerts())
    assert not team.replies()
    assert await _activity_count(team) == 0
    async with team.uow_factory() as uow:
        client = await uow.session.scalar(select(Client).where(Client.name == "Сидоров"))
        pending = await uow.session.scalar(select(Followup).where(Followup.state == "pending"))
    assert client is not None and client.temperature == "warm"
    assert pending is not None and pending.due_on.isoformat() == "2026-12-02"


async def test_forged_pick_button_is_refused(team: BotHarness):
    forged = PickClient(cmd="client", cid=await _sidorov_id(team), pid="abc123").pack()
    await team.press(MANAGER, forged)
    assert any("expired" in alert for alert in team.alerts())
    assert not any("Сидоров" in reply.text for reply in team.replies())


async def test_guessed_ids_from_another_team_are_refused(team: BotHarness):
    # A second company on the same install, served by the same dispatcher.
    outsider = Person(50, "Out")
    async with team.uow_factory() as uow:
        await team_with_owner(uow, telegram_id=outsider.id, timezone="UTC")
        await uow.commit()
    forged = CardAction(act="open", cid=await _sidorov_id(team)).pack()
    await team.press(outsider, forged)
    assert any("not found" in alert for alert in team.alerts())
    assert "No client matches" in (await team.send(outsider, "/client Сидоров"))[0].text


async def test_head_and_owner_see_every_client(team: BotHarness):
    for boss in (HEAD, OWNER):
        card = (await team.send(boss, "/client Сидоров"))[0]
        assert "Сидоров" in card.text and "Nina" in card.text
        listing = (await team.send(boss, "/list"))[0]
        assert "Сидоров" in listing.text and "Nina" in listing.text


async def test_card_views_are_audited(team: BotHarness):
    await team.send(HEAD, "/client Сидоров")
    async with team.uow_factory() as uow:
        from storage.models import AuditEntry

        actions = list(await uow.session.scalars(select(AuditEntry.action)))
    assert "card_view" in actions
