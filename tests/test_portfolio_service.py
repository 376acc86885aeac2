"""The seven control points computed from the database (SQLite and PostgreSQL) on the team of
tests/portfolio_data.py; expected numbers are worked out by hand next to each assertion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import AnalyticsSettings, Limits, RuleDefaults
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.portfolio.cache import ReportCache
from bot.services.portfolio.periods import month_of
from bot.services.portfolio.service import PortfolioService, Report
from storage.db import create_session_factory
from storage.models import Member
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support import portfolio_data
from tests.support.builders import NOW

NOVEMBER = month_of(date(2026, 11, 1))
D = Decimal


@pytest.fixture
async def data(engine: AsyncEngine) -> tuple[UnitOfWorkFactory, portfolio_data.Team]:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        team = await portfolio_data.build(uow)
        await uow.commit()
    return uows, team


async def _actor(uow: UnitOfWork, member_id: int) -> Actor:
    team_id = await uow.session.scalar(select(Member.team_id).where(Member.id == member_id))
    member = await uow.members.get(int(team_id or 0), member_id)
    assert member is not None
    found = await uow.members.with_team(member.telegram_id)
    assert found is not None
    return Actor(*found)


def _service(uow: UnitOfWork, cache: ReportCache | None = None) -> PortfolioService:
    ctx = ServiceContext(
        uow,
        FrozenClock(NOW),
        Limits(),
        RuleDefaults(),
        reports=cache if cache is not None else ReportCache(0),
    )
    return PortfolioService(ctx, AnalyticsSettings())


async def _report(data, member_id: int, manager_id: int | None = None) -> Report:  # type: ignore[no-untyped-def]
    uows, _team = data
    async with uows() as uow:
        actor = await _actor(uow, member_id)
        return await _service(uow).report(actor, NOVEMBER, manager_id)


def _line(report: Report, name: str):  # type: ignore[no-untyped-def]
    return next(line for line in report.clients if line.name == name)


async def test_team_month_abc_boundaries_xyz_and_moves(data):  # type: ignore[no-untyped-def]
    report = await _report(data, data[1].owner_id)
    # November: 1000 in total. Alpha 500 (cumulative 50%) A, Beta 300 (exactly 80%) A,
    # Gamma 150 (exactly 95%) B, Delta 50 (100%) C.
    assert {line.name: line.abc for line in report.clients} == {
        "Alpha": "A",
        "Beta": "A",
        "Gamma": "B",
        "Delta": "C",
        "Eps": None,
    }
    # XYZ from the first deal on: Alpha 500, 500 → CV 0 → X; Beta 100, 300 → CV 50% → Z;
    # Gamma one month → Z; Delta 400, 50 → Z.
    assert _line(report, "Alpha").xyz.cls == "X"
    assert _line(report, "Alpha").xyz.cv == 0
    assert _line(report, "Beta").xyz.cv == 50
    assert [_line(report, n).xyz.cls for n in ("Beta", "Gamma", "Delta")] == ["Z", "Z", "Z"]
    assert report.matrix_counts[("A", "X")] == 1
    assert report.matrix_counts[("A", "Z")] == 1
    assert report.matrix_revenue[("B", "Z")] == D(150)
    assert sum(report.matrix_counts.values()) == 4
    # October: 1200. Alpha 500 (41.7%) A, Delta 400 (75%) A, Eps 200 (91.7%) B, Beta C; all Z
    # (one month each from their first deal).
    moves = {line.name: (line.prev_cell, line.cell) for line in report.moves}
    assert moves == {
        "Alpha": ("AZ", "AX"),
        "Beta": ("CZ", "AZ"),
        "Delta": ("AZ", "CZ"),
        "Eps": ("BZ", None),
    }
    # The yearly potential of 1000 is a plan of 1000/12 for November: 500 / 83.33 = 600%.
    assert report.plan(_line(report, "Alpha")) == D(1000) / 12
    assert report.penetration(_line(report, "Alpha")) == 600


async def test_quality_ros_turnover_ltv_gained_lost_health(data):  # type: ignore[no-untyped-def]
    report = await _report(data, data[1].owner_id)
    ivanov, petrov = data[1].ivanov, data[1].petrov
    quality = {q.manager_id: q for q in report.quality}
    assert quality[ivanov].now["A"] == 100 and quality[ivanov].prev["A"] == 50
    assert quality[ivanov].now["X"] == 50 and quality[ivanov].now["Z"] == 50
    assert quality[petrov].now["B"] == 50 and quality[petrov].prev["A"] == 50
    change = report.biggest_change
    assert change is not None
    assert (change.manager_id, change.category, change.before, change.after) == (
        ivanov,
        "A",
        50,
        100,
    )

    ros = {line.name: line.now.ros for line in report.clients if line.now.deals}
    assert ros == {"Alpha": D(20), "Beta": D(-10), "Gamma": None, "Delta": D(10)}
    managers = {m.key: m for m in report.managers}
    assert managers[ivanov].now.ros == D("8.75")  # 70 / 800
    assert managers[petrov].now.ros == D(10)  # 5 / 50: Gamma's profit is unknown
    assert [line.name for line in report.angels] == ["Alpha", "Delta"]
    assert [line.name for line in report.demons] == ["Beta"]

    assert managers[ivanov].now.revenue == D(800) and managers[ivanov].prev.revenue == D(600)
    assert managers[petrov].dynamics is not None
    assert round(managers[petrov].dynamics, 2) == D("33.33")  # 200 / 600
    segments = {s.key: s for s in report.segments}
    assert segments["retail"].now.revenue == D(800)
    assert segments["wholesale"].dynamics is None  # nothing before
    assert segments[""].prev.revenue == D(600)

    # LTV Ivanov: S = 800/3, C = 3 / (2 clients × 30/30.4375 months), P = 70/800,
    # T = (41 + 31 days) / 2 / 30.4375 → 800 × 30.4375/60 × 70/800 × 72/60.875 = 42.
    assert managers[ivanov].ltv is not None and managers[ivanov].ltv.value == D("42.00")
    # Wholesale: Gamma bought once → T = 0 → LTV 0, flagged.
    wholesale = segments["wholesale"].ltv
    assert wholesale is not None and wholesale.value == 0 and wholesale.lifetime_unknown

    assert [line.name for line in report.gained] == ["Gamma"]
    assert [line.name for line in report.lost] == ["Eps"]
    assert report.health == {"month": 1, "half_year": 1, "year": 1, "older": 1, "never": 1}


async def test_regularity_counts_local_days(data):  # type: ignore[no-untyped-def]
    report = await _report(data, data[1].owner_id)
    lines = {line.manager_id: line for line in report.activity}
    ivanov = lines[data[1].ivanov]
    # 00:30 on 1 November in Moscow is October in UTC, and still counts; 31 October 23:30 and
    # 1 December do not. Notes are not activity of this kind.
    assert ivanov.counts == {"call": 3, "meeting": 1, "proposal": 1, "deal": 3}
    assert ivanov.days == 30
    assert ivanov.per("call", 30) == 3
    assert lines[data[1].petrov].counts == {"call": 2, "deal": 2}


async def test_manager_sees_only_own_numbers(data):  # type: ignore[no-untyped-def]
    uows, team = data
    own = await _report(data, team.ivanov)
    assert own.manager_id == team.ivanov
    assert {line.name for line in own.clients} == {"Alpha", "Beta"}
    # Classes are ranked over the whole team: Beta is still A at exactly 80%.
    assert _line(own, "Beta").abc == "A"
    assert [m.key for m in own.managers] == [team.ivanov]
    with pytest.raises(DomainError) as refused:
        await _report(data, team.ivanov, team.petrov)
    assert refused.value.code == "portfolio_own_only"
    async with uows() as uow:
        actor = await _actor(uow, team.ivanov)
        with pytest.raises(DomainError):
            await _service(uow).find_member(actor, "Petrov")
        assert await _service(uow).find_member(actor, "ivanov") == team.ivanov
        owner = await _actor(uow, team.owner_id)
        assert await _service(uow).find_member(owner, "Петров") == team.petrov


async def test_owner_views_one_manager_and_unknown_member_is_refused(data):  # type: ignore[no-untyped-def]
    _uows, team = data
    petrov = await _report(data, team.owner_id, team.petrov)
    assert {line.name for line in petrov.clients} == {"Gamma", "Delta", "Eps"}
    with pytest.raises(DomainError) as refused:
        await _report(data, team.owner_id, 9999)
    assert refused.value.code == "pick_expired"


async def test_ended_period_is_cached_until_data_changes(data):  # type: ignore[no-untyped-def]
    uows, team = data
    cache = ReportCache(600)
    async with uows() as uow:
        actor = await _actor(uow, team.owner_id)
        first = await _service(uow, cache).report(actor, NOVEMBER, None)
        assert await _service(uow, cache).report(actor, NOVEMBER, None) is first
        # The current period is never cached.
        current = month_of(date(2026, 12, 1))
        a = await _service(uow, cache).report(actor, current, None)
        assert await _service(uow, cache).report(actor, current, None) is not a
        await uow.activities.add_deal(
            team_id=team.team_id,
            client_id=team.clients["Eps"],
            manager_id=team.petrov,
            activity_id=None,
            amount=D(1000),
            margin_percent=None,
            profit=None,
            currency="RUB",
            closed_on=date(2026, 11, 30),
            now=NOW,
        )
        fresh = await _service(uow, cache).report(actor, NOVEMBER, None)
    assert fresh is not first
    assert fresh.total.now.revenue == D(2000)


async def test_ranking_runs_in_a_thread_not_on_the_event_loop(data, monkeypatch):  # type: ignore[no-untyped-def]
    """A team's year takes hundreds of milliseconds to rank: other members' updates and the
    sweep must not wait for it (issue 12: no update holds the loop for more than ~50 ms)."""
    import threading

    from bot.services.portfolio import compute

    loop_thread = threading.get_ident()
    seen: list[int] = []
    real = compute.abc_classes

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "abc_classes", watched)
    report = await _report(data, data[1].owner_id)
    assert report.clients  # the ranking ran and found the team's buyers
    assert seen and loop_thread not in seen
