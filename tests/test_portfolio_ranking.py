"""ABC and XYZ ranked by the database (ranked_clients' running sum, the monthly sums' parts of
Σv²) where ties and exact boundary shares decide the class, on SQLite and PostgreSQL, against the
hand-worked classes and against `compute` applied to the raw deals; plus the integer ranking
against the Decimal one on random revenues crowded with ties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.portfolio import compute
from bot.services.portfolio.periods import month_of
from bot.services.portfolio.service import Report
from storage.db import create_session_factory
from storage.models import Client
from storage.repositories.analytics import SQUARE_SAFE
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.builders import NOW, team_with_owner
from tests.test_portfolio_service import _actor, _service

NOVEMBER = month_of(date(2026, 11, 1))
OCT, NOV = date(2026, 10, 7), date(2026, 11, 9)


async def _team(uow: UnitOfWork, deals: list[tuple[str, date, Decimal]]) -> tuple[int, int]:
    team, owner = await team_with_owner(uow, telegram_id=1)
    ids: dict[str, int] = {}
    for name, _day, _amount in deals:
        if name in ids:
            continue
        row = Client(
            team_id=team.id,
            manager_id=owner.id,
            name=name,
            temperature="warm",
            stage="won",
            stage_changed_at=NOW,
            consent="unknown",
            search_text=name.lower(),
            phone_digits="",
            created_at=NOW,
            updated_at=NOW,
        )
        uow.session.add(row)
        await uow.session.flush()
        ids[name] = row.id
    for name, day, amount in deals:
        await uow.activities.add_deal(
            team_id=team.id,
            client_id=ids[name],
            manager_id=owner.id,
            activity_id=None,
            amount=amount,
            margin_percent=None,
            profit=None,
            currency="RUB",
            closed_on=day,
            now=NOW,
        )
    return team.id, owner.id


async def _report(engine: AsyncEngine, deals: list[tuple[str, date, Decimal]]) -> Report:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        _team_id, owner_id = await _team(uow, deals)
        await uow.commit()
    async with uows() as uow:
        return await _service(uow).report(await _actor(uow, owner_id), NOVEMBER, None)


def _recomputed(deals: list[tuple[str, date, Decimal]]) -> dict[str, str | None]:
    """Cells from the raw deals with the rules of `compute` (XYZ in integer kopecks, as
    Decimal squares of 10¹³ would round in the default 28-digit context)."""
    names = sorted({name for name, _d, _a in deals}, key=[d[0] for d in deals].index)
    ids = {name: index for index, name in enumerate(names)}  # creation order = id order
    november: dict[int, Decimal] = {}
    monthly: dict[int, dict[int, int]] = {}
    first: dict[int, date] = {}
    for name, day, amount in deals:
        client = ids[name]
        if day.month == 11:
            november[client] = november.get(client, Decimal(0)) + amount
        months = monthly.setdefault(client, {})
        month = compute.month_index(day)
        months[month] = months.get(month, 0) + int(amount * 100)
        first[client] = min(first.get(client, day), day)
    abc = compute.abc_classes(november, Decimal(80), Decimal(95))
    xyz = compute.xyz_classes(
        monthly, first, compute.month_index(NOV), 12, Decimal(10), Decimal(25)
    )
    return {
        name: abc[ids[name]] + xyz[ids[name]].cls if ids[name] in abc else None for name in names
    }


async def test_ties_and_exact_boundary_shares_decide_abc(engine: AsyncEngine) -> None:
    # November: 1000 in all. Big 650 (65%) A; two ties at 150: the lower id reaches exactly
    # 80% and is A, the higher exactly 95% and is B; Tail 50 is C. October adds no class.
    deals = [
        ("Big", NOV, Decimal("650")),
        ("Tie low", NOV, Decimal("150")),
        ("Tie high", NOV, Decimal("150")),
        ("Tail", NOV, Decimal("49.99")),
        ("Tail", OCT, Decimal("7")),
        ("Tail", NOV, Decimal("0.01")),
        ("October only", OCT, Decimal("500")),
    ]
    report = await _report(engine, deals)
    cells = {line.name: line.cell for line in report.clients}
    assert cells == {
        "Big": "AZ",
        "Tie low": "AZ",
        "Tie high": "BZ",
        "Tail": "CZ",
        "October only": None,
    }
    assert cells == _recomputed(deals)


async def test_exact_cv_boundaries_on_amounts_whose_squares_overflow_64_bits(
    engine: AsyncEngine,
) -> None:
    # Two months from the first deal: CV = |a − b| / (a + b). 11:9 is exactly 10% (X), 5:3
    # exactly 25% (Y), 51:29 27.5% (Z). Monthly revenue of 10¹³ kopecks squares to 10²⁶, far
    # past 64 bits; "Giant"'s months reach SQUARE_SAFE and are summed by Python instead.
    unit = Decimal(10) ** 10
    giant = Decimal(SQUARE_SAFE // 9 + 1).scaleb(-2)  # 11 × giant ≥ SQUARE_SAFE kopecks
    deals = [
        ("X edge", OCT, 11 * unit),
        ("X edge", NOV, 9 * unit),
        ("Y edge", OCT, 5 * unit),
        ("Y edge", NOV, 3 * unit),
        ("Z", OCT, Decimal("5.1") * unit),
        ("Z", NOV, Decimal("2.9") * unit),
        ("Giant", OCT, 11 * giant),
        ("Giant", NOV, 9 * giant),
    ]
    report = await _report(engine, deals)
    xyz = {line.name: line.xyz.cls for line in report.clients if line.xyz}
    assert xyz == {"X edge": "X", "Y edge": "Y", "Z": "Z", "Giant": "X"}
    assert {line.name: line.cell for line in report.clients} == _recomputed(deals)


@given(
    revenue=st.dictionaries(
        st.integers(1, 60), st.integers(-3, 12).map(lambda n: n * 25), max_size=40
    ),
    a=st.integers(1, 9_998).map(lambda n: Decimal(n) / 100),
    b_extra=st.integers(0, 200).map(lambda n: Decimal(n) / 100),
)
def test_integer_ranking_matches_the_decimal_one(
    revenue: dict[int, int], a: Decimal, b_extra: Decimal
) -> None:
    """Small multiples of 25 make ties and exact shares common."""
    ranked = sorted(revenue.items(), key=lambda item: (-item[1], item[0]))
    rows, running = [], 0
    for client, amount in ranked:
        running += amount
        rows.append((client, amount, running))
    b = min(a + b_extra, Decimal("99.99"))
    decimal_revenue = {client: Decimal(amount).scaleb(-2) for client, amount in revenue.items()}
    assert compute.abc_ranked(rows, a, b) == compute.abc_classes(decimal_revenue, a, b)
