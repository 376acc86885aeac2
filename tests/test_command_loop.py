"""The manager's loop through the real Dispatcher: add, call, note, meet, next, deal, today, list.

The clock stands at Wednesday 2026-12-02 10:15 Moscow time.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.telegram.paging import TEXT_LIMIT, visible_length
from storage.models import Activity, Deal, Followup
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(MANAGER, OTHER))


async def _pending(h: BotHarness, name: str) -> Followup | None:
    async with h.uow_factory() as uow:
        from storage.models import Client

        return await uow.session.scalar(
            select(Followup)
            .join(Client, Client.id == Followup.client_id)
            .where(Client.name == name, Followup.state == "pending")
        )


async def _count(h: BotHarness, model) -> int:  # type: ignore[no-untyped-def]
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_add_creates_a_client_due_for_a_first_call_today(team: BotHarness):
    replies = await team.send(MANAGER, "/add Иванов Пётр, +7 999 123-45-67, Москва, #vip, hot")
    assert "Иванов Пётр" in replies[0].text and "added" in replies[0].text
    followup = await _pending(team, "Иванов Пётр")
    assert followup is not None and followup.due_on == date(2026, 12, 2) and followup.date_only


async def test_call_done_without_date_schedules_by_temperature(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, warm")
    await team.send(MANAGER, "/add Петров, hot")
    replies = await team.send(MANAGER, "/call Ivanov done")
    assert "Call with <b>Иванов</b> logged" in replies[0].text
    assert "the team's period for a 🌤 warm client" in replies[0].text
    assert (await _pending(team, "Иванов")).due_on == date(2026, 12, 16)  # type: ignore[union-attr]
    await team.send(MANAGER, "/call петров сделано")
    assert (await _pending(team, "Петров")).due_on == date(2026, 12, 5)  # type: ignore[union-attr]


async def test_call_callback_in_two_weeks_in_russian(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    replies = await team.send(MANAGER, "/call Иванов перезвонить через 2 недели обсудить скидку")
    assert "asked to call back" in replies[0].text
    followup = await _pending(team, "Иванов")
    assert followup is not None and followup.due_on == date(2026, 12, 16)
    assert followup.reason == "обсудить скидку"


async def test_call_no_answer_retries_tomorrow_and_keeps_the_quiet_clock(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/call Иванов не дозвонился")
    assert (await _pending(team, "Иванов")).due_on == date(2026, 12, 3)  # type: ignore[union-attr]
    async with team.uow_factory() as uow:
        from storage.models import Client

        client = await uow.session.scalar(select(Client).where(Client.name == "Иванов"))
    assert client is not None and client.last_contact_at is None and client.stage == "new"


async def test_call_refused_archives_a_lead_and_plans_nothing(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    replies = await team.send(MANAGER, "/call Ivanov refused")
    assert "archived" in replies[0].text
    assert await _pending(team, "Иванов") is None


async def test_call_deal_records_the_sum_and_moves_the_clock(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    replies = await team.send(MANAGER, "/call Иванов сделка 150 тыс")
    assert "Deal with" in replies[0].text and "150" in replies[0].text
    async with team.uow_factory() as uow:
        amounts = list(await uow.session.scalars(select(Deal.amount)))
    assert [str(a) for a in amounts] == ["150000.00"]
    assert (await _pending(team, "Иванов")).due_on == date(2026, 12, 16)  # type: ignore[union-attr]


async def test_deal_command_with_margin(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    replies = await team.send(MANAGER, "/deal Иванов 1,2 млн маржа 25%")
    assert "margin 25%" in replies[0].text
    async with team.uow_factory() as uow:
        deal = (await uow.session.execute(select(Deal.amount, Deal.profit))).one()
    assert (str(deal.amount), str(deal.profit)) == ("1200000.00", "300000.00")


async def test_meet_and_next_set_an_exact_time(team: BotHarness):
    await team.send(MANAGER, "/add ООО Ромашка")
    await team.send(MANAGER, "/meet Ромашка завтра в 15:00")
    followup = await _pending(team, "ООО Ромашка")
    assert followup is not None and followup.kind == "meeting" and not followup.date_only
    assert followup.due_at.hour == 12  # 15:00 Moscow is 12:00 UTC
    await team.send(MANAGER, "/next ООО Ромашка 15.12 10:00 send the price")
    followup = await _pending(team, "ООО Ромашка")
    assert followup is not None and followup.due_on == date(2026, 12, 15)
    assert followup.reason == "send the price"


async def test_note_finds_the_name_before_the_text(team: BotHarness):
    await team.send(MANAGER, "/add Иванов Пётр")
    replies = await team.send(MANAGER, "/note Ivanov wants a discount for 8 March")
    assert "Note about" in replies[0].text
    async with team.uow_factory() as uow:
        texts = list(
            await uow.session.scalars(select(Activity.text).where(Activity.kind == "note"))
        )
    assert texts == ["wants a discount for 8 March"]


async def test_today_lists_overdue_and_due(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/add Петров")
    await team.send(MANAGER, "/call Петров перезвонить завтра")
    team.clock.advance(timedelta(days=2))
    replies = await team.send(MANAGER, "/today")
    text = replies[0].text
    assert "Overdue (2)" in text and "Иванов" in text and "Петров" in text


async def test_list_filters_by_temperature_and_tag(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, hot, #vip")
    await team.send(MANAGER, "/add Петров, cold")
    hot = (await team.send(MANAGER, "/list hot"))[0].text
    assert "Иванов" in hot and "Петров" not in hot
    tagged = (await team.send(MANAGER, "/list #vip"))[0].text
    assert "Иванов" in tagged and "Петров" not in tagged


async def test_list_pages_with_buttons(team: BotHarness):
    for n in range(30):
        await team.send(MANAGER, f"/add Client {n:02d}")
    first = (await team.send(MANAGER, "/list"))[0]
    assert "1–25 of 30" in first.text
    more = [data for text, data in first.buttons if "More" in text]
    second = (await team.press(MANAGER, more[0]))[0]
    assert "26–30 of 30" in second.text


async def test_hot_warm_cold_change_temperature(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    assert "hot" in (await team.send(MANAGER, "/hot Ivanov"))[0].text
    assert "Иванов" in (await team.send(MANAGER, "/list hot"))[0].text


async def test_client_card_shows_history_and_buttons(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, +7 999 123-45-67, ivanov@example.com")
    await team.send(MANAGER, "/call Иванов done discussed prices")
    await team.send(MANAGER, "/note Иванов likes tea")
    card = (await team.send(MANAGER, "/client иванов"))[0]
    assert "+7 999 123-45-67" in card.text and "discussed prices" in card.text
    assert "likes tea" in card.text
    assert any("Talked" in text for text, _ in card.buttons)


async def test_card_button_logs_once_and_removes_itself(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    card = (await team.send(MANAGER, "/client Иванов"))[0]
    done = next(data for text, data in card.buttons if "Talked" in text)
    replies = await team.press(MANAGER, done)
    assert "Call with" in replies[0].text
    assert team.markup_removed()


async def test_several_matches_offer_buttons_and_keep_the_rest_of_the_command(team: BotHarness):
    await team.send(MANAGER, "/add Иванов Пётр")
    await team.send(MANAGER, "/add Иванов Сергей")
    replies = await team.send(MANAGER, "/call Иванов перезвонить завтра")
    assert "Several clients match" in replies[0].text
    assert len(replies[0].buttons) == 2
    sergey = next(data for text, data in replies[0].buttons if "Сергей" in text)
    replies = await team.press(MANAGER, sergey)
    assert "Иванов Сергей" in replies[0].text and "asked to call back" in replies[0].text
    assert (await _pending(team, "Иванов Сергей")).due_on == date(2026, 12, 3)  # type: ignore[union-attr]


async def test_no_match_offers_to_add(team: BotHarness):
    replies = await team.send(MANAGER, "/call Сидоров done")
    assert "No client matches" in replies[0].text and "/add Сидоров" in replies[0].text


async def test_phone_digits_find_the_client(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, 8 (999) 123-45-67")
    card = (await team.send(MANAGER, "/client 1234567"))[0]
    assert "Иванов" in card.text


async def test_bare_command_asks_step_by_step(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    assert "Which client" in (await team.send(MANAGER, "/call"))[0].text
    assert "How did the call" in (await team.send(MANAGER, "ivanov"))[0].text
    replies = await team.send(MANAGER, "перезвонить в пятницу")
    assert "asked to call back" in replies[0].text
    assert (await _pending(team, "Иванов")).due_on == date(2026, 12, 4)  # type: ignore[union-attr]


async def test_cancel_leaves_the_step_by_step_mode(team: BotHarness):
    await team.send(MANAGER, "/note")
    assert "Cancelled" in (await team.send(MANAGER, "/cancel"))[0].text
    assert "nothing to cancel" in (await team.send(MANAGER, "/cancel"))[0].text


async def test_step_state_survives_a_restart(team: BotHarness, engine, clock, settings):  # type: ignore[no-untyped-def]
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/call")
    restarted = BotHarness.create(settings, engine, clock)
    replies = await restarted.send(MANAGER, "Иванов")
    assert "How did the call" in replies[0].text
    replies = await restarted.send(MANAGER, "done")
    assert "Call with" in replies[0].text


async def test_settings_change_time_zone_and_hours(team: BotHarness):
    replies = await team.send(MANAGER, "/settings tz Asia/Yekaterinburg")
    assert "Asia/Yekaterinburg" in replies[0].text
    replies = await team.send(MANAGER, "/settings hours 10-19")
    assert "10:00–19:00" in replies[0].text
    await team.send(MANAGER, "/add Иванов")
    # Date-only follow-ups arrive when the member's own working day starts.
    followup = await _pending(team, "Иванов")
    assert followup is not None and followup.due_at.hour == 5  # 10:00 in UTC+5


async def test_help_explains_with_examples_in_both_languages(team: BotHarness):
    assert "/call Ivanov done" in (await team.send(MANAGER, "/help"))[0].text
    await team.send(MANAGER, "/settings lang ru")
    assert "Клиенты" in (await team.send(MANAGER, "/help"))[0].text


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_owners_full_help_arrives_whole_within_telegrams_limit(
    team: BotHarness, language: str
):
    await team.send(OWNER, f"/settings lang {language}")
    replies = await team.send(OWNER, "/help")
    assert all(visible_length(r.text) <= TEXT_LIMIT for r in replies)
    whole = "\n".join(r.text for r in replies)
    for command in ("/call", "/portfolio", "/team", "/transfer", "/import", "/export", "/forget"):
        assert command in whole


async def test_unknown_command_and_stray_text_get_a_hint(team: BotHarness):
    assert "/help" in (await team.send(MANAGER, "/frobnicate"))[0].text
    assert "/call Ivanov done" in (await team.send(MANAGER, "hello"))[0].text


async def test_records_count_after_a_session(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/call Иванов done")
    await team.send(MANAGER, "/call Иванов перезвонить завтра")
    assert await _count(team, Activity) == 2
    # Each logged contact closes the previous follow-up: exactly one is pending.
    async with team.uow_factory() as uow:
        pending = await uow.session.scalar(
            select(func.count()).select_from(Followup).where(Followup.state == "pending")
        )
    assert pending == 1


async def test_a_note_keeps_its_line_breaks(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/note Иванов first line\nsecond line")
    async with team.uow_factory() as uow:
        texts = list(
            await uow.session.scalars(select(Activity.text).where(Activity.kind == "note"))
        )
    assert texts == ["first line\nsecond line"]


async def test_lookup_sees_a_client_added_after_the_previous_lookup(team: BotHarness):
    assert "No client matches" in (await team.send(MANAGER, "/client Сидоров"))[0].text
    await team.send(MANAGER, "/add Сидоров")
    assert "Сидоров" in (await team.send(MANAGER, "/client Сидоров"))[0].text


async def test_long_cyrillic_tags_still_page(team: BotHarness):
    tag = "оченьдлинныйтегдлясписка" * 2
    for n in range(30):
        await team.send(MANAGER, f"/add Клиент {n:02d}, #{tag}")
    first = (await team.send(MANAGER, f"/list #{tag}"))[0]
    assert "1–25 of 30" in first.text
    assert all(len(data.encode()) <= 64 for _, data in first.buttons)
    more = next(data for text, data in first.buttons if "More" in text)
    assert "26–30 of 30" in (await team.press(MANAGER, more))[0].text


async def test_filtered_lists_page_too(team: BotHarness):
    for n in range(27):
        await team.send(MANAGER, f"/add Client {n:02d}, hot")
    first = (await team.send(MANAGER, "/list hot"))[0]
    more = next(data for text, data in first.buttons if "More" in text)
    assert "26–27 of 27" in (await team.press(MANAGER, more))[0].text


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("Иванов Пётр", "просил скидку к 8 марта"),
        ("ООО Ромашка", "wants a discount"),
        ("Ivanov Petr", "wants a discount"),
    ],
)
async def test_note_after_a_two_word_name_keeps_every_word_of_the_note(
    team: BotHarness, name: str, note: str
):
    await team.send(MANAGER, "/add Иванов Пётр")
    await team.send(MANAGER, "/add ООО Ромашка")
    await team.send(MANAGER, f"/note {name} {note}")
    async with team.uow_factory() as uow:
        texts = list(
            await uow.session.scalars(select(Activity.text).where(Activity.kind == "note"))
        )
    assert texts == [note]


async def test_a_button_from_an_older_pick_list_does_not_run_a_newer_command(team: BotHarness):
    for name in ("Петров Иван", "Петров Олег", "Сидоров Иван", "Сидоров Олег"):
        await team.send(MANAGER, f"/add {name}")
    first = (await team.send(MANAGER, "/call Петров done"))[0]
    await team.send(MANAGER, "/call Сидоров refused")
    ivan = next(data for text, data in first.buttons if "Петров Иван" in text)
    await team.press(MANAGER, ivan)
    assert any("expired" in alert for alert in team.alerts())
    async with team.uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Activity)) == 0


async def test_owner_planning_for_a_manager_in_another_zone_uses_the_managers_day(
    team: BotHarness,
):
    await team.send(MANAGER, "/settings tz Asia/Yekaterinburg")
    await team.send(MANAGER, "/settings hours 10-19")
    await team.send(MANAGER, "/add Иванов")
    await team.send(OWNER, "/next Иванов завтра")
    followup = await _pending(team, "Иванов")
    # 10:00 in Yekaterinburg (UTC+5), not 09:00 in the owner's Moscow.
    assert followup is not None and followup.due_at.hour == 5


async def test_a_date_in_another_year_shows_the_year(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    replies = await team.send(MANAGER, "/next Иванов 01.12")
    assert "2027" in replies[0].text
    replies = await team.send(MANAGER, "/next Иванов 15.12")
    assert "2026" not in replies[0].text


async def test_an_unanswered_call_keeps_the_promised_reason(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/call Иванов перезвонить через 2 недели обсудить скидку")
    await team.send(MANAGER, "/call Иванов не дозвонился")
    followup = await _pending(team, "Иванов")
    assert followup is not None and followup.reason == "обсудить скидку"
    async with team.uow_factory() as uow:
        states = list(await uow.session.scalars(select(Followup.state).order_by(Followup.id)))
    # First call due today: done by the callback talk; the callback: moved by the no-answer.
    assert states == ["done", "rescheduled", "pending"]


async def test_a_second_tap_on_a_card_button_logs_nothing(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    card = (await team.send(MANAGER, "/client Иванов"))[0]
    done = next(data for text, data in card.buttons if "Talked" in text)
    await team.press(MANAGER, done)
    await team.press(MANAGER, done)
    assert any("already handled" in alert for alert in team.alerts())
    assert await _count(team, Activity) == 1


async def test_card_postpone_keeps_the_reason_and_kind(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/meet Иванов завтра 15:00 показать образцы")
    card = (await team.send(MANAGER, "/client Иванов"))[0]
    week = next(data for text, data in card.buttons if "week" in text)
    await team.press(MANAGER, week)
    followup = await _pending(team, "Иванов")
    assert followup is not None and followup.due_on == date(2026, 12, 9)
    assert (followup.kind, followup.reason) == ("meeting", "показать образцы")


async def test_every_contact_person_is_kept_and_findable(team: BotHarness):
    await team.send(MANAGER, "/add ООО Ромашка, contact: Петр Смирнов, contact: Мария Лебедева")
    card = (await team.send(MANAGER, "/client Лебедева"))[0]
    assert "ООО Ромашка" in card.text
    assert "Петр Смирнов" in card.text and "Мария Лебедева" in card.text


async def test_overdue_list_uses_the_members_calendar_day(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/add Петров")
    await team.send(MANAGER, "/next Петров завтра")
    team.clock.advance(timedelta(days=1))
    overdue = (await team.send(MANAGER, "/list overdue"))[0].text
    assert "Иванов" in overdue and "Петров" not in overdue


async def test_owner_changes_a_team_period_and_it_takes_effect(team: BotHarness):
    replies = await team.send(OWNER, "/settings team")
    assert "Team periods" in replies[0].text and "hot 3" in replies[0].text
    replies = await team.send(OWNER, "/settings team hot 5")
    assert "Saved" in replies[0].text and "hot 5" in replies[0].text
    await team.send(MANAGER, "/add Иванов, hot")
    await team.send(MANAGER, "/call Иванов done")
    assert (await _pending(team, "Иванов")).due_on == date(2026, 12, 7)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("who", "command", "expected"),
    [
        (MANAGER, "/settings team quiet 10", "Only the team owner"),
        (OWNER, "/settings team quiet 0", "from 1 to 365"),
        (OWNER, "/settings team quiet many", "from 1 to 365"),
        (OWNER, "/settings team loud 10", "There is no team period «loud»"),
    ],
)
async def test_team_periods_refuse_bad_input(
    team: BotHarness, who: Person, command: str, expected: str
):
    replies = await team.send(who, command)
    assert expected in replies[0].text
    async with team.uow_factory() as uow:
        from storage.models import Team

        assert await uow.session.scalar(select(Team.quiet_hot_days)) == 14
