"""Roll-ups `/portfolio` reads instead of raw history: `sales_months` and `activity_days`.

Kept in the transaction of every write that changes them, by the storage functions that write
(`ActivityRepository.add` and `add_deal`, `ImportRepository.add_activities`), so no service can
forget them. A single row is an upsert (INSERT … ON CONFLICT DO UPDATE, SQLite ≥ 3.24 and
PostgreSQL alike) that adds the new row's numbers; anything that removes or changes history
recomputes the touched buckets from the raw rows (`refresh_sales`). `rebuild` recomputes all of
it from scratch and `check` compares (`python -m bot rollups rebuild|check`).

What is not maintained because nothing changes it: a transfer moves a client, but sales follow
the manager who closed the deal and client views join `clients` for the current manager when
reading; an erasure (/forget) deletes notes and blanks texts, neither counted here; a team's
new time zone leaves both keys right (local `closed_on` dates, UTC days).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.hot import HotStatement
from storage.models import Activity, ActivityDay, Deal, SalesMonth
from storage.sqlite_driver import quick

# The activity kinds the reports count; notes and deal entries are not rolled up.
COUNTED_KINDS = ("call", "meeting", "proposal")

_SALES = SalesMonth.__table__
_DAYS = ActivityDay.__table__
_S = _SALES.c
_D = _DAYS.c


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


class deal_month(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """year × 12 + month − 1 of a DATE column."""

    type = BigInteger()
    inherit_cache = True


@compiles(deal_month, "sqlite")
def _deal_month_sqlite(element: deal_month, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12 "
        f"+ CAST(substr({column}, 6, 2) AS INTEGER) - 1)"
    )


@compiles(deal_month, "postgresql")
def _deal_month_pg(element: deal_month, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(YEAR FROM {column}) * 12 + EXTRACT(MONTH FROM {column}) - 1 AS INTEGER)"


class utc_day(FunctionElement[date]):  # noqa: N801 - used like a SQL function
    """The UTC calendar day of a timestamp column, as a DATE."""

    type = Date()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Naive UTC ISO text ('2026-12-02 07:15:00.000000'): the day is its first ten characters.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


def _sales_upsert(dialect: Any) -> HotStatement:
    """Adds one deal to its bucket: sums grow, the first and last day widen."""
    statement = dialect.insert(_SALES)
    new = statement.excluded
    return HotStatement(
        quick(
            statement.on_conflict_do_update(
                index_elements=[_S.client_id, _S.manager_id, _S.currency, _S.month],
                set_={
                    "revenue": _S.revenue + new.revenue,
                    "profit": _S.profit + new.profit,
                    "profit_base": _S.profit_base + new.profit_base,
                    "deals": _S.deals + new.deals,
                    "first_on": case((new.first_on < _S.first_on, new.first_on), else_=_S.first_on),
                    "last_on": case((new.last_on > _S.last_on, new.last_on), else_=_S.last_on),
                },
            )
        )
    )


def days_upsert(dialect: Any, **values: Any) -> Any:
    """Adds to a day bucket's count (`values`: the row's columns as bind parameters, or none:
    then the parameters' keys pick them)."""
    statement = dialect.insert(_DAYS)
    if values:
        statement = statement.values(**values)
    return statement.on_conflict_do_update(
        index_elements=[_D.author_id, _D.kind, _D.day],
        set_={"count": _D.count + statement.excluded["count"]},
    )


def _days_upsert(dialect: Any) -> HotStatement:
    return HotStatement(quick(days_upsert(dialect)))


_ADD_SALE = {"postgresql": _sales_upsert(postgresql), "sqlite": _sales_upsert(sqlite)}
_ADD_DAY = {"postgresql": _days_upsert(postgresql), "sqlite": _days_upsert(sqlite)}

_SALES_COLUMNS = [
    "client_id",
    "manager_id",
    "currency",
    "month",
    "team_id",
    "revenue",
    "profit",
    "profit_base",
    "deals",
    "first_on",
    "last_on",
]
_DAY_COLUMNS = ["author_id", "kind", "day", "team_id", "count"]


def sales_from_deals(*where: Any) -> Select[*tuple[Any, ...]]:
    """`sales_months` rows recomputed from `deals` (the rebuild's and the check's source)."""
    month = deal_month(Deal.closed_on)
    zero = literal(0, BigInteger())
    return (
        select(
            Deal.client_id,
            Deal.manager_id,
            Deal.currency,
            month,
            Deal.team_id,
            func.sum(Deal.amount, type_=BigInteger()),
            func.coalesce(func.sum(Deal.profit, type_=BigInteger()), zero),
            func.coalesce(
                func.sum(case((Deal.profit.is_not(None), Deal.amount)), type_=BigInteger()), zero
            ),
            func.count(),
            func.min(Deal.closed_on, type_=Date()),
            func.max(Deal.closed_on, type_=Date()),
        )
        .where(*where)
        .group_by(Deal.client_id, Deal.manager_id, Deal.currency, month, Deal.team_id)
    )


def days_from_activities(*where: Any) -> Select[*tuple[Any, ...]]:
    """`activity_days` rows recomputed from `activities`."""
    day = utc_day(Activity.occurred_at)
    return (
        select(Activity.author_id, Activity.kind, day, Activity.team_id, func.count())
        .where(Activity.kind.in_(COUNTED_KINDS), *where)
        .group_by(Activity.author_id, Activity.kind, day, Activity.team_id)
    )


@dataclass(frozen=True, slots=True)
class RollupCheck:
    """Rows compared, and the keys whose numbers differ (missing on either side included)."""

    sales_rows: int
    day_rows: int
    sales_wrong: list[tuple[Any, ...]]
    days_wrong: list[tuple[Any, ...]]

    @property
    def ok(self) -> bool:
        return not self.sales_wrong and not self.days_wrong


class RollupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    # --- kept on every write ------------------------------------------------------------------

    async def deal_added(
        self,
        *,
        team_id: int,
        client_id: int,
        manager_id: int,
        currency: str,
        closed_on: date,
        amount: Decimal,
        profit: Decimal | None,
    ) -> None:
        await _ADD_SALE[self._dialect()].rows(
            self._session,
            {
                "client_id": client_id,
                "manager_id": manager_id,
                "currency": currency,
                "month": month_index(closed_on),
                "team_id": team_id,
                "revenue": amount,
                "profit": profit if profit is not None else Decimal(0),
                "profit_base": amount if profit is not None else Decimal(0),
                "deals": 1,
                "first_on": closed_on,
                "last_on": closed_on,
            },
        )

    async def activity_added(
        self, *, team_id: int, author_id: int, kind: str, occurred_at: datetime
    ) -> None:
        if kind not in COUNTED_KINDS:
            return
        await _ADD_DAY[self._dialect()].rows(
            self._session,
            {
                "author_id": author_id,
                "kind": kind,
                "day": occurred_at.astimezone(UTC).date(),
                "team_id": team_id,
                "count": 1,
            },
        )

    async def activities_added(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """A batch of inserted activities (an import): one upsert per touched bucket."""
        buckets: Counter[tuple[int, str, date, int]] = Counter()
        for row in rows:
            if row["kind"] in COUNTED_KINDS:
                day = row["occurred_at"].astimezone(UTC).date()
                buckets[(row["author_id"], row["kind"], day, row["team_id"])] += 1
        if not buckets:
            return
        statement = _ADD_DAY[self._dialect()]
        for (author_id, kind, day, team_id), count in sorted(buckets.items()):
            await statement.rows(
                self._session,
                {
                    "author_id": author_id,
                    "kind": kind,
                    "day": day,
                    "team_id": team_id,
                    "count": count,
                },
            )

    async def refresh_sales(self, team_id: int, client_ids: Sequence[int]) -> None:
        """Recompute these clients' rows from `deals`: after anything that edits or removes
        deals, where adding a difference would need the old row."""
        ids = sorted(set(client_ids))
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            await self._session.execute(
                delete(SalesMonth).where(
                    SalesMonth.team_id == team_id, SalesMonth.client_id.in_(chunk)
                )
            )
            await self._session.execute(
                insert(SalesMonth).from_select(
                    _SALES_COLUMNS,
                    sales_from_deals(Deal.team_id == team_id, Deal.client_id.in_(chunk)),
                )
            )

    # --- rebuild and check --------------------------------------------------------------------

    async def rebuild(self, team_id: int | None = None) -> tuple[int, int]:
        """Both roll-ups from the raw rows, for one team or all; (sales rows, day rows)."""
        sales_where = [] if team_id is None else [Deal.team_id == team_id]
        days_where = [] if team_id is None else [Activity.team_id == team_id]
        await self._session.execute(
            delete(SalesMonth).where(*([] if team_id is None else [SalesMonth.team_id == team_id]))
        )
        await self._session.execute(
            delete(ActivityDay).where(
                *([] if team_id is None else [ActivityDay.team_id == team_id])
            )
        )
        await self._session.execute(
            insert(SalesMonth).from_select(_SALES_COLUMNS, sales_from_deals(*sales_where))
        )
        await self._session.execute(
            insert(ActivityDay).from_select(_DAY_COLUMNS, days_from_activities(*days_where))
        )
        return await self.counts(team_id)

    async def counts(self, team_id: int | None = None) -> tuple[int, int]:
        sales = await self._session.scalar(
            select(func.count()).select_from(_SALES).where(*_team(_S.team_id, team_id))
        )
        days = await self._session.scalar(
            select(func.count()).select_from(_DAYS).where(*_team(_D.team_id, team_id))
        )
        return int(sales or 0), int(days or 0)

    async def check(self, team_id: int | None = None) -> RollupCheck:
        """The roll-ups against a recomputation from the raw rows, row by row."""
        connection = await self._session.connection()
        kept_sales = {
            tuple(row[:4]): _normal(row[4:])
            for row in await connection.execute(
                select(
                    _S.client_id,
                    _S.manager_id,
                    _S.currency,
                    _S.month,
                    _S.team_id,
                    type_coerce(_S.revenue, BigInteger()),
                    type_coerce(_S.profit, BigInteger()),
                    type_coerce(_S.profit_base, BigInteger()),
                    _S.deals,
                    _S.first_on,
                    _S.last_on,
                ).where(*_team(_S.team_id, team_id))
            )
        }
        raw_sales = {
            tuple(row[:4]): _normal(row[4:])
            for row in await connection.execute(
                sales_from_deals(*([] if team_id is None else [Deal.team_id == team_id]))
            )
        }
        kept_days = {
            tuple(row[:3]): _normal(row[3:])
            for row in await connection.execute(
                select(_D.author_id, _D.kind, _D.day, _D.team_id, _D.count).where(
                    *_team(_D.team_id, team_id)
                )
            )
        }
        raw_days = {
            tuple(row[:3]): _normal(row[3:])
            for row in await connection.execute(
                days_from_activities(*([] if team_id is None else [Activity.team_id == team_id]))
            )
        }
        return RollupCheck(
            len(raw_sales),
            len(raw_days),
            _differences(kept_sales, raw_sales),
            _differences(kept_days, raw_days),
        )


def _team(column: Any, team_id: int | None) -> list[Any]:
    return [] if team_id is None else [column == team_id]


def _normal(values: Sequence[Any]) -> tuple[Any, ...]:
    # SQLite hands back MIN/MAX of a DATE as text and sums as int: compare plain values.
    return tuple(
        date.fromisoformat(v)
        if isinstance(v, str) and len(v) == 10 and v[4] == "-"
        else int(v)
        if isinstance(v, Decimal)
        else v
        for v in values
    )


def _differences(
    kept: Mapping[tuple[Any, ...], tuple[Any, ...]], raw: Mapping[tuple[Any, ...], tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    return sorted(
        (key for key in set(kept) | set(raw) if kept.get(key) != raw.get(key)),
        key=repr,
    )
