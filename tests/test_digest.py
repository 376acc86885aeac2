"""The morning digest and the nudges, over moved time: each member's own clock, once per day
and per episode, folded after an outage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiogram.methods import SendMessage
from sqlalchemy import select, update

from storage.models import Client
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def messages(h: BotHarness, chat_id: int, marker: str) -> list[str]:
    return [
        m.text for m in h.session.sent(SendMessage) if m.chat_id == chat_id and marker in m.text
    ]


async def test_digest_arrives_once_at_each_members_own_morning(team: BotHarness):
    await team.send(MANAGER, "/settings tz Asia/Yekaterinburg")  # UTC+5
    sweep = make_sweep(team)
    team.session.clear()
    team.clock.set(utc(2026, 12, 3, 3, 59))
    await sweep.run_once()
    assert messages(team, MANAGER.id, "☀️") == []
    team.clock.set(utc(2026, 12, 3, 4, 0))  # 09:00 in Yekaterinburg
    await sweep.run_once()
    assert len(messages(team, MANAGER.id, "☀️")) == 1
    assert messages(team, OWNER.id, "☀️") == []  # 07:00 in Moscow
    team.clock.set(utc(2026, 12, 3, 6, 0))  # 09:00 in Moscow
    await sweep.run_once()
    await make_sweep(team).run_once()  # a restart the same morning
    assert len(messages(team, MANAGER.id, "☀️")) == 1
    assert len(messages(team, OWNER.id, "☀️")) == 1


async def test_digest_keeps_local_time_across_a_daylight_saving_change(team: BotHarness):
    await team.send(MANAGER, "/settings tz Europe/Berlin")
    sweep = make_sweep(team)
    # Berlin moves from UTC+1 to UTC+2 on 2027-03-28.
    for day, expected_hour in ((27, 8), (28, 7), (29, 7)):
        team.session.clear()
        team.clock.set(utc(2027, 3, day, expected_hour - 1, 59))
        await sweep.run_once()
        assert messages(team, MANAGER.id, "Good morning") == [], day
        team.clock.set(utc(2027, 3, day, expected_hour, 0))
        await sweep.run_once()
        assert len(messages(team, MANAGER.id, "Good morning")) == 1, day


async def test_digest_content_for_a_prepared_base(team: BotHarness):
    await team.send(MANAGER, "/add Due Today")
    await team.send(MANAGER, "/add Late One")
    await team.send(MANAGER, "/add Hot Quiet, hot")
    await team.send(MANAGER, "/add Birthday Girl, birthday: 04.12.1990")
    await team.send(MANAGER, "/next Due Today 03.12")
    await team.send(MANAGER, "/next Late One завтра")
    await team.send(MANAGER, "/call Birthday Girl сделка 150000")
    await team.send(MANAGER, "/next Birthday Girl 20.12")
    await team.send(MANAGER, "/next Hot Quiet 20.12")
    async with team.uow_factory() as uow:
        await uow.session.execute(
            update(Client)
            .where(Client.name == "Hot Quiet")
            .values(created_at=utc(2026, 11, 1, 0), stage="won")
        )
        await uow.commit()
    team.clock.set(utc(2026, 12, 4, 6, 0))  # Friday 09:00 Moscow, yesterday was Thursday
    sweep = make_sweep(team)
    team.session.clear()
    await sweep.run_once()
    [digest] = messages(team, MANAGER.id, "Good morning")
    assert "Overdue (2)" in digest and "Due Today" in digest and "Late One" in digest
    assert "Hot clients going quiet (1): Hot Quiet" in digest
    assert "Birthdays today: Birthday Girl" in digest
    [owner_digest] = messages(team, OWNER.id, "Good morning")
    assert "Team yesterday" in owner_digest and "Max" in owner_digest


async def test_yesterdays_numbers_are_counted(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/call Иванов done")
    await team.send(MANAGER, "/call Иванов сделка 150000")
    team.clock.set(utc(2026, 12, 3, 6, 0))
    team.session.clear()
    await make_sweep(team).run_once()
    [digest] = messages(team, MANAGER.id, "Good morning")
    assert "Yesterday — calls: 2, meetings: 0, deals: 1" in digest


async def test_an_empty_day_gets_one_short_line(team: BotHarness):
    team.clock.set(utc(2026, 12, 3, 6, 0))
    team.session.clear()
    await make_sweep(team).run_once()
    [digest] = messages(team, MANAGER.id, "☀️")
    assert digest.startswith("☀️ Good morning! Nothing is due today")
    assert "\n" not in digest


async def test_a_two_day_outage_yields_one_catch_up_digest(team: BotHarness):
    sweep = make_sweep(team)
    team.clock.set(utc(2026, 12, 3, 6, 0))
    await sweep.run_once()
    team.session.clear()
    team.clock.set(utc(2026, 12, 6, 12, 0))  # down from the 4th to the 6th, noon
    await sweep.run_once()
    await sweep.run_once()
    digests = messages(team, MANAGER.id, "☀️")
    assert len(digests) == 1
    assert "since" in digests[0] and "4 December" in digests[0]


async def test_the_stuck_lead_ladder_over_simulated_weeks(team: BotHarness):
    await team.send(MANAGER, "/add Лид Новый")
    await team.send(MANAGER, "/next Лид Новый 20.01.2027")
    await team.send(OWNER, "/settings digest 23:59")
    await team.send(MANAGER, "/settings digest 23:59")
    sweep = make_sweep(team)
    start = utc(2026, 12, 2, 7, 15)
    seen: dict[int, list[str]] = {}
    for day in range(0, 18):
        team.clock.set(start + timedelta(days=day, hours=3))  # 13:15 Moscow, working hours
        team.session.clear()
        await sweep.run_once()
        seen[day] = messages(team, MANAGER.id, "Лид Новый")
        seen[-day - 1] = messages(team, OWNER.id, "Лид Новый")
    manager = {d: t for d, t in seen.items() if d >= 0}
    owner = {-d - 1: t for d, t in seen.items() if d < 0}
    first_nudge = [d for d, texts in manager.items() if any("has been at" in t for t in texts)]
    escalation = [d for d, texts in owner.items() if any("no reaction" in t for t in texts)]
    archive = [d for d, texts in manager.items() if any("archived" in t for t in texts)]
    assert [d for d, texts in owner.items() if any("archived" in t for t in texts)] == [16]
    assert first_nudge == [7]
    assert escalation == [9]
    assert archive == [16]
    async with team.uow_factory() as uow:
        lead = await uow.session.scalar(select(Client).where(Client.name == "Лид Новый"))
    assert lead is not None and lead.stage == "lost" and lead.archived_at is not None


async def test_any_activity_restarts_the_ladder(team: BotHarness):
    await team.send(MANAGER, "/add Лид")
    await team.send(MANAGER, "/settings digest 23:59")
    sweep = make_sweep(team)
    team.clock.set(utc(2026, 12, 9, 10, 15))
    await sweep.run_once()
    await team.send(MANAGER, "/note Лид обсудили условия")
    team.session.clear()
    team.clock.set(utc(2026, 12, 12, 10, 15))
    await sweep.run_once()
    assert messages(team, MANAGER.id, "has been at") == []
    team.clock.set(utc(2026, 12, 16, 10, 20))  # 7 days after the note
    await sweep.run_once()
    assert len(messages(team, MANAGER.id, "has been at")) == 1


async def test_a_hot_client_going_quiet_is_nudged_once_per_episode(team: BotHarness):
    await team.send(MANAGER, "/add Горячий, hot")
    await team.send(MANAGER, "/call Горячий сделка 10000")  # a client now, not a lead
    await team.send(MANAGER, "/settings digest 23:59")
    sweep = make_sweep(team)
    team.session.clear()
    for day in (13, 14, 15, 20):
        team.clock.set(utc(2026, 12, 2, 10, 0) + timedelta(days=day))
        await sweep.run_once()
    assert len(messages(team, MANAGER.id, "going quiet")) == 1
    await team.send(MANAGER, "/call Горячий done")
    team.session.clear()
    team.clock.set(utc(2026, 12, 22, 10, 0) + timedelta(days=15))
    await sweep.run_once()
    assert len(messages(team, MANAGER.id, "going quiet")) == 1  # a new episode


async def test_a_hot_client_with_no_activity_for_90_days_cools_to_warm(team: BotHarness):
    await team.send(MANAGER, "/add Остывший, hot")
    await team.send(MANAGER, "/call Остывший сделка 10000")
    await team.send(MANAGER, "/next Остывший 01.06.2027")
    team.clock.set(utc(2027, 3, 3, 10, 0))  # 91 days later
    team.session.clear()
    await make_sweep(team).run_once()
    async with team.uow_factory() as uow:
        client = await uow.session.scalar(select(Client).where(Client.name == "Остывший"))
    assert client is not None and client.temperature == "warm"
    assert len(messages(team, MANAGER.id, "is now warm")) == 1
    assert len(messages(team, OWNER.id, "is now warm")) == 1
    assert date(2027, 3, 3)  # the clock moved, nobody slept
