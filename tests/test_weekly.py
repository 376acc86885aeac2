"""The owner's weekly report over moved time, through the real sweep and Dispatcher: on its day
and time in the owner's zone, once across restarts, caught up after downtime within its window,
heads on request, off when off, in Russian and English, with numbers equal to /portfolio's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.services.errors import DomainError
from bot.services.members import parse_weekly
from bot.services.weekly import (
    WeeklyReports,
    plan_weekly,
    scheduled_moment,
    week_periods,
    weekly_key,
)
from bot.telegram.callbacks import PortfolioOpen, PortfolioView
from bot.telegram.paging import TEXT_LIMIT, visible_length
from storage.models import Member, OutboxMessage
from storage.repositories.outbox import OutboxRow
from tests.support import portfolio_data
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep, moscow

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
HEAD = Person(4, "Hugo")
MARK = "📅 <b>Weekly report"


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(MANAGER, (HEAD, "head")))


def weekly(h: BotHarness, chat_id: int, marker: str = MARK) -> list[SendMessage]:
    return [m for m in h.session.sent(SendMessage) if m.chat_id == chat_id and marker in m.text]


async def at(h: BotHarness, moment: datetime, *, restart: bool = False) -> None:
    """Move the clock and run a sweep (a new one, as after a restart, when asked)."""
    h.clock.set(moment)
    await make_sweep(h).run_once()
    if restart:
        await make_sweep(h, owner="another-instance").run_once()


# -- when and to whom ---------------------------------------------------------------------------


async def test_sent_on_monday_at_the_owners_digest_time_in_their_zone_once(team: BotHarness):
    await team.send(OWNER, "/settings tz Asia/Yekaterinburg")  # UTC+5
    await team.send(OWNER, "/settings digest 8:30")
    team.session.clear()
    monday_0829 = datetime(2026, 12, 7, 3, 29, tzinfo=UTC)  # 08:29 in Yekaterinburg
    await at(team, monday_0829)
    assert weekly(team, OWNER.id) == []
    await at(team, datetime(2026, 12, 7, 3, 30, tzinfo=UTC), restart=True)
    [report] = weekly(team, OWNER.id)
    assert "30 November 2026 – 6 December 2026" in report.text
    assert "Sent late" not in report.text
    # Restarts, a second instance, the rest of the week: still one.
    for hour in (4, 12, 30, 60):
        await at(team, datetime(2026, 12, 7, 0, 30, tzinfo=UTC) + timedelta(hours=hour))
    await at(team, datetime(2026, 12, 8, 3, 30, tzinfo=UTC), restart=True)
    assert len(weekly(team, OWNER.id)) == 1
    assert weekly(team, MANAGER.id) == [] and weekly(team, HEAD.id) == []
    async with team.uow_factory() as uow:
        keys = list(
            await uow.session.scalars(
                select(OutboxMessage.dedup_key).where(OutboxMessage.kind == "weekly")
            )
        )
    assert len(keys) == 1 and keys[0].startswith("weekly:") and ":2026-W50:" in keys[0]
    # The next Monday brings the next one.
    await at(team, datetime(2026, 12, 14, 3, 30, tzinfo=UTC))
    assert len(weekly(team, OWNER.id)) == 2


async def test_the_button_opens_the_portfolio_as_a_new_message(team: BotHarness):
    team.session.clear()
    await at(team, moscow(7, 9))
    [report] = weekly(team, OWNER.id)
    [[button]] = report.reply_markup.inline_keyboard  # type: ignore[union-attr]
    assert button.text == "📊 Full portfolio"
    assert button.callback_data == PortfolioOpen(p="M202612").pack()
    replies = await team.press(OWNER, button.callback_data)
    [opened] = replies
    assert opened.message_id is None  # sent, not an edit of the report
    assert "Portfolio: whole team" in opened.text and "December 2026" in opened.text
    # A manager pressing a forwarded or forged one sees only their own numbers.
    replies = await team.press(MANAGER, button.callback_data)
    assert "Portfolio: Max" in replies[0].text


async def test_a_missed_monday_is_caught_up_once_within_the_window(team: BotHarness):
    team.session.clear()
    await at(team, moscow(8, 14))  # the bot was down from Monday morning to Tuesday 14:00
    await at(team, moscow(8, 14, 5), restart=True)
    [report] = weekly(team, OWNER.id)
    assert "Sent late: the bot was unavailable when it was due, on Mon, 7 December" in report.text
    await at(team, moscow(10, 8))
    assert len(weekly(team, OWNER.id)) == 1


async def test_past_the_catch_up_window_the_week_is_skipped(team: BotHarness):
    team.session.clear()
    await at(team, moscow(10, 9, 1))  # Thursday 09:01: 72 hours and a minute after Monday 09:00
    assert weekly(team, OWNER.id) == []
    await at(team, moscow(14, 9))
    [report] = weekly(team, OWNER.id)
    assert "7 December 2026 – 13 December 2026" in report.text
    assert "Sent late" not in report.text


async def test_a_team_created_midweek_is_not_sent_last_mondays(team: BotHarness):
    """The team exists since Wednesday 2 December: Monday 30 November's is not owed."""
    team.session.clear()
    await at(team, moscow(2, 12))
    assert weekly(team, OWNER.id) == []


async def test_heads_get_it_only_when_the_owner_chooses_so(team: BotHarness):
    replies = await team.send(OWNER, "/settings weekly heads on")
    assert "Heads of sales get it too: yes" in replies[0].text
    team.session.clear()
    await at(team, moscow(7, 9))
    assert len(weekly(team, OWNER.id)) == 1 and len(weekly(team, HEAD.id)) == 1
    assert weekly(team, MANAGER.id) == []
    await team.send(OWNER, "/settings weekly heads off")
    team.session.clear()
    await at(team, moscow(14, 9))
    assert len(weekly(team, OWNER.id)) == 1 and weekly(team, HEAD.id) == []


async def test_off_sends_nothing_and_on_again_owes_no_missed_week(team: BotHarness):
    replies = await team.send(OWNER, "/settings weekly off")
    assert "Status: off" in replies[0].text
    team.session.clear()
    await at(team, moscow(7, 9))
    assert weekly(team, OWNER.id) == []
    team.clock.set(moscow(8, 10))
    replies = await team.send(OWNER, "/settings weekly on")
    assert "Status: on" in replies[0].text
    await at(team, moscow(8, 10, 1))
    assert weekly(team, OWNER.id) == []  # Monday passed while it was off
    await at(team, moscow(14, 9))
    assert len(weekly(team, OWNER.id)) == 1


async def test_planned_then_turned_off_is_not_sent(team: BotHarness):
    team.clock.set(moscow(7, 9))
    async with team.uow_factory() as uow:
        planned = await plan_weekly(
            uow, team.clock.now(), late_after=timedelta(minutes=5), catch_up=timedelta(hours=72)
        )
        await uow.commit()
    assert planned == 1
    await team.send(OWNER, "/settings weekly off")
    team.session.clear()
    await at(team, moscow(7, 9, 1))
    assert weekly(team, OWNER.id) == []


async def test_another_day_andtime(team: BotHarness):
    replies = await team.send(OWNER, "/settings weekly friday 17:30")
    assert "When: Friday, 17:30" in replies[0].text
    team.session.clear()
    await at(team, moscow(4, 17, 29))
    assert weekly(team, OWNER.id) == []
    await at(team, moscow(4, 17, 30))
    await at(team, moscow(7, 9))
    await at(team, moscow(11, 17, 29))
    [report] = weekly(team, OWNER.id)
    # The 7 days before Friday: from the Friday before to Thursday.
    assert "27 November 2026 – 3 December 2026" in report.text
    await at(team, moscow(11, 17, 30))
    assert len(weekly(team, OWNER.id)) == 2
    replies = await team.send(OWNER, "/settings weekly digest")
    assert "each recipient's morning digest time (yours: 09:00)" in replies[0].text


# -- settings: access and bad input -------------------------------------------------------------


async def test_settings_access_and_bad_input(team: BotHarness):
    replies = await team.send(OWNER, "/settings weekly")
    assert "Status: on" in replies[0].text and "When: Monday" in replies[0].text
    replies = await team.send(HEAD, "/settings weekly")
    assert "Weekly report" in replies[0].text
    replies = await team.send(HEAD, "/settings weekly off")
    assert replies[0].text == "Only the team owner can do this."
    replies = await team.send(MANAGER, "/settings weekly")
    assert replies[0].text == "Only the owner or the head of sales can do this."
    replies = await team.send(OWNER, "/settings weekly someday")
    assert "/settings weekly monday 9:00" in replies[0].text
    replies = await team.send(OWNER, "/settings weekly monday 25:00")
    assert "«25:00» is not a time" in replies[0].text
    replies = await team.send(OWNER, "/settings weekly heads")
    assert "/settings weekly heads on" in replies[0].text
    async with team.uow_factory() as uow:
        stored = await uow.session.scalar(select(Member.team_id))
        team_row = await uow.teams.get(int(stored or 0))
    assert team_row.weekly_day == 0 and team_row.weekly_enabled and not team_row.weekly_heads


async def test_settings_in_russian(team: BotHarness):
    await team.send(OWNER, "/settings lang ru")
    replies = await team.send(OWNER, "/settings weekly пт 18:00")
    assert "Сохранено." in replies[0].text
    assert "Когда: пятница, 18:00" in replies[0].text
    replies = await team.send(OWNER, "/settings weekly руководители вкл")
    assert "Руководители отдела продаж тоже получают: да" in replies[0].text
    replies = await team.send(OWNER, "/settings weekly когда-нибудь")
    assert "Используйте: <code>/settings weekly пн 9:00</code>" in replies[0].text


def test_parse_weekly_words():
    change = parse_weekly("Monday 9:30 heads on")
    assert (change.day, change.at, change.heads, change.enabled) == (0, time(9, 30), True, None)
    assert parse_weekly("вс").day == 6
    assert parse_weekly("выкл").enabled is False
    assert parse_weekly("digest").digest_time
    for bad in ("heads maybe", "9:75", "tomorrow"):
        with pytest.raises(DomainError):
            parse_weekly(bad)


def test_schedule_and_periods():
    zone = ZoneInfo("Europe/Moscow")
    day, moment = scheduled_moment(moscow(9, 12), zone, 0, time(9, 0))
    assert day == date(2026, 12, 7) and moment == moscow(7, 9)
    day, _moment = scheduled_moment(moscow(7, 8, 59), zone, 0, time(9, 0))
    assert day == date(2026, 11, 30)
    # ISO weeks: 4 January 2027 is in week 1 of 2027, 28 December 2026 in week 53 of 2026.
    assert weekly_key(5, date(2027, 1, 4), 9) == "weekly:5:2027-W01:9"
    assert weekly_key(5, date(2026, 12, 28), 9) == "weekly:5:2026-W53:9"
    week, to_date, same_days, month = week_periods(date(2027, 3, 1))
    assert (week.start, week.end) == (date(2027, 2, 22), date(2027, 2, 28))
    # Sent on the 1st: the month just ended, against the whole month before.
    assert (to_date.start, to_date.end) == (date(2027, 2, 1), date(2027, 2, 28))
    assert (same_days.start, same_days.end) == (date(2027, 1, 1), date(2027, 1, 28))
    assert month.key == "M202702"
    _w, to_date, same_days, _m = week_periods(date(2027, 3, 31))
    assert (same_days.start, same_days.end) == (date(2027, 2, 1), date(2027, 2, 28))
    assert to_date.days == 30


# -- what it says -------------------------------------------------------------------------------


async def test_a_team_with_no_deals(team: BotHarness):
    team.session.clear()
    await at(team, moscow(7, 9))
    [report] = weekly(team, OWNER.id)
    assert "No deals in these two weeks" in report.text
    assert "No class moves, no shrinking A shares, nothing overdue and no stuck leads." in (
        report.text
    )


async def test_in_russian(team: BotHarness):
    await team.send(OWNER, "/settings lang ru")
    await team.send(MANAGER, "/add Лидия Новая")
    team.session.clear()
    await at(team, moscow(14, 9))
    [report] = weekly(team, OWNER.id, "📅")
    assert "7 декабря 2026 – 13 декабря 2026" in report.text
    assert "⏳ <b>1 зависший лид</b>" in report.text
    assert "Max: 1 (Лидия Новая)" in report.text
    [[button]] = report.reply_markup.inline_keyboard  # type: ignore[union-attr]
    assert button.text == "📊 Весь портфель"


async def test_many_long_named_managers_fit_one_message(team: BotHarness):
    async with team.uow_factory() as uow:
        owner = await uow.members.by_telegram_id(OWNER.id)
        assert owner is not None
        for n in range(60):
            await uow.members.create(
                team_id=owner.team_id,
                telegram_id=1000 + n,
                role="manager",
                full_name=f"Manager {n:02d} " + "Долгорукова-Преображенская " * 6,
                username=None,
                language="en",
                telegram_language="en",
                timezone="Europe/Moscow",
                work_start=owner.work_start,
                work_end=owner.work_end,
                now=team.clock.now(),
            )
        await uow.commit()
    await team.send(MANAGER, "/add Client One")
    await team.send(MANAGER, "/deal Client One 1000")
    team.session.clear()
    await at(team, moscow(7, 9))
    [report] = weekly(team, OWNER.id)
    assert visible_length(report.text) <= TEXT_LIMIT
    assert "more managers" in report.text
    assert "Max: RUB\xa01,000 against RUB\xa00" in report.text  # the best week comes first


# -- the numbers are /portfolio's ---------------------------------------------------------------

IVANOV = Person(5, "Ivan Ivanov")
PETROV = Person(6, "Petr Petrov")
NAMESAKE = Person(7, "Ivan Ivanov")


class TestNumbers:
    @pytest.fixture
    def team_spec(self) -> TeamSpec:
        return TeamSpec(invited=(IVANOV, PETROV, NAMESAKE))

    @pytest.fixture
    async def team(self, team: BotHarness) -> BotHarness:
        async with team.uow_factory() as uow:
            rows = await uow.session.execute(select(Member.telegram_id, Member.id, Member.team_id))
            ids = {telegram: (member, team_id) for telegram, member, team_id in rows}
            await portfolio_data.fill(uow, ids[OWNER.id][1], ids[IVANOV.id][0], ids[PETROV.id][0])
            await uow.commit()
        return team

    async def test_revenue_moves_shares_and_overdue_equal_the_portfolios(self, team: BotHarness):
        team.clock.set(moscow(8, 12))
        await team.send(PETROV, "/deal Gamma 5000")
        await team.send(IVANOV, "/deal Alpha 1000")
        await team.send(IVANOV, "/deal Beta 1000")
        await team.send(NAMESAKE, "/add Zeta")
        await team.send(NAMESAKE, "/deal Zeta 10")
        await team.send(IVANOV, "/next Alpha 10.12")
        team.session.clear()
        await at(team, moscow(14, 9))
        [report] = weekly(team, OWNER.id)
        text = report.text
        # Week 7–13 December against 30 November – 6 December (nothing then).
        assert "Last week: RUB\xa07,010 (nothing before)" in text
        # Month to date 1–13 December against 1–13 November (Alpha 200, Beta 300, Gamma 150).
        assert "RUB\xa07,010 against RUB\xa0650: 1,078%" in text
        week = (await team.send(OWNER, "/portfolio 07.12-13.12"))[0].text
        assert "Revenue: RUB\xa07,010 (nothing before)" in week
        november = (await team.send(OWNER, "/portfolio 01.11-13.11"))[0].text
        assert "Revenue: RUB\xa0650 against" in november
        # Per manager, the namesakes apart.
        assert "Petr Petrov: RUB\xa05,000 against RUB\xa00 · RUB\xa05,000 against RUB\xa0150" in (
            text
        )
        assert "Ivan Ivanov: RUB\xa02,000 against RUB\xa00 · RUB\xa02,000 against RUB\xa0500" in (
            text
        )
        assert "Ivan Ivanov (2): RUB\xa010 against RUB\xa00 · RUB\xa010 against RUB\xa00" in text
        # Moves and A shares: December against November, as /portfolio's sections 2 and 3.
        matrix = (await team.press(OWNER, _view("M202612", "2")))[0].text
        moved = [line for line in matrix.split("\n") if " → " in line]
        assert moved and all(line in text for line in moved)
        assert f"🔀 <b>{len(moved)} clients moved between ABC-XYZ classes</b>" in text
        assert "📉 <b>A share shrinking</b> (December 2026 against November 2026)" in text
        quality = (await team.press(OWNER, _view("M202612", "3")))[0].text
        assert "Ivan Ivanov</b> (clients: 2): A 0%" in quality
        assert "Ivan Ivanov: from 100% to 0%" in text
        # The namesake's new client has its first contact overdue: two lines of one name.
        assert "⚠️ <b>2 overdue follow-ups</b>\nIvan Ivanov: 1\nIvan Ivanov (2): 1" in text


def _view(period: str, section: str) -> str:
    return PortfolioView(p=period, m=0, s=section).pack()


async def test_a_report_that_cannot_be_built_holds_up_no_other_and_waits_its_turn(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A poison row (its load raises) is put off with a backoff; the rest of the batch goes."""
    await team.send(OWNER, "/settings weekly heads on")
    load = WeeklyReports.load

    async def poisoned(self: WeeklyReports, uows: object, row: OutboxRow) -> object:
        if row.member_id == owner_id:
            raise ZeroDivisionError("secret figures 12345")
        return await load(self, uows, row)  # type: ignore[arg-type]

    async with team.uow_factory() as uow:
        owner = await uow.members.by_telegram_id(OWNER.id)
    assert owner is not None
    owner_id = owner.id
    monkeypatch.setattr(WeeklyReports, "load", poisoned)
    team.session.clear()
    await at(team, moscow(7, 9))
    assert weekly(team, OWNER.id) == [] and len(weekly(team, HEAD.id)) == 1
    assert "ZeroDivisionError" in caplog.text and "12345" not in caplog.text
    async with team.uow_factory() as uow:
        row = (
            await uow.session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "weekly", OutboxMessage.member_id == owner_id
                )
            )
        ).scalar_one()
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "ZeroDivisionError")
    assert row.lease_owner is None
    # Not tried again at once (each lease), but after its backoff; then it goes.
    await at(team, moscow(7, 9) + timedelta(seconds=10))
    assert weekly(team, OWNER.id) == []
    monkeypatch.setattr(WeeklyReports, "load", load)
    await at(team, moscow(7, 10))
    assert len(weekly(team, OWNER.id)) == 1
