"""A list of names cut short says how many more clients there are as one Russian sentence, in
the form the count needs: «и ещё 1 клиент», «2 клиента», «5 клиентов»."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram.methods import SendMessage

from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Ольга", "ru")
MANAGER = Person(2, "Максим", "ru")
OTHER = Person(3, "Нина", "ru")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(owner=OWNER, invited=(MANAGER, OTHER))


async def add(team: BotHarness, person: Person, count: int, prefix: str) -> None:
    for n in range(count):
        await team.send(person, f"/add {prefix} {n:02d}")


async def test_a_transfer_summary_counts_the_clients_left_unnamed(team: BotHarness):
    # Ten names are listed; the rest is counted.
    await add(team, MANAGER, 11, "Клиент")
    [reply] = await team.send(OWNER, "/transfer Максим Нина")
    assert reply.text.endswith("Клиент 09 и ещё 1 клиент")
    await add(team, OTHER, 1, "Заказчик")
    [reply] = await team.send(OWNER, "/transfer Нина Максим")
    assert reply.text.endswith(" и ещё 2 клиента")
    await add(team, MANAGER, 3, "Покупатель")
    [reply] = await team.send(OWNER, "/transfer Максим Нина")
    assert reply.text.endswith(" и ещё 5 клиентов")


async def test_the_digest_counts_the_clients_left_unnamed(team: BotHarness):
    await add(team, MANAGER, 12, "Клиент")
    team.clock.set(datetime(2026, 12, 4, 6, 0, tzinfo=UTC))  # Friday 09:00 in Moscow
    team.session.clear()
    await make_sweep(team).run_once()
    [digest] = [
        m.text for m in team.session.sent(SendMessage) if m.chat_id == MANAGER.id and "☀️" in m.text
    ]
    assert "(12): " in digest and " и ещё 2 клиента" in digest
