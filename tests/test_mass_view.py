"""The mass-viewing alarm: more than N distinct cards (or exports) in M minutes alerts the owners
once per episode; the owner's own viewing never does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from bot.config import Limits, Settings
from storage.models import AuditEntry
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MAX = Person(2, "Max")
HEAD = Person(4, "Hugo")
N = 5  # the test threshold: more than 5 distinct cards in 10 minutes
CLIENTS = [f"Client{letter}" for letter in "ABCDEFGHIJKLMN"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"limits": Limits(mass_view_cards=N, mass_view_minutes=10)})


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MAX, (HEAD, "head")), commands=tuple((MAX, f"/add {name}") for name in CLIENTS)
    )


async def _alerts(h: BotHarness) -> list[str]:
    h.session.clear()
    await make_sweep(h).run_once()
    return [m.text for m in h.session.sent(SendMessage) if m.chat_id == OWNER.id and "⚠️" in m.text]


async def _open(h: BotHarness, person: Person, names: list[str]) -> None:
    for name in names:
        h.clock.advance(timedelta(seconds=20))
        replies = await h.send(person, f"/client {name}")
        assert f"<b>{name}</b>" in replies[-1].text


async def test_exactly_n_cards_is_quiet_and_n_plus_one_alerts_once(team: BotHarness):
    await _open(team, MAX, CLIENTS[:N])
    # The same cards again are not more distinct cards.
    await _open(team, MAX, CLIENTS[:2])
    assert await _alerts(team) == []
    await _open(team, MAX, CLIENTS[N : N + 1])
    [alert] = await _alerts(team)
    assert "<b>Max</b>, within 10 min: different client cards opened: 6, exports: 0" in alert
    # The same burst goes on: no second alert.
    await _open(team, MAX, CLIENTS[N + 1 : N + 4])
    assert await _alerts(team) == []
    async with team.uow_factory() as uow:
        raised = await uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "mass_view")
        )
    assert raised == 1


async def test_a_new_burst_after_the_window_alerts_again(team: BotHarness):
    await _open(team, MAX, CLIENTS[: N + 1])
    assert len(await _alerts(team)) == 1
    team.clock.advance(timedelta(minutes=11))
    await _open(team, MAX, CLIENTS[:N])
    assert await _alerts(team) == []
    await _open(team, MAX, CLIENTS[N : N + 1])
    assert len(await _alerts(team)) == 1


async def test_views_spread_beyond_the_window_do_not_alert(team: BotHarness):
    for name in CLIENTS[: N + 3]:
        team.clock.advance(timedelta(minutes=3))  # never more than 4 cards in 10 minutes
        await team.send(MAX, f"/client {name}")
    assert await _alerts(team) == []


async def test_the_owners_own_viewing_does_not_alert(team: BotHarness):
    await _open(team, OWNER, CLIENTS)
    assert await _alerts(team) == []


async def test_a_head_is_watched_too(team: BotHarness):
    await _open(team, HEAD, CLIENTS[: N + 1])
    [alert] = await _alerts(team)
    assert "<b>Hugo</b>" in alert


async def test_exports_count_with_cards(team: BotHarness):
    await team.send(OWNER, "/grant export Max")
    await _open(team, MAX, CLIENTS[: N - 1])
    await team.send(MAX, "/export")
    assert await _alerts(team) == []  # 4 cards + 1 export = N
    await team.send(MAX, "/export csv")
    [alert] = await _alerts(team)
    assert "different client cards opened: 4, exports: 2" in alert


def test_the_threshold_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LIMITS__MASS_VIEW_CARDS", "50")
    monkeypatch.setenv("LIMITS__MASS_VIEW_MINUTES", "15")
    limits = Settings(_env_file=None).limits  # type: ignore[call-arg]
    assert (limits.mass_view_cards, limits.mass_view_minutes) == (50, 15)
    assert (Limits().mass_view_cards, Limits().mass_view_minutes) == (30, 10)
