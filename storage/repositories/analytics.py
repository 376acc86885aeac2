"""Aggregates for `/portfolio`, summed in the database with GROUP BY over indexed columns.

Nothing here loads activities or deals one by one: the largest answers are one row per client
(sums for a period) and one row per client and month (for the regularity of purchases).
Month and day buckets differ per dialect and are compiled per dialect below.
"""

from __future__ import annotations

from calendar import monthrange
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from storage.models import Activity, ActivityDay, Client, Deal, Member, SalesMonth, Team
from storage.repositories.rollups import COUNTED_KINDS, month_index
from storage.types import Money


class month_number(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """year × 12 + month − 1 of a DATE column: months as consecutive integers."""

    type = Integer()
    inherit_cache = True


@compiles(month_number, "sqlite")
def _month_number_sqlite(element: month_number, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps dates as ISO text ('2026-11-05'): year and month are fixed slices.
    column = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12 "
        f"+ CAST(substr({column}, 6, 2) AS INTEGER) - 1)"
    )


@compiles(month_number, "postgresql")
def _month_number_pg(element: month_number, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(YEAR FROM {column}) * 12 + EXTRACT(MONTH FROM {column}) - 1 AS INTEGER)"


# Σv² of monthly revenue (minor units) overflows 64-bit integers from about 5 million roubles
# a month: SQL sums the squares of v's high and low parts (v = h·SPLIT + l) instead, which is
# exact for any month below SQUARE_SAFE (a trillion roubles; 36 months of h² < 2⁶³). Above
# it, Python sums that client's months itself (`monthly_of`).
SQUARE_SPLIT = 10**6
SQUARE_SAFE = 10**14


class day_span(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """Whole days from the second DATE to the first."""

    type = Integer()
    inherit_cache = True


@compiles(day_span, "sqlite")
def _day_span_sqlite(element: day_span, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(day_span, "postgresql")
def _day_span_pg(element: day_span, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"


class day_number(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """Days from 1970-01-01 to a DATE: dates as consecutive integers, so lifetimes and
    comparisons are integer arithmetic in Python (no date parsing per row)."""

    type = Integer()
    inherit_cache = True


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday('1970-01-01') is 2440587.5, and so ends every date's julian day: exact.
    column = compiler.process(element.clauses, **kw)
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


@compiles(day_number, "postgresql")
def _day_number_pg(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"({column} - DATE '1970-01-01')"


EPOCH = date(1970, 1, 1).toordinal()


class ClientRow(NamedTuple):
    id: int
    name: str
    manager_id: int
    segment: str | None
    potential: Decimal | None


@dataclass(frozen=True, slots=True)
class SalesRow:
    """Deals of one client closed by one manager in a period (team currency only)."""

    client_id: int
    manager_id: int
    revenue: Decimal
    profit: Decimal  # sum over deals whose profit is known
    profit_base: Decimal  # revenue of those deals: the base ROS and P are computed on
    deals: int
    last_on: date  # the last deal of the period


@dataclass(frozen=True, slots=True)
class DataVersion:
    """Cheap facts that change whenever anything a report shows changes."""

    last_deal_id: int
    deal_count: int
    last_activity_id: int
    roster_version: int


_HEALTH_BUCKETS = ("month", "half_year", "year", "older", "never")
_DAY = timedelta(days=1)


def _narrowed(query: Any, client_id: Any, manager_id: int | None, among: Any | None) -> Any:
    """`query` kept to one manager's clients and to the clients `among` selects, if given."""
    if manager_id is not None:
        query = query.join(Client, Client.id == client_id).where(Client.manager_id == manager_id)
    if among is not None:
        query = query.where(client_id.in_(among))
    return query


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, query: Executable) -> Sequence[Row[*tuple[Any, ...]]]:
        # Core execution on the unit of work's connection: these are plain column tuples, and
        # the ORM's per-row bookkeeping costs more than the query on tens of thousands of rows.
        # All rows at once (the driver's fetchall): row-by-row fetching costs as much again.
        connection = await self._session.connection()
        return (await connection.execute(query)).all()

    async def clients(self, team_id: int, manager_id: int | None) -> list[ClientRow]:
        where = [Client.team_id == team_id]
        if manager_id is not None:
            where.append(Client.manager_id == manager_id)
        rows = await self._rows(
            select(
                Client.id,
                Client.name,
                Client.manager_id,
                Client.segment,
                type_coerce(Client.potential, BigInteger()),
            ).where(*where)
        )
        # Kopecks to money in one step per value: the Decimal `Money` gives, at a third of
        # its cost over a team's ten thousand clients.
        return [
            ClientRow(cid, name, manager, segment, None if p is None else Decimal(p).scaleb(-2))
            for cid, name, manager, segment, p in rows
        ]

    async def members(self, team_id: int) -> list[tuple[int, str, str, bool]]:
        """(id, name, role, active) of everyone who ever was in the team: history keeps names."""
        rows = await self._rows(
            select(Member.id, Member.full_name, Member.role, Member.is_active)
            .where(Member.team_id == team_id)
            .order_by(Member.full_name, Member.id)
        )
        return [(i, n, r, bool(a)) for i, n, r, a in rows]

    def _deal_scope(
        self, team_id: int, currency: str, start: date, end: date
    ) -> list[ColumnElement[bool]]:
        return [
            Deal.team_id == team_id,
            Deal.closed_on >= start,
            Deal.closed_on <= end,
            Deal.currency == currency,
        ]

    async def sales(self, team_id: int, currency: str, start: date, end: date) -> list[SalesRow]:
        """Per client and closing manager, the whole team: ABC ranks every client of the team.

        Whole months come from the `sales_months` roll-up, the days of a month the period cuts
        (a custom span) from `deals`."""
        months, edges = split_months(start, end)
        parts: list[list[SalesRow]] = []
        if months is not None:
            parts.append(await self._sales_months(team_id, currency, *months))
        for edge_start, edge_end in edges:
            parts.append(await self._sales_raw(team_id, currency, edge_start, edge_end))
        if len(parts) == 1:
            return parts[0]
        return _merge_sales(row for part in parts for row in part)

    async def _sales_months(
        self, team_id: int, currency: str, first: int, last: int
    ) -> list[SalesRow]:
        def minor(column: Any) -> Any:
            return func.sum(type_coerce(column, BigInteger()), type_=BigInteger())

        rows = await self._rows(
            select(
                SalesMonth.client_id,
                SalesMonth.manager_id,
                minor(SalesMonth.revenue),
                minor(SalesMonth.profit),
                minor(SalesMonth.profit_base),
                func.sum(SalesMonth.deals),
                func.max(SalesMonth.last_on),
            )
            .where(
                SalesMonth.team_id == team_id,
                SalesMonth.currency == currency,
                SalesMonth.month >= first,
                SalesMonth.month <= last,
            )
            .group_by(SalesMonth.client_id, SalesMonth.manager_id)
        )
        # Sums of minor units turned into money here, in one step per value: the same Decimal
        # (two places) `Money` gives, at a third of its cost over a team's year.
        return [
            SalesRow(
                cid,
                mid,
                Decimal(rev).scaleb(-2),
                Decimal(profit).scaleb(-2),
                Decimal(base).scaleb(-2),
                int(n),
                _as_date(last),
            )
            for cid, mid, rev, profit, base, n, last in rows
        ]

    async def _sales_raw(
        self, team_id: int, currency: str, start: date, end: date
    ) -> list[SalesRow]:
        known = Deal.profit.is_not(None)
        rows = await self._rows(
            select(
                Deal.client_id,
                Deal.manager_id,
                func.sum(Deal.amount, type_=Money()),
                func.sum(Deal.profit, type_=Money()),
                func.sum(case((known, Deal.amount), else_=None), type_=Money()),
                func.count(),
                func.max(Deal.closed_on),
            )
            .where(*self._deal_scope(team_id, currency, start, end))
            .group_by(Deal.client_id, Deal.manager_id)
        )
        zero = Decimal(0)
        return [
            SalesRow(cid, mid, rev or zero, profit or zero, base or zero, int(n), _as_date(last))
            for cid, mid, rev, profit, base, n, last in rows
        ]

    async def monthly(
        self,
        team_id: int,
        currency: str,
        start: date,
        end: date,
        manager_id: int | None,
        among: Any | None = None,
    ) -> list[tuple[int, int, int]]:
        """(client, month number, revenue in minor units): one row per client and month with
        sales. Plain integers: XYZ needs only ratios, and tens of thousands of rows stay cheap.
        Whole months from the roll-up, a cut month's days from `deals`. `among`: only the
        clients it selects (`buyers`)."""
        months, edges = split_months(start, end)
        out: list[tuple[int, int, int]] = []
        if months is not None:
            month = SalesMonth.month
            query = select(
                SalesMonth.client_id,
                month,
                func.sum(type_coerce(SalesMonth.revenue, BigInteger()), type_=BigInteger()),
            ).where(
                SalesMonth.team_id == team_id,
                SalesMonth.currency == currency,
                month >= months[0],
                month <= months[1],
            )
            query = _narrowed(query, SalesMonth.client_id, manager_id, among)
            rows = await self._rows(query.group_by(SalesMonth.client_id, month))
            out.extend((cid, int(m), int(total or 0)) for cid, m, total in rows)
        for edge_start, edge_end in edges:
            # Edges never share a month with the whole months, nor with each other.
            out.extend(
                await self._monthly_raw(team_id, currency, edge_start, edge_end, manager_id, among)
            )
        return out

    async def _monthly_raw(
        self,
        team_id: int,
        currency: str,
        start: date,
        end: date,
        manager_id: int | None,
        among: Any | None = None,
    ) -> list[tuple[int, int, int]]:
        month = month_number(Deal.closed_on)
        query = select(Deal.client_id, month, func.sum(Deal.amount, type_=BigInteger())).where(
            *self._deal_scope(team_id, currency, start, end)
        )
        query = _narrowed(query, Deal.client_id, manager_id, among)
        rows = await self._rows(query.group_by(Deal.client_id, month))
        return [(cid, int(m), int(total or 0)) for cid, m, total in rows]

    # --- one row per client or manager: the sums the report ranks, taken in SQL ------------

    def _sales_source(self, team_id: int, currency: str, start: date, end: date) -> Any:
        """Sales of the period in minor units, one row per roll-up row (whole months) or per
        deal (the days of a month the period cuts): client, manager, month, revenue, profit,
        profit_base, deals, last_on. Callers group it the way they need."""
        months, edges = split_months(start, end)

        def minor(column: Any) -> Any:
            return type_coerce(column, BigInteger())

        parts: list[Any] = []
        if months is not None:
            parts.append(
                select(
                    SalesMonth.client_id.label("client_id"),
                    SalesMonth.manager_id.label("manager_id"),
                    SalesMonth.month.label("month"),
                    minor(SalesMonth.revenue).label("revenue"),
                    minor(SalesMonth.profit).label("profit"),
                    minor(SalesMonth.profit_base).label("profit_base"),
                    SalesMonth.deals.label("deals"),
                    SalesMonth.last_on.label("last_on"),
                ).where(
                    SalesMonth.team_id == team_id,
                    SalesMonth.currency == currency,
                    SalesMonth.month >= months[0],
                    SalesMonth.month <= months[1],
                )
            )
        known = Deal.profit.is_not(None)
        for edge_start, edge_end in edges:
            parts.append(
                select(
                    Deal.client_id.label("client_id"),
                    Deal.manager_id.label("manager_id"),
                    month_number(Deal.closed_on).label("month"),
                    minor(Deal.amount).label("revenue"),
                    func.coalesce(minor(Deal.profit), 0).label("profit"),
                    case((known, minor(Deal.amount)), else_=0).label("profit_base"),
                    literal(1, Integer()).label("deals"),
                    Deal.closed_on.label("last_on"),
                ).where(*self._deal_scope(team_id, currency, edge_start, edge_end))
            )
        if len(parts) == 1:
            return parts[0].subquery("sales")
        return union_all(*parts).subquery("sales")

    # --- every client line's numbers: a few narrow statements, merged by client ------------

    async def client_figures(
        self,
        team_id: int,
        currency: str,
        now: tuple[date, date],
        prev: tuple[date, date],
        windows: Sequence[tuple[int, int]],
        manager_id: int | None,
    ) -> dict[int, tuple[Any, ...]]:
        """Every client of the team (or of `manager_id`) with deals in either period (the
        only ones the report classes or dates) and all of its line's numbers, as plain
        integers in minor units and day numbers (`day_number`), keyed by client. Per row:

        client id;
        then for `now` and for `prev`: revenue, profit, profit_base, deals (0 when none),
        the last deal's day number (NULL when none), the running revenue in ABC's order
        (revenue descending, equal revenue by id, over the whole team; NULL when the client
        bought nothing in the period), the team's positive revenue in all;
        then for each of the two XYZ `windows` (first, last month number), over the
        client's monthly revenue summed across closing managers: months with sales, Σv, Σv²
        (None when a month reaches SQUARE_SAFE: `monthly_of` sums those exactly) and the
        first month with sales (None when no month had sales);
        then the day number of the client's first deal ever (any currency, up to now's end).

        Each part is the narrowest statement that answers it (a period's months only; the
        windows' months; one index seek per client for the first deal): one statement with
        conditional sums over the whole span costs SQLite more than all of them together.
        ABC ranks the whole team, so a manager's clients keep the team's classes."""
        periods = [
            await self.ranked_clients(team_id, currency, start, end, manager_id)
            for start, end in (now, prev)
        ]
        window_first = min(first for first, _last in windows)
        window_start = date(window_first // 12, window_first % 12 + 1, 1)
        # Only the periods' buyers need windows and first deals (the report classes and dates
        # no one else). A team's month has a few thousand of them among ~10,000 clients with
        # sales in the windows: then naming them pays. Periods as long as the windows hold
        # nearly every client, and the filter would only cost.
        buyers: Any | None = None
        span_months = month_index(now[1]) - window_first + 1
        periods_months = sum(
            month_index(end) - month_index(start) + 1 for start, end in (now, prev)
        )
        # A manager's few hundred clients are named by the scope already: the team-wide
        # buyers would only cost.
        if manager_id is None and 2 * periods_months < span_months:
            buyers = self.buyers(team_id, currency, (now, prev))
        xyz = await self.window_sums(
            team_id, currency, window_start, now[1], manager_id, windows, buyers
        )
        first = await self.first_deal_days(team_id, manager_id, now[1], buyers)
        empty = [(0, 0, 0, 0, None, None, total) for _rows, total in periods]
        no_months = (0, 0, 0, None) * len(windows)
        (now_rows, _), (prev_rows, _) = periods
        return {
            client: (
                client,
                *now_rows.get(client, empty[0]),
                *prev_rows.get(client, empty[1]),
                *xyz.get(client, no_months),
                first.get(client),
            )
            for client in now_rows.keys() | prev_rows.keys()
        }

    def buyers(self, team_id: int, currency: str, spans: Sequence[tuple[date, date]]) -> Any:
        """A select of the clients with a deal in any of the spans, for `among` arguments:
        run once inside the statement that filters by it, with no list of ids to bind."""
        return union(
            *(select(self._sales_source(team_id, currency, *span).c.client_id) for span in spans)
        )

    def _scoped(self, column: Any, team_id: int, manager_id: int | None) -> list[Any]:
        if manager_id is None:
            return []
        return [
            column.in_(
                select(Client.id).where(Client.team_id == team_id, Client.manager_id == manager_id)
            )
        ]

    async def ranked_clients(
        self, team_id: int, currency: str, start: date, end: date, manager_id: int | None
    ) -> tuple[dict[int, tuple[Any, ...]], int]:
        """({client: (revenue, profit, profit_base, deals, last day, running revenue, team
        total)}, team total) for the clients (of `manager_id`) who bought in the period."""
        src = self._sales_source(team_id, currency, start, end)
        big = BigInteger()
        # Grouped first, ranked outside: SQLite does not flatten a subquery into a query with
        # a window function, so the window must see the ~10,000 grouped rows, not the
        # ~55,000 roll-up rows.
        grouped = (
            select(
                src.c.client_id,
                cast(func.sum(src.c.revenue), big).label("revenue"),
                cast(func.sum(src.c.profit), big).label("profit"),
                cast(func.sum(src.c.profit_base), big).label("profit_base"),
                cast(func.sum(src.c.deals), big).label("deals"),
                day_number(func.max(src.c.last_on)).label("last_on"),
            )
            .group_by(src.c.client_id)
            .subquery("per_client")
        )
        g = grouped.c
        positive = case((g.revenue > 0, g.revenue), else_=0)
        ranked = select(
            *g,
            cast(
                func.sum(positive).over(order_by=(g.revenue.desc(), g.client_id), rows=(None, 0)),
                big,
            ).label("running"),
            cast(func.sum(positive).over(), big).label("total"),
        ).subquery("ranked")
        query = select(*ranked.c).where(*self._scoped(ranked.c.client_id, team_id, manager_id))
        rows = await self._rows(query)
        total = rows[0][-1] if rows else 0
        return {row[0]: tuple(row[1:]) for row in rows}, total

    async def window_sums(
        self,
        team_id: int,
        currency: str,
        start: date,
        end: date,
        manager_id: int | None,
        windows: Sequence[tuple[int, int]],
        among: Any | None = None,
    ) -> dict[int, tuple[Any, ...]]:
        """Per client (of `manager_id`, or the team; only those `among` selects when given)
        and per window (first, last month
        number): (months with sales, Σv, Σv², first month with sales) each, from monthly
        revenue summed over closing managers. Σv² is taken in parts (see SQUARE_SPLIT), so no
        64-bit sum can overflow, and put together here; None for a client with a month of
        SQUARE_SAFE or more, which `monthly_of` sums exactly."""
        src = self._sales_source(team_id, currency, start, end)
        # A month's revenue fits 64 bits; as BIGINT (not PostgreSQL's NUMERIC sum) the
        # fourteen aggregates below run on plain integers.
        per_month = select(
            src.c.client_id, src.c.month, cast(func.sum(src.c.revenue), BigInteger()).label("v")
        ).where(*self._scoped(src.c.client_id, team_id, manager_id))
        if among is not None:
            per_month = per_month.where(src.c.client_id.in_(among))
        months = per_month.group_by(src.c.client_id, src.c.month).subquery("months")
        v, m = months.c.v, months.c.month
        # v² = h²·10¹² + 2·h·l·10⁶ + l² with v = h·10⁶ + l: each part's sum stays far inside
        # 64 bits for any month below SQUARE_SAFE (10¹⁴ minor units), and Python puts the
        # exact square back together. (On PostgreSQL v is NUMERIC anyway, so exact there too.)
        low = v % SQUARE_SPLIT
        high = (v - low) // SQUARE_SPLIT
        columns: list[Any] = []
        for first, last in windows:
            inside = and_(m >= first, m <= last, v > 0)
            safe = and_(inside, v < SQUARE_SAFE)

            def total(value: Any, when: Any = inside) -> Any:
                return cast(func.sum(case((when, value), else_=0)), BigInteger())

            columns += [
                func.count(case((inside, 1), else_=None)),
                total(v),
                total(high * high, safe),
                total(high * low, safe),
                total(low * low, safe),
                func.max(case((inside, v), else_=None)),
                func.min(case((inside, m), else_=None)),
            ]
        rows = await self._rows(select(months.c.client_id, *columns).group_by(months.c.client_id))
        out: dict[int, tuple[Any, ...]] = {}
        split = SQUARE_SPLIT
        for row in rows:
            values: list[Any] = []
            for at in range(1, 1 + 7 * len(windows), 7):
                n, total_v, hh, hl, ll, top, earliest = row[at : at + 7]
                if not n:
                    values += (0, 0, 0, None)
                    continue
                squares = None
                if top < SQUARE_SAFE:
                    squares = hh * split * split + 2 * hl * split + ll
                values += (n, total_v, squares, earliest)
            out[row[0]] = tuple(values)
        return out

    async def first_deal_days(
        self, team_id: int, manager_id: int | None, end: date, among: Any | None = None
    ) -> dict[int, int]:
        """The day number of the first deal (any currency, up to `end`) of each client of
        the team (or of `manager_id`) who has one: one (client_id, closed_on) index seek per
        client, with no list of ids to bind."""
        first_on = (
            select(func.min(Deal.closed_on))
            .where(Deal.client_id == Client.id, Deal.closed_on <= end)
            .scalar_subquery()
        )
        where = [Client.team_id == team_id]
        if manager_id is not None:
            where.append(Client.manager_id == manager_id)
        if among is not None:
            where.append(Client.id.in_(among))
        rows = await self._rows(select(Client.id, day_number(first_on)).where(*where))
        return {cid: first for cid, first in rows if first is not None}

    async def manager_figures(
        self,
        team_id: int,
        currency: str,
        now: tuple[date, date],
        prev: tuple[date, date],
        manager_id: int | None,
    ) -> list[tuple[int, ManagerSales | None, ManagerSales | None]]:
        """Per closing manager (or only `manager_id`): (manager, now's sales, prev's sales),
        None for a period without a deal."""
        found = [
            {
                row.manager_id: row
                for row in await self.manager_sales(team_id, currency, *span, manager_id)
            }
            for span in (now, prev)
        ]
        return [
            (manager, found[0].get(manager), found[1].get(manager))
            for manager in found[0].keys() | found[1].keys()
        ]

    async def manager_sales(
        self, team_id: int, currency: str, start: date, end: date, manager_id: int | None
    ) -> list[ManagerSales]:
        """One row per closing manager (or only `manager_id`'s). Lifetimes come from each
        client's first deal ever, found by one (client_id, closed_on) index seek per client."""
        src = self._sales_source(team_id, currency, start, end)
        pair_query = select(
            src.c.client_id,
            src.c.manager_id,
            func.sum(src.c.revenue, type_=BigInteger()).label("revenue"),
            func.sum(src.c.profit, type_=BigInteger()).label("profit"),
            func.sum(src.c.profit_base, type_=BigInteger()).label("profit_base"),
            func.sum(src.c.deals).label("deals"),
            func.max(src.c.last_on).label("last_on"),
        )
        if manager_id is not None:
            pair_query = pair_query.where(src.c.manager_id == manager_id)
        pairs = pair_query.group_by(src.c.client_id, src.c.manager_id).cte("pairs")
        buyers = select(pairs.c.client_id).distinct().subquery("buyers")
        first_on = (
            select(func.min(Deal.closed_on))
            .where(Deal.client_id == buyers.c.client_id, Deal.closed_on <= end)
            .scalar_subquery()
        )
        firsts = select(buyers.c.client_id, first_on.label("first_on")).subquery("firsts")
        rows = await self._rows(
            select(
                pairs.c.manager_id,
                func.sum(pairs.c.revenue, type_=BigInteger()),
                func.sum(pairs.c.profit, type_=BigInteger()),
                func.sum(pairs.c.profit_base, type_=BigInteger()),
                func.sum(pairs.c.deals),
                func.count(),
                func.sum(day_span(pairs.c.last_on, firsts.c.first_on)),
            )
            .select_from(pairs.join(firsts, firsts.c.client_id == pairs.c.client_id))
            .group_by(pairs.c.manager_id)
        )
        return [
            ManagerSales(
                mid,
                Decimal(int(rev or 0)).scaleb(-2),
                Decimal(int(profit or 0)).scaleb(-2),
                Decimal(int(base or 0)).scaleb(-2),
                int(n),
                int(clients),
                int(days or 0),
            )
            for mid, rev, profit, base, n, clients, days in rows
        ]

    async def monthly_of(
        self, team_id: int, currency: str, start: date, end: date, client_ids: Sequence[int]
    ) -> dict[int, dict[int, int]]:
        """{client: {month: revenue in minor units}} for a few clients: the exact path for
        the rare client whose monthly revenue is too large to square in SQL."""
        src = self._sales_source(team_id, currency, start, end)
        out: dict[int, dict[int, int]] = {}
        ids = sorted(set(client_ids))
        for chunk_start in range(0, len(ids), 500):
            rows = await self._rows(
                select(src.c.client_id, src.c.month, func.sum(src.c.revenue, type_=BigInteger()))
                .where(src.c.client_id.in_(ids[chunk_start : chunk_start + 500]))
                .group_by(src.c.client_id, src.c.month)
            )
            for cid, month, total in rows:
                out.setdefault(cid, {})[int(month)] = int(total or 0)
        return out

    async def first_deals(self, end: date, client_ids: Sequence[int]) -> dict[int, date]:
        """The first deal of each client up to `end`, in any currency: when they became a
        buyer. The ids come from the team's own clients, so the (client_id, closed_on) index
        answers alone."""
        if not client_ids:
            return {}
        out: dict[int, date] = {}
        ids = sorted(set(client_ids))
        # Bounded IN lists: PostgreSQL and SQLite both cap bound parameters.
        for chunk_start in range(0, len(ids), 5000):
            chunk = ids[chunk_start : chunk_start + 5000]
            rows = await self._rows(
                select(Deal.client_id, func.min(Deal.closed_on))
                .where(Deal.client_id.in_(chunk), Deal.closed_on <= end)
                .group_by(Deal.client_id)
            )
            out.update({cid: _as_date(first) for cid, first in rows})
        return out

    async def activity_counts(
        self, author_ids: Sequence[int], kinds: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[int, str], int]:
        """{(author, kind): count} of activities logged in [start, end) by these members.

        Whole UTC days of the counted kinds come from the `activity_days` roll-up; the hours
        of the first and last day the period's bounds cut (the team's midnight is rarely UTC
        midnight) from `activities`, through the (author_id, kind, occurred_at) index. The
        authors are the team's members, which scopes the query to the team."""
        if not author_ids:
            return {}
        authors = sorted(set(author_ids))
        rolled = [kind for kind in kinds if kind in COUNTED_KINDS]
        raw = [kind for kind in kinds if kind not in COUNTED_KINDS]
        out: Counter[tuple[int, str]] = Counter()
        if raw:
            out.update(await self._activity_raw(authors, raw, start, end))
        if not rolled:
            return dict(out)
        first_day, last_day = _whole_days(start, end)
        if first_day >= last_day:
            out.update(await self._activity_raw(authors, rolled, start, end))
            return dict(out)
        rows = await self._rows(
            select(ActivityDay.author_id, ActivityDay.kind, func.sum(ActivityDay.count))
            .where(
                ActivityDay.author_id.in_(authors),
                ActivityDay.kind.in_(rolled),
                ActivityDay.day >= first_day,
                ActivityDay.day < last_day,
            )
            .group_by(ActivityDay.author_id, ActivityDay.kind)
        )
        out.update({(author, kind): int(n) for author, kind, n in rows})
        head_end = datetime.combine(first_day, time(0), UTC)
        tail_start = datetime.combine(last_day, time(0), UTC)
        if start < head_end:
            out.update(await self._activity_raw(authors, rolled, start, head_end))
        if tail_start < end:
            out.update(await self._activity_raw(authors, rolled, tail_start, end))
        return {key: n for key, n in out.items() if n}

    async def _activity_raw(
        self, authors: Sequence[int], kinds: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[int, str], int]:
        # Shaped for the (author_id, kind, occurred_at) index: one range per author and kind,
        # read in GROUP BY order, so nothing is fetched row by row nor sorted.
        rows = await self._rows(
            select(Activity.author_id, Activity.kind, func.count())
            .where(
                Activity.author_id.in_(list(authors)),
                Activity.kind.in_(list(kinds)),
                Activity.occurred_at >= start,
                Activity.occurred_at < end,
            )
            .group_by(Activity.author_id, Activity.kind)
        )
        return {(author, kind): int(n) for author, kind, n in rows}

    async def activity_weeks(
        self, author_ids: Sequence[int], kinds: Sequence[str], edges: Sequence[datetime]
    ) -> dict[tuple[int, str], int]:
        """Activities per (week, kind) for weekly charts. `edges` are ascending UTC moments:
        week i is [edges[i], edges[i + 1]), so the caller draws the weeks on the team's wall
        clock (a local Monday's midnight is not a UTC one, and moves with daylight saving).

        Counted kinds come from the `activity_days` roll-up: each UTC day goes to the week
        its midnight falls in, and the hours between an edge and the next UTC midnight are
        moved, counted from `activities`, to the week the edge opens (three hours an edge in
        Moscow). Other kinds are counted from `activities` alone."""
        if not author_ids or len(edges) < 2:
            return {}
        authors = sorted(set(author_ids))
        rolled = [kind for kind in kinds if kind in COUNTED_KINDS]
        raw = [kind for kind in kinds if kind not in COUNTED_KINDS]
        out: Counter[tuple[int, str]] = Counter()
        if raw:
            out.update(await self._activity_weeks_raw(authors, raw, edges))
        if not rolled:
            return dict(out)
        last = len(edges) - 2
        utc = [edge.astimezone(UTC) for edge in edges]
        # The first UTC midnight at or after each edge, as a day.
        days = [
            moment.date()
            if moment == datetime.combine(moment.date(), time(0), UTC)
            else moment.date() + _DAY
            for moment in utc
        ]
        week = _bucket(
            [(ActivityDay.day < day, index) for index, day in enumerate(days[1:-1])], last
        )
        picked = (
            select(week.label("week"), ActivityDay.kind.label("kind"), ActivityDay.count)
            .where(
                ActivityDay.author_id.in_(authors),
                ActivityDay.kind.in_(rolled),
                ActivityDay.day >= days[0],
                ActivityDay.day < days[-1],
            )
            .subquery()
        )
        rows = await self._rows(
            select(picked.c.week, picked.c.kind, func.sum(picked.c.count)).group_by(
                picked.c.week, picked.c.kind
            )
        )
        out.update({(int(index), str(kind)): int(n) for index, kind, n in rows})
        cuts = [
            (index, moment, datetime.combine(day, time(0), UTC))
            for index, (moment, day) in enumerate(zip(utc, days, strict=True))
            if moment < datetime.combine(day, time(0), UTC)
        ]
        if cuts:
            # [edge, next midnight): counted above in the week before the edge (or not at
            # all before the first), belongs to the week the edge opens (or to none after
            # the last edge).
            edge = case(
                *[(Activity.occurred_at < midnight, index) for index, _edge, midnight in cuts]
            )
            moved = (
                select(edge.label("edge"), Activity.kind.label("kind"))
                .where(
                    Activity.author_id.in_(authors),
                    Activity.kind.in_(rolled),
                    or_(
                        *[
                            and_(Activity.occurred_at >= moment, Activity.occurred_at < midnight)
                            for _index, moment, midnight in cuts
                        ]
                    ),
                )
                .subquery()
            )
            for index, kind, n in await self._rows(
                select(moved.c.edge, moved.c.kind, func.count()).group_by(
                    moved.c.edge, moved.c.kind
                )
            ):
                if index > 0:
                    out[(int(index) - 1, str(kind))] -= int(n)
                if index <= last:
                    out[(int(index), str(kind))] += int(n)
        return {key: n for key, n in out.items() if n}

    async def _activity_weeks_raw(
        self, authors: Sequence[int], kinds: Sequence[str], edges: Sequence[datetime]
    ) -> dict[tuple[int, str], int]:
        """`activity_weeks` from `activities` alone, through the (author_id, kind,
        occurred_at) index: kinds the roll-up does not count, and the reference the
        roll-up's answer is tested against."""
        week = _bucket(
            [(Activity.occurred_at < edge, index) for index, edge in enumerate(edges[1:-1])],
            len(edges) - 2,
        )
        picked = (
            select(week.label("week"), Activity.kind.label("kind"))
            .where(
                Activity.author_id.in_(list(authors)),
                Activity.kind.in_(list(kinds)),
                Activity.occurred_at >= edges[0],
                Activity.occurred_at < edges[-1],
            )
            .subquery()
        )
        rows = await self._rows(
            select(picked.c.week, picked.c.kind, func.count()).group_by(
                picked.c.week, picked.c.kind
            )
        )
        return {(int(index), str(kind)): int(n) for index, kind, n in rows}

    async def deal_days(
        self, team_id: int, currency: str, start: date, end: date, manager_id: int | None
    ) -> list[tuple[date, int]]:
        where = self._deal_scope(team_id, currency, start, end)
        if manager_id is not None:
            where.append(Deal.manager_id == manager_id)
        rows = await self._rows(
            select(Deal.closed_on, func.count()).where(*where).group_by(Deal.closed_on)
        )
        return [(_as_date(day), int(n)) for day, n in rows]

    async def health(
        self, team_id: int, manager_id: int | None, now: datetime, edges: Sequence[datetime]
    ) -> dict[int, dict[str, int]]:
        """Clients in the base (not archived, not erased) per manager, by their last contact:
        {manager: {bucket: count}}; `edges` are the moments one month, six months and one year
        before `now`."""
        month, half_year, year = edges
        last = Client.last_contact_at
        buckets = [
            and_(last.is_not(None), last >= month),
            and_(last.is_not(None), last < month, last >= half_year),
            and_(last.is_not(None), last < half_year, last >= year),
            and_(last.is_not(None), last < year),
            last.is_(None),
        ]
        where = [Client.team_id == team_id, Client.archived_at.is_(None)]
        where.append(Client.erased_at.is_(None))
        if manager_id is not None:
            where.append(Client.manager_id == manager_id)
        rows = await self._rows(
            select(
                Client.manager_id,
                *[func.sum(case((cond, 1), else_=0)) for cond in buckets],
            )
            .where(*where)
            .group_by(Client.manager_id)
        )
        return {
            row[0]: {name: int(n or 0) for name, n in zip(_HEALTH_BUCKETS, row[1:], strict=True)}
            for row in rows
        }

    async def version(self, team_id: int) -> DataVersion:
        deal_id, deal_count = (
            await self._session.execute(
                select(func.max(Deal.id), func.count()).where(Deal.team_id == team_id)
            )
        ).one()
        activity_id = await self._session.scalar(select(func.max(Activity.id)))
        roster = await self._session.scalar(select(Team.roster_version).where(Team.id == team_id))
        return DataVersion(
            int(deal_id or 0), int(deal_count), int(activity_id or 0), int(roster or 0)
        )


def split_months(start: date, end: date) -> tuple[tuple[int, int] | None, list[tuple[date, date]]]:
    """The whole calendar months inside [start, end] as (first, last) month numbers (None if
    there is none), and the spans of days outside them: what the roll-up serves and what
    the raw rows must."""
    first_full = start if start.day == 1 else _next_month(start)
    last_full_end = (
        end if end.day == monthrange(end.year, end.month)[1] else end.replace(day=1) - _DAY
    )
    if first_full > last_full_end:
        return None, [(start, end)]
    edges = []
    if start < first_full:
        edges.append((start, first_full - _DAY))
    if last_full_end < end:
        edges.append((last_full_end + _DAY, end))
    return (month_index(first_full), month_index(last_full_end)), edges


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """UTC days [first, last) lying wholly inside [start, end)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.date()
    if start != datetime.combine(first, time(0), UTC):
        first += _DAY
    return first, end.date()


def _bucket(whens: list[tuple[Any, int]], last: int) -> Any:
    """The index of the first true condition, else `last`; a CASE needs at least one WHEN
    (a period inside one week has no edge between its weeks)."""
    if not whens:
        return literal(last, Integer())
    return case(*whens, else_=last)


def _merge_sales(rows: Iterable[SalesRow]) -> list[SalesRow]:
    merged: dict[tuple[int, int], SalesRow] = {}
    for row in rows:
        key = (row.client_id, row.manager_id)
        seen = merged.get(key)
        merged[key] = (
            row
            if seen is None
            else SalesRow(
                row.client_id,
                row.manager_id,
                seen.revenue + row.revenue,
                seen.profit + row.profit,
                seen.profit_base + row.profit_base,
                seen.deals + row.deals,
                max(seen.last_on, row.last_on),
            )
        )
    return list(merged.values())


def _as_date(value: date | str) -> date:
    # SQLite hands back MIN/MAX of a DATE column as text: the aggregate loses the column type.
    return value if isinstance(value, date) else date.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class ManagerSales:
    """Deals a manager closed in a period; `clients` counts the clients they sold to and
    `lifetime_days` sums, over those clients, the days from the client's first deal ever (in
    any currency, up to the period's end) to the manager's last deal with them in the period."""

    manager_id: int
    revenue: Decimal
    profit: Decimal
    profit_base: Decimal
    deals: int
    clients: int
    lifetime_days: int
