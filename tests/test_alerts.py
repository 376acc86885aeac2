"""Outbox alerts: owed once per key, worded at send time in the recipient's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aiogram.methods import SendMessage

from bot.i18n import _
from bot.services.alerts import alert_owners
from bot.telegram.views.alerts import ALERT_TEXTS
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")


def _probe_text(params: Mapping[str, Any]) -> str:
    return _("City") + f" <b>{params['count']}</b>"


@pytest.fixture
def probe_step(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(ALERT_TEXTS, "probe", _probe_text)
    return "probe"


async def _alert(h: BotHarness, step: str, key: str) -> int:
    async with h.uow_factory() as uow:
        team = await uow.members.by_telegram_id(OWNER.id)
        assert team is not None
        owed = await alert_owners(
            uow,
            team_id=team.team_id,
            step=step,
            params={"count": 3},
            dedup_key=key,
            now=h.clock.now(),
        )
        await uow.commit()
    return owed


def _to(h: BotHarness, person: Person) -> list[str]:
    """Alerts only: the morning digest also goes out on the first sweep."""
    return [
        m.text
        for m in h.session.sent(SendMessage)
        if m.chat_id == person.id and "<b>3</b>" in m.text
    ]


async def test_an_alert_reaches_every_owner_once_in_their_language(
    harness: BotHarness, probe_step: str
):
    await harness.join_owner(OWNER)
    await harness.invite_and_join(OWNER, MANAGER)
    await harness.send(OWNER, "/settings lang ru")
    harness.session.clear()
    assert await _alert(harness, probe_step, "k1") == 1
    assert await _alert(harness, probe_step, "k1") == 1  # the same key again: still owed once
    sweep = make_sweep(harness)
    await sweep.run_once()
    await sweep.run_once()
    assert _to(harness, OWNER) == ["Город <b>3</b>"]
    assert _to(harness, MANAGER) == []


async def test_an_alert_of_an_unknown_step_is_dropped_not_retried(harness: BotHarness):
    await harness.join_owner(OWNER)
    harness.session.clear()
    await _alert(harness, "from-a-newer-version", "k2")
    report = await make_sweep(harness).run_once()
    assert report.dropped == 1
    assert _to(harness, OWNER) == []
