"""The seven control points as pure functions of plain numbers: no database, no Telegram.

Every rule that needs a choice is decided here, once, and described in the README's analytics
section. Money is Decimal throughout; comparisons against thresholds are exact (no floats).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Average month length in days (365.25 / 12): converts day spans into months for C and T.
MONTH_DAYS = Decimal("30.4375")
ABC = ("A", "B", "C")
XYZ = ("X", "Y", "Z")
_EXACT = decimal.Context(prec=60)


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """part / whole × 100, or None when the whole is zero (nothing to compare with)."""
    if not whole:
        return None
    return _EXACT.divide(Decimal(part) * HUNDRED, Decimal(whole))


def shown(value: Decimal | None, places: int = 1) -> Decimal | None:
    """A percentage rounded for display (half up, like a person would)."""
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class RankedRevenue:
    """Revenue the database already ranked: (client, revenue, running revenue up to and
    including the client) in rank order, integers in minor units (see `abc_ranked`). With
    `total` (the positive revenue of everyone ranked), `rows` may be any part of the
    ranking in any order: a manager's clients ranked among the whole team's."""

    rows: Sequence[tuple[int, int, int]]
    total: int | None = None


def abc_classes(
    revenue: Mapping[int, Decimal] | RankedRevenue, a_percent: Decimal, b_percent: Decimal
) -> dict[int, str]:
    """ABC by revenue: clients sorted by revenue (largest first; equal revenue by id, so the
    result is stable). A client's cumulative share counts itself: with a cumulative share
    ≤ a_percent it is A, ≤ b_percent B, else C. A client landing exactly on 80% is A and the
    next one is B. The largest client is always A, even when it alone is above 80%: a class
    where the biggest buyer is not A would read as nonsense. Clients without revenue in the
    period get no class. Revenue the database ranked (`RankedRevenue`) skips the sort."""
    if isinstance(revenue, RankedRevenue):
        return abc_ranked(revenue.rows, a_percent, b_percent, revenue.total)
    ranked = sorted(
        ((client, amount) for client, amount in revenue.items() if amount > 0),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum((amount for _client, amount in ranked), ZERO)
    out: dict[int, str] = {}
    running = ZERO
    for position, (client, amount) in enumerate(ranked):
        running += amount
        # running / total ≤ p / 100, compared without dividing.
        if position == 0 or running * HUNDRED <= a_percent * total:
            out[client] = "A"
        elif running * HUNDRED <= b_percent * total:
            out[client] = "B"
        else:
            out[client] = "C"
    return out


def abc_ranked(
    ranked: Iterable[tuple[int, int, int]],
    a_percent: Decimal,
    b_percent: Decimal,
    total: int | None = None,
) -> dict[int, str]:
    """`abc_classes` for clients already ranked by the database: (client, revenue, running
    revenue up to and including the client), integers in minor units, in rank order unless
    `total` (everyone's positive revenue) is given. The same rules, compared in integers:
    running / total ≤ p / 100 ⇔ running · 100 · den ≤ num · total, with p = num / den
    exactly. The largest client is the one whose running revenue is its own: every client
    ranked above another adds a positive revenue to that one's."""
    positive = [(client, amount, running) for client, amount, running in ranked if amount > 0]
    if not positive:
        return {}
    if total is None:
        total = positive[-1][2]
    a, b = Fraction(a_percent), Fraction(b_percent)
    a_left, a_right = 100 * a.denominator, a.numerator * total
    b_left, b_right = 100 * b.denominator, b.numerator * total
    out: dict[int, str] = {}
    for client, amount, running in positive:
        if running == amount or running * a_left <= a_right:
            out[client] = "A"
        elif running * b_left <= b_right:
            out[client] = "B"
        else:
            out[client] = "C"
    return out


@dataclass(frozen=True, slots=True)
class Regularity:
    cls: str
    months: int  # months counted (from the first deal or the window start)
    # n·Σv² − (Σv)² and Σv, exact: enough to classify; the CV itself is only for showing.
    spread: Fraction | int | None = None
    total: Fraction | int | None = None

    @property
    def cv(self) -> Decimal | None:
        """Coefficient of variation in percent; None when it is not defined (fewer than two
        months with sales)."""
        if self.spread is None or not self.total:
            return None
        if self.spread <= 0:
            return ZERO
        spread = _EXACT.divide(
            Decimal(Fraction(self.spread).numerator), Decimal(Fraction(self.spread).denominator)
        )
        total = _EXACT.divide(
            Decimal(Fraction(self.total).numerator), Decimal(Fraction(self.total).denominator)
        )
        return _EXACT.divide(_EXACT.sqrt(spread) * HUNDRED, total)


@cache
def squared_ratio(percent: Decimal) -> tuple[int, int]:
    """(p/100)² as an exact fraction of integers."""
    squared = (Fraction(percent) / 100) ** 2
    return squared.numerator, squared.denominator


def xyz_from_sums(
    n: int,
    total: Decimal | int,
    squares: Decimal | int,
    with_sales: int,
    x_percent: Decimal,
    y_percent: Decimal,
) -> Regularity:
    """XYZ from Σv and Σv² over n months (months without sales add nothing to either sum).

    CV = population standard deviation / mean × 100. Revenue in fewer than two months is Z:
    one purchase says nothing about regularity (and its CV would be meaningless)."""
    if with_sales < 2 or total <= 0:
        return Regularity("Z", n)
    # n²·variance = n·Σv² − (Σv)²; CV ≤ t% ⇔ n²·variance ≤ (t/100)²·(Σv)². Exact, no roots:
    # plain integers (minor units) in the service, fractions for anything else.
    exact_total = total if isinstance(total, int) else Fraction(total)
    exact_squares = squares if isinstance(squares, int) else Fraction(squares)
    spread = n * exact_squares - exact_total * exact_total
    total_squared = exact_total * exact_total
    for cls, threshold in (("X", x_percent), ("Y", y_percent)):
        numerator, denominator = squared_ratio(threshold)
        if spread * denominator <= numerator * total_squared:
            return Regularity(cls, n, spread, exact_total)
    return Regularity("Z", n, spread, exact_total)


def xyz_class(
    months: Sequence[Decimal | int], x_percent: Decimal, y_percent: Decimal
) -> Regularity:
    """XYZ of one client from their revenue in each month (zeros for months without sales)."""
    total = sum((Decimal(v) for v in months), ZERO)
    squares = sum((_EXACT.multiply(Decimal(v), Decimal(v)) for v in months), ZERO)
    with_sales = sum(1 for value in months if value > 0)
    return xyz_from_sums(len(months), total, squares, with_sales, x_percent, y_percent)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def xyz_classes(
    monthly: Mapping[int, Mapping[int, Decimal | int]],
    first_deal: Mapping[int, date],
    window_end: int,
    window_months: int,
    x_percent: Decimal,
    y_percent: Decimal,
) -> dict[int, Regularity]:
    """XYZ per client over the `window_months` months ending with month index `window_end`
    (`monthly`: client → month index → revenue, any unit: the CV has none).

    Months before the client's first deal are not counted: a client who started buying three
    months ago and buys every month is regular, not irregular. Clients with no sales in the
    window get no class."""
    window_start = window_end - window_months + 1
    out: dict[int, Regularity] = {}
    for client, months in monthly.items():
        total: Decimal | int = 0
        squares: Decimal | int = 0
        with_sales = 0
        earliest = window_end + 1
        for month, value in months.items():
            if window_start <= month <= window_end and value > 0:
                total += value
                squares += value * value
                with_sales += 1
                earliest = min(earliest, month)
        if not with_sales:
            continue
        start = window_start
        first = first_deal.get(client)
        if first is not None:
            start = max(start, month_index(first))
        start = min(start, earliest)  # never drop a month that has sales
        out[client] = xyz_from_sums(
            window_end - start + 1, total, squares, with_sales, x_percent, y_percent
        )
    return out


def shares(classes: Iterable[str], names: Sequence[str]) -> dict[str, Decimal | None]:
    """Share of each class among the classified clients, in percent (None when there are none)."""
    counted = list(classes)
    return {name: percent(counted.count(name), len(counted)) for name in names}


@dataclass(frozen=True, slots=True)
class Totals:
    revenue: Decimal = ZERO
    profit: Decimal = ZERO
    profit_base: Decimal = ZERO
    deals: int = 0
    clients: int = 0
    lifetime_days: int = 0  # sum over the buying clients: first deal ever to last deal here

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.revenue + other.revenue,
            self.profit + other.profit,
            self.profit_base + other.profit_base,
            self.deals + other.deals,
            self.clients + other.clients,
            self.lifetime_days + other.lifetime_days,
        )

    @property
    def ros(self) -> Decimal | None:
        """Return on sales = profit / revenue × 100, over the deals whose profit is known."""
        return percent(self.profit, self.profit_base)


@dataclass(frozen=True, slots=True)
class Ltv:
    s: Decimal  # average deal
    c: Decimal  # deals per client per month
    p: Decimal  # profit share (0..1; negative when sales lose money)
    t: Decimal  # average active lifetime in months
    value: Decimal

    @property
    def lifetime_unknown(self) -> bool:
        return self.t == 0


def ltv(totals: Totals, period_days: int) -> Ltv | None:
    """LTV = S × C × P × T for the clients who bought in the period.

    S = revenue / deals; C = deals / buying clients / months in the period (elapsed days
    / 30.4375); P = profit / revenue over deals with a known profit (0 if none is known);
    T = average over the buying clients of the months from their first deal ever to their last
    deal in the period. A client with a single purchase has T = 0, so a group of only one-time
    buyers has LTV 0, flagged as "lifetime not known yet" rather than hidden.
    None when nobody bought."""
    if totals.deals == 0 or totals.clients == 0:
        return None
    s = _EXACT.divide(totals.revenue, Decimal(totals.deals))
    months = _EXACT.divide(Decimal(max(period_days, 1)), MONTH_DAYS)
    c = _EXACT.divide(Decimal(totals.deals), _EXACT.multiply(Decimal(totals.clients), months))
    p = _EXACT.divide(totals.profit, totals.profit_base) if totals.profit_base else ZERO
    t = _EXACT.divide(
        Decimal(totals.lifetime_days), _EXACT.multiply(Decimal(totals.clients), MONTH_DAYS)
    )
    value = (s * c * p * t).quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    return Ltv(s, c, p, t, value)


def change_ratio(now: Decimal, before: Decimal) -> Decimal | None:
    """This period's revenue as a percentage of the previous one (None: nothing before)."""
    return percent(now, before)


@dataclass(frozen=True, slots=True)
class ShareChange:
    manager_id: int
    category: str
    before: Decimal
    after: Decimal


def biggest_change(
    now: Mapping[int, Mapping[str, Decimal | None]],
    before: Mapping[int, Mapping[str, Decimal | None]],
    categories: Sequence[str],
) -> ShareChange | None:
    """The largest move of a class share between two periods, over managers and classes.

    Compared on the rounded shares people see, so the sentence matches the table; ties go to
    the first manager and the first class (A before B before X...)."""
    best: ShareChange | None = None
    best_delta = ZERO
    for manager in now:
        for category in categories:
            after, prior = now[manager].get(category), before.get(manager, {}).get(category)
            if after is None or prior is None:
                continue
            after_r, prior_r = shown(after, 0), shown(prior, 0)
            assert after_r is not None and prior_r is not None
            delta = abs(after_r - prior_r)
            if delta > best_delta:
                best, best_delta = ShareChange(manager, category, prior_r, after_r), delta
    return best
