"""The rules of /portfolio on plain numbers, each answer worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.parsing.errors import ParseError
from bot.services.portfolio import compute
from bot.services.portfolio.compute import Totals
from bot.services.portfolio.periods import (
    CUSTOM,
    MONTH,
    QUARTER,
    YEAR,
    Period,
    parse_period,
    period_from_key,
)

D = Decimal
A80, B95, X10, Y25 = D(80), D(95), D(10), D(25)
TODAY = date(2026, 12, 2)


def test_abc_client_exactly_at_80_is_a_and_exactly_at_95_is_b():
    # 50 → 50%, 30 → 80% (A), 15 → 95% (B), 5 → 100% (C).
    classes = compute.abc_classes({1: D(50), 2: D(30), 3: D(15), 4: D(5)}, A80, B95)
    assert classes == {1: "A", 2: "A", 3: "B", 4: "C"}


def test_abc_just_over_80_is_b():
    # 50 → 50%, 30.01 → 80.01% → B.
    classes = compute.abc_classes({1: D(50), 2: D("30.01"), 3: D("19.99")}, A80, B95)
    assert classes == {1: "A", 2: "B", 3: "C"}


def test_abc_dominant_client_is_a_and_no_revenue_gets_no_class():
    classes = compute.abc_classes({1: D(90), 2: D(10), 3: D(0)}, A80, B95)
    # 90% alone is above 80 but the largest client is always A; 100% → C; zero → unclassed.
    assert classes == {1: "A", 2: "C"}


def test_abc_equal_revenue_is_ranked_by_id_and_thresholds_are_settings():
    classes = compute.abc_classes({7: D(25), 3: D(25), 5: D(25), 9: D(25)}, D(50), D(75))
    assert classes == {3: "A", 5: "A", 7: "B", 9: "C"}


@pytest.mark.parametrize(
    ("months", "cls", "cv"),
    [
        ([D(100), D(100), D(100)], "X", D(0)),
        ([D(90), D(110)], "X", D(10)),  # exactly 10%: X
        ([D("89.99"), D("110.01")], "Y", D("10.01")),  # just above: Y
        ([D(75), D(125)], "Y", D(25)),  # exactly 25%: Y
        ([D(70), D(130)], "Z", D(30)),
        ([D(0), D(0), D(500)], "Z", None),  # deals in one month only
        ([D(500)], "Z", None),
    ],
)
def test_xyz_thresholds_and_one_month_clients(months, cls, cv):  # type: ignore[no-untyped-def]
    result = compute.xyz_class(months, X10, Y25)
    assert result.cls == cls
    assert compute.shown(result.cv, 2) == cv


def test_xyz_counts_months_from_first_deal_and_empty_months_as_zero():
    end = compute.month_index(date(2026, 11, 1))
    monthly = {1: {end - 1: D(90), end: D(110)}, 2: {end - 1: D(90), end: D(110)}, 3: {}}
    first = {1: date(2026, 10, 5)}  # client 2: first deal unknown → the whole window counts
    classes = compute.xyz_classes(monthly, first, end, 12, X10, Y25)
    assert classes[1].cls == "X" and classes[1].months == 2
    # Ten empty months and two sales: mean 200/12, far from regular.
    assert classes[2].cls == "Z" and classes[2].months == 12
    assert 3 not in classes  # no sales in the window: no class


def test_ros_with_negative_profit_and_unknown_profit():
    assert Totals(D(300), D(-30), D(300), 1, 1).ros == D(-10)
    assert Totals(D(150), D(0), D(0), 1, 1).ros is None  # no deal with a known profit


def test_ltv_by_hand_and_zero_lifetime():
    # S = 300/3 = 100, C = 3 / (1 × 30/30.4375), P = 60/300, T = 61/30.4375
    # → 100 × 3 × 30.4375/30 × 0.2 × 61/30.4375 = 100 × 3 × 0.2 × 61 / 30 = 122.
    value = compute.ltv(Totals(D(300), D(60), D(300), 3, 1, 61), 30)
    assert value is not None and value.value == D("122.00")
    assert value.s == 100 and value.p == D("0.2")
    once = compute.ltv(Totals(D(150), D(15), D(150), 1, 1, 0), 30)
    assert once is not None and once.value == 0 and once.lifetime_unknown
    assert compute.ltv(Totals(), 30) is None


def test_biggest_change_in_rounded_shares():
    now = {1: {"A": D(18), "B": D(50)}, 2: {"A": D(40), "B": D(40)}}
    before = {1: {"A": D(30), "B": D(50)}, 2: {"A": D(35), "B": D(45)}}
    change = compute.biggest_change(now, before, ("A", "B"))
    assert change is not None
    assert (change.manager_id, change.category, change.before, change.after) == (1, "A", 30, 18)
    assert compute.biggest_change(now, now, ("A", "B")) is None


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("month", MONTH, date(2026, 12, 1), date(2026, 12, 31)),
        ("месяц", MONTH, date(2026, 12, 1), date(2026, 12, 31)),
        ("Quarter", QUARTER, date(2026, 10, 1), date(2026, 12, 31)),
        ("квартал", QUARTER, date(2026, 10, 1), date(2026, 12, 31)),
        ("year", YEAR, date(2026, 1, 1), date(2026, 12, 31)),
        ("год", YEAR, date(2026, 1, 1), date(2026, 12, 31)),
        ("01.09-30.11", CUSTOM, date(2026, 9, 1), date(2026, 11, 30)),
        ("01.09 – 30.11.2025", CUSTOM, date(2025, 9, 1), date(2025, 11, 30)),
        ("01.11-31.01", CUSTOM, date(2025, 11, 1), date(2026, 1, 31)),
    ],
)
def test_period_words_and_spans(text, kind, start, end):  # type: ignore[no-untyped-def]
    period = parse_period(text, TODAY)
    assert period == Period(kind, start, end)
    assert period_from_key(period.key) == period


@pytest.mark.parametrize("text", ["31.02-01.03", "01.09-40.11", "01.01.2020-01.01.2026"])
def test_bad_spans_are_refused(text):  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError):
        parse_period(text, TODAY)


def test_not_a_period_and_forged_keys():
    assert parse_period("Petrov", TODAY) is None
    for key in ("M202613", "Q20265", "X2026", "C20261131-20261201", "C20261201-20261101", ""):
        assert period_from_key(key) is None


def test_previous_periods():
    assert parse_period("month", date(2026, 1, 15)).previous() == Period(  # type: ignore[union-attr]
        MONTH, date(2025, 12, 1), date(2025, 12, 31)
    )
    assert parse_period("quarter", date(2026, 2, 1)).previous() == Period(  # type: ignore[union-attr]
        QUARTER, date(2025, 10, 1), date(2025, 12, 31)
    )
    span = Period(CUSTOM, date(2026, 9, 1), date(2026, 11, 30))  # 91 days
    assert span.previous() == Period(CUSTOM, date(2026, 6, 2), date(2026, 8, 31))
    assert span.ended(TODAY) and not parse_period("month", TODAY).ended(TODAY)  # type: ignore[union-attr]
