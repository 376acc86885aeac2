"""Issue 13's rough edges of /portfolio: the quality chart shows every class share and its
trend, a yearly potential is scaled to the period (and the view says so), the weekly activity
chart counts weeks on the team's wall clock, and two members of one name stay two in the chart.
On the team of tests/support/portfolio_data.py; numbers worked out next to each assertion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import SendPhoto
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.charts
from bot.clock import FrozenClock
from bot.config import AnalyticsSettings, Limits, RuleDefaults
from bot.services.context import Actor, ServiceContext
from bot.services.portfolio.cache import ReportCache
from bot.services.portfolio.periods import month_of, quarter_of, year_of
from bot.services.portfolio.service import PortfolioService
from bot.telegram.callbacks import PortfolioAct, PortfolioView
from storage.db import create_session_factory
from storage.models import Client, Member, Team
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support import portfolio_data
from tests.support.builders import NOW, TeamSpec
from tests.support.harness import BotHarness, Person

NOVEMBER = month_of(date(2026, 11, 1))
MSK = ZoneInfo("Europe/Moscow")
D = Decimal


@pytest.fixture
async def data(engine: AsyncEngine) -> tuple[UnitOfWorkFactory, portfolio_data.Team]:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        team = await portfolio_data.build(uow)
        await uow.commit()
    return uows, team


async def _actor(uow: UnitOfWork, member_id: int) -> Actor:
    member = await uow.session.scalar(select(Member).where(Member.id == member_id))
    assert member is not None
    found = await uow.members.with_team(member.telegram_id)
    assert found is not None
    return Actor(*found)


def _service(uow: UnitOfWork) -> PortfolioService:
    ctx = ServiceContext(uow, FrozenClock(NOW), Limits(), RuleDefaults(), reports=ReportCache(0))
    return PortfolioService(ctx, AnalyticsSettings())


# -- quality: every class share, its trend, equal to the section's numbers ----------------------


async def test_quality_series_has_every_class_share_and_ends_with_the_sections_numbers(data):  # type: ignore[no-untyped-def]
    uows, team = data
    async with uows() as uow:
        actor = await _actor(uow, team.owner_id)
        service = _service(uow)
        series = await service.quality_series(actor, NOVEMBER, None)
        report = await service.report(actor, NOVEMBER, None)
    assert set(series) == {team.ivanov, team.petrov}
    ivanov = series[team.ivanov]
    assert [p.key for p, _shares in ivanov] == ["M202608", "M202609", "M202610", "M202611"]
    # August and September: no sales, no class.
    assert all(share is None for _p, shares in ivanov[:2] for share in shares.values())
    # October (1200): Alpha 500 A, Beta 100 C, both one month of sales: Z.
    assert ivanov[2][1] == {"A": 50, "B": 0, "C": 50, "X": 0, "Y": 0, "Z": 100}
    # November: Alpha A and X, Beta A and Z (see test_portfolio_service).
    assert ivanov[3][1] == {"A": 100, "B": 0, "C": 0, "X": 50, "Y": 0, "Z": 50}
    for line in report.quality:
        assert series[line.manager_id][-1][1] == line.now
        assert series[line.manager_id][-2][1] == line.prev


async def test_a_manager_sees_only_their_own_series(data):  # type: ignore[no-untyped-def]
    uows, team = data
    async with uows() as uow:
        actor = await _actor(uow, team.petrov)
        series = await _service(uow).quality_series(actor, NOVEMBER, None)
    assert set(series) == {team.petrov}


# -- potential: yearly, scaled to the period ----------------------------------------------------


@pytest.mark.parametrize(
    ("period", "plan", "penetration"),
    [
        # Alpha's potential is 1000 a year; November's sales 500, Q4's and 2026's 1000.
        (NOVEMBER, D(1000) / 12, D(600)),
        (quarter_of(date(2026, 11, 1)), D(250), D(400)),
        (year_of(date(2026, 11, 1)), D(1000), D(100)),
    ],
)
async def test_potential_is_scaled_to_the_period(data, period, plan, penetration):  # type: ignore[no-untyped-def]
    uows, team = data
    async with uows() as uow:
        report = await _service(uow).report(await _actor(uow, team.owner_id), period, None)
    alpha = next(line for line in report.clients if line.name == "Alpha")
    assert report.plan(alpha) == plan
    assert report.penetration(alpha) == penetration
    assert [line.name for line in report.planned] == ["Alpha"]


# -- activity per week, on the team's wall clock ------------------------------------------------


async def test_weekly_activity_counts_weeks_in_the_teams_zone(data):  # type: ignore[no-untyped-def]
    uows, team = data
    async with uows() as uow:
        # Monday 9 November 01:00 in Moscow is Sunday 8 November 22:00 UTC: the week of the 9th.
        monday = datetime.combine(date(2026, 11, 9), time(1), MSK).astimezone(UTC)
        # Through the storage function the bot uses: it keeps the day roll-up the chart reads.
        await uow.activities.add(
            team_id=team.team_id,
            client_id=team.clients["Alpha"],
            author_id=team.ivanov,
            kind="call",
            outcome="done",
            text=None,
            occurred_at=monday,
        )
        await uow.commit()
    async with uows() as uow:
        weeks, per_kind = await _service(uow).activity_weeks(
            await _actor(uow, team.owner_id), NOVEMBER, None
        )
    assert weeks == [date(2026, 10, 26) + timedelta(weeks=n) for n in range(6)]
    # Calls: 1 Nov 00:30 Moscow (31 Oct in UTC) in the first week; 9 Nov 01:00 (above),
    # 9 Nov and 12 Nov in the third; 16 Nov in the fourth; 30 Nov 23:00 in the last. The call
    # at 23:30 on 31 October, Moscow, is not November's.
    assert per_kind["call"] == [1, 0, 3, 1, 0, 1]
    assert per_kind["meeting"] == [0, 1, 0, 0, 0, 0]  # 6 November
    assert per_kind["proposal"] == [0, 1, 0, 0, 0, 0]  # 7 November
    # Deals by closing day: 5 November | 10, 12 and 15 (a Sunday) | 20.
    assert per_kind["deal"] == [0, 1, 3, 1, 0, 0]


async def test_weekly_activity_follows_a_far_eastern_team_zone(data):  # type: ignore[no-untyped-def]
    """In Vladivostok (UTC+10) 30 November 23:00 Moscow is already 1 December: not November's;
    and 1 November 00:30 Moscow is 07:30 there, still the first week."""
    uows, team = data
    async with uows() as uow:
        await uow.session.execute(
            update(Team).where(Team.id == team.team_id).values(timezone="Asia/Vladivostok")
        )
        await uow.commit()
    async with uows() as uow:
        _weeks, per_kind = await _service(uow).activity_weeks(
            await _actor(uow, team.owner_id), NOVEMBER, None
        )
    # 31 October 23:30 Moscow is 1 November 06:30 in Vladivostok: now November's, first week.
    assert per_kind["call"] == [2, 0, 2, 1, 0, 0]


# -- through the bot: the plan's note, the chart's panels ---------------------------------------

OWNER = Person(1, "Olga")
IVANOV = Person(2, "Ivan Ivanov")
PETROV = Person(3, "Petr Petrov")
NAMESAKE = Person(5, "Ivan Ivanov")


class TestThroughTheBot:
    @pytest.fixture
    def team_spec(self) -> TeamSpec:
        return TeamSpec(invited=(IVANOV, PETROV, NAMESAKE))

    @pytest.fixture
    async def team(self, team: BotHarness) -> BotHarness:
        async with team.uow_factory() as uow:
            rows = await uow.session.execute(select(Member.telegram_id, Member.id, Member.team_id))
            ids = {telegram: (member, team_id) for telegram, member, team_id in rows}
            await portfolio_data.fill(uow, ids[1][1], ids[2][0], ids[3][0])
            # Petrov's Delta goes to the namesake: each Ivan Ivanov has classed clients.
            await uow.session.execute(
                update(Client).where(Client.name == "Delta").values(manager_id=ids[5][0])
            )
            await uow.commit()
        return team

    async def test_the_plan_says_how_the_potential_was_scaled(self, team: BotHarness):
        view = PortfolioView(p="M202611", m=0, s="1").pack()
        text = (await team.press(OWNER, view))[0].text
        assert "Alpha: RUB\xa0500 of RUB\xa083 (600%), room to grow RUB\xa00" in text
        assert "a month's plan is a twelfth of it" in text
        span = PortfolioView(p="C20261101-20261130", m=0, s="1").pack()
        text = (await team.press(OWNER, span))[0].text
        # 30 days: 1000 × 30 / 365 = 82.19; 500 / 82.19 = 608.3%.
        assert "Alpha: RUB\xa0500 of RUB\xa082 (608.3%)" in text
        assert "the plan for this span of 30 days is 30/365 of it" in text
        await team.send(OWNER, "/settings lang ru")
        text = (await team.press(OWNER, view))[0].text
        assert "план на месяц — двенадцатая его часть" in text

    async def test_namesakes_are_two_panels_of_the_quality_chart(
        self, team: BotHarness, monkeypatch: pytest.MonkeyPatch
    ):
        drawn: list[Sequence[tuple[str, Sequence[tuple[str, Mapping[str, Any]]]]]] = []
        original = bot.charts.class_shares

        def spy(panels, **kwargs):  # type: ignore[no-untyped-def]
            drawn.append(panels)
            return original(panels, **kwargs)

        monkeypatch.setattr(bot.charts, "class_shares", spy)
        await team.press(OWNER, PortfolioAct(a="chart", p="M202611", m=0, s="3").pack())
        [photo] = team.session.sent(SendPhoto)
        assert photo.photo.data.startswith(b"\x89PNG")
        [panels] = drawn
        assert [label for label, _points in panels] == [
            "Ivan Ivanov",
            "Ivan Ivanov (2)",
            "Petr Petrov",
        ]
        # Ivanov's own November, not merged with the namesake's Delta (C, Z).
        assert panels[0][1][-1] == ("11.2026", {"A": 100, "B": 0, "C": 0, "X": 50, "Y": 0, "Z": 50})
        assert panels[1][1][-1][1]["C"] == 100
