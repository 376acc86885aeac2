"""The Mini App's client table: one filtered, sorted page of a team's base with the total, and
the history of one client. Core statements only, as the other client reads are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from storage.models import (
    Activity,
    Client,
    ClientPhone,
    ClientTag,
    Deal,
    Followup,
    Member,
    SalesMonth,
)
from storage.types import Money

# What a page may be ordered by (the API's `sort`).
SORTS = ("next", "-next", "last", "-last", "revenue", "-revenue", "name")
# A filtered table is counted up to this many clients ("5,000+"): nobody pages further, and
# counting a large filtered base exactly costs more than the page itself.
COUNT_CAP = 5000


@dataclass(frozen=True, slots=True)
class TableFilter:
    """Every key optional; `ids` (search results, a class) narrows to those clients."""

    manager_id: int | None = None
    temperatures: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    tag: str | None = None
    segment: str | None = None
    overdue_before: date | None = None
    no_next: bool = False
    archived: bool = False
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class RevenueWindow:
    """Deals of the team's currency closed in [start, end]: the revenue a page shows/sorts by."""

    currency: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class TableRow:
    id: int
    name: str
    contact_person: str | None
    manager_id: int
    temperature: str
    stage: str
    segment: str | None
    last_contact_at: datetime | None
    next_due_at: datetime | None
    next_due_on: date | None
    next_date_only: bool | None
    next_reason: str | None
    revenue: Decimal
    phone: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: int
    kind: str
    outcome: str | None
    text: str | None
    occurred_at: datetime
    author_id: int
    author_name: str
    amount: Decimal | None
    margin: Decimal | None


class BaseTableRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(
        self,
        team_id: int,
        flt: TableFilter,
        window: RevenueWindow,
        *,
        sort: str | None,
        order_ids: Sequence[int] = (),
        offset: int,
        limit: int,
    ) -> tuple[list[TableRow], int, bool]:
        """A page, the number of matching clients, and whether that number is exact (a filtered
        count stops at COUNT_CAP). `order_ids`: with no `sort`, rows come in this order (search
        relevance).

        Each order is read the way an index gives it, LIMIT rows at a time, never by sorting the
        whole base: by next contact, the clients with one (the team's pending follow-ups by
        date) and then those without (by name); by revenue, the buyers of the window (a month's
        deals, summed) and the rest (by name)."""
        connection = await self._session.connection()
        where = self._conditions(team_id, flt)
        total, exact = await self._count(connection, where, flt)
        if total == 0 or offset >= total:
            return [], total, exact
        ids: list[int]
        if sort is None and order_ids:
            rank = {client_id: n for n, client_id in enumerate(order_ids)}
            query = (
                select(Client.id)
                .where(*where)
                .order_by(case(rank, value=Client.id, else_=len(rank)), Client.id)
            )
            ids = await self._ids(connection, query, offset, limit)
        elif sort == "name":
            query = select(Client.id).where(*where).order_by(Client.name, Client.id)
            ids = await self._ids(connection, query, offset, limit)
        elif sort in ("last", "-last"):
            # Never contacted counts as longest ago.
            column = Client.last_contact_at
            order = (
                [column.asc().nulls_first(), Client.id]
                if sort == "last"
                else [column.desc().nulls_last(), Client.id.desc()]
            )
            ids = await self._ids(
                connection, select(Client.id).where(*where).order_by(*order), offset, limit
            )
        elif sort in ("revenue", "-revenue"):
            buyers = self._buyers(team_id, window)
            bought = (
                select(Client.id)
                .join(buyers, buyers.c.client_id == Client.id)
                .where(*where)
                .order_by(
                    buyers.c.revenue.desc() if sort == "-revenue" else buyers.c.revenue,
                    Client.name,
                    Client.id,
                )
            )
            others = (
                select(Client.id)
                .where(*where, Client.id.not_in(select(buyers.c.client_id)))
                .order_by(Client.name, Client.id)
            )
            parts = (bought, others) if sort == "-revenue" else (others, bought)
            ids = await self._two_parts(connection, *parts, offset, limit)
        else:  # by next contact: the default
            descending = sort == "-next"
            # Joined to the next contact itself: "overdue" is a condition on it, not an EXISTS.
            joined = self._conditions(team_id, replace(flt, overdue_before=None))
            planned = (
                select(Client.id)
                .join(Followup, self._pending(Followup))
                .where(*joined)
                .order_by(
                    Followup.due_at.desc() if descending else Followup.due_at,
                    Followup.client_id.desc() if descending else Followup.client_id,
                )
            )
            if flt.overdue_before is not None:
                planned = planned.where(Followup.due_on < flt.overdue_before)
            unplanned = (
                select(Client.id).where(*where, ~self._has_next()).order_by(Client.name, Client.id)
            )
            if flt.no_next:
                ids = await self._ids(connection, unplanned, offset, limit)
            elif flt.overdue_before is not None:
                ids = await self._ids(connection, planned, offset, limit)
            else:
                ids = await self._two_parts(connection, planned, unplanned, offset, limit)
        return await self._rows(team_id, window, ids), total, exact

    @staticmethod
    def _pending(followup: Any) -> ColumnElement[bool]:
        return and_(
            followup.client_id == Client.id,
            followup.state == "pending",
            followup.kind != "campaign",
        )

    def _has_next(self) -> Any:
        return select(Followup.id).where(self._pending(Followup)).exists()

    @staticmethod
    def _buyers(team_id: int, window: RevenueWindow) -> Any:
        return (
            select(Deal.client_id, func.sum(Deal.amount, type_=Money()).label("revenue"))
            .where(
                Deal.team_id == team_id,
                Deal.currency == window.currency,
                Deal.closed_on >= window.start,
                Deal.closed_on <= window.end,
            )
            .group_by(Deal.client_id)
            .subquery()
        )

    @staticmethod
    async def _ids(connection: Any, query: Any, offset: int, limit: int) -> list[int]:
        return list((await connection.execute(query.offset(offset).limit(limit))).scalars())

    async def _two_parts(
        self, connection: Any, first: Any, second: Any, offset: int, limit: int
    ) -> list[int]:
        """`first`'s rows, then `second`'s. How many `first` has is counted only when the page
        starts past its end (a deep page): otherwise its short page says where it ends."""
        ids = await self._ids(connection, first, offset, limit)
        if len(ids) == limit:
            return ids
        if ids or offset == 0:
            skip = 0
        else:
            counted = select(func.count()).select_from(first.order_by(None).subquery())
            skip = offset - int((await connection.execute(counted)).scalar_one())
        return ids + await self._ids(connection, second, max(skip, 0), limit - len(ids))

    async def _count(
        self, connection: Any, where: list[ColumnElement[bool]], flt: TableFilter
    ) -> tuple[int, bool]:
        """The base of a member (or the team) is counted exactly; a filtered one up to
        COUNT_CAP, which is as far as anybody pages."""
        plain = not (
            flt.temperatures
            or flt.stages
            or flt.tag
            or flt.segment
            or flt.overdue_before
            or flt.no_next
            or flt.archived
            or flt.ids is not None
        )
        if plain:
            query = select(func.count()).select_from(Client).where(*where)
            return int((await connection.execute(query)).scalar_one()), True
        capped = select(Client.id).where(*where).limit(COUNT_CAP + 1).subquery()
        found = int(
            (await connection.execute(select(func.count()).select_from(capped))).scalar_one()
        )
        return min(found, COUNT_CAP), found <= COUNT_CAP

    async def _rows(self, team_id: int, window: RevenueWindow, ids: list[int]) -> list[TableRow]:
        """The page's clients with their next contact, revenue, first phone and tags."""
        if not ids:
            return []
        query = (
            select(
                Client.id,
                Client.name,
                Client.contact_person,
                Client.manager_id,
                Client.temperature,
                Client.stage,
                Client.segment,
                Client.last_contact_at,
                Followup.due_at,
                Followup.due_on,
                Followup.date_only,
                Followup.reason,
            )
            .outerjoin(Followup, self._pending(Followup))
            .where(Client.team_id == team_id, Client.id.in_(ids))
        )
        rows = {row.id: row for row in await self._session.execute(query)}
        revenue = await self._revenue(team_id, window, ids)
        phones = await self._first_phones(team_id, ids)
        tags = await self._tags(team_id, ids)
        return [
            TableRow(
                id=row.id,
                name=row.name,
                contact_person=row.contact_person,
                manager_id=row.manager_id,
                temperature=row.temperature,
                stage=row.stage,
                segment=row.segment,
                last_contact_at=row.last_contact_at,
                next_due_at=row.due_at,
                next_due_on=row.due_on,
                next_date_only=row.date_only,
                next_reason=row.reason,
                revenue=revenue.get(row.id, Decimal(0)),
                phone=phones.get(row.id),
                tags=tags.get(row.id, []),
            )
            for row in (rows[client_id] for client_id in ids if client_id in rows)
        ]

    def _conditions(self, team_id: int, flt: TableFilter) -> list[ColumnElement[bool]]:
        """Conditions on the client row (a next contact's are EXISTS, so any order joins)."""
        conditions: list[ColumnElement[bool]] = [
            Client.team_id == team_id,
            Client.erased_at.is_(None),
        ]
        if flt.manager_id is not None:
            conditions.append(Client.manager_id == flt.manager_id)
        if flt.temperatures:
            conditions.append(Client.temperature.in_(list(flt.temperatures)))
        if flt.stages:
            conditions.append(Client.stage.in_(list(flt.stages)))
        elif not flt.archived:
            # Lost leads are archived: out of the base unless asked for.
            conditions.append(Client.archived_at.is_(None))
        if flt.segment is not None:
            conditions.append(Client.segment == flt.segment)
        if flt.tag is not None:
            conditions.append(
                Client.id.in_(
                    select(ClientTag.client_id).where(
                        ClientTag.team_id == team_id, ClientTag.tag == flt.tag
                    )
                )
            )
        if flt.overdue_before is not None:
            overdue = aliased(Followup)
            conditions.append(
                select(overdue.id)
                .where(self._pending(overdue), overdue.due_on < flt.overdue_before)
                .exists()
            )
        if flt.no_next:
            conditions.append(~self._has_next())
        if flt.ids is not None:
            conditions.append(self._id_in(flt.ids) if flt.ids else literal(False))
        return conditions

    def _id_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        """`Client.id IN ids` as one parameter: a class filter holds up to every client of the
        team, and one bind parameter per id passes asyncpg's limit of 32,767 arguments (and
        SQLite's of 32,766 variables) on a large team."""
        if self._session.get_bind().dialect.name == "postgresql":
            return Client.id == any_(bindparam("client_ids", list(ids), type_=ARRAY(Integer)))
        listed = func.json_each(bindparam("client_ids", json.dumps(list(ids)), type_=String))
        return Client.id.in_(select(listed.table_valued("value").c.value))

    async def _revenue(
        self, team_id: int, window: RevenueWindow, ids: Sequence[int]
    ) -> dict[int, Decimal]:
        """The page's clients' revenue in the window (by the client's deals index)."""
        rows = await self._session.execute(
            select(Deal.client_id, func.sum(Deal.amount, type_=Money()))
            .where(
                Deal.team_id == team_id,
                Deal.client_id.in_(list(ids)),
                Deal.currency == window.currency,
                Deal.closed_on >= window.start,
                Deal.closed_on <= window.end,
            )
            .group_by(Deal.client_id)
        )
        return {client_id: Decimal(total or 0) for client_id, total in rows}

    async def _first_phones(self, team_id: int, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        first = (
            select(func.min(ClientPhone.id))
            .where(ClientPhone.team_id == team_id, ClientPhone.client_id.in_(list(ids)))
            .group_by(ClientPhone.client_id)
        )
        rows = await self._session.execute(
            select(ClientPhone.client_id, ClientPhone.raw).where(ClientPhone.id.in_(first))
        )
        return {client_id: raw for client_id, raw in rows}

    async def _tags(self, team_id: int, ids: Sequence[int]) -> dict[int, list[str]]:
        if not ids:
            return {}
        rows = await self._session.execute(
            select(ClientTag.client_id, ClientTag.tag)
            .where(ClientTag.team_id == team_id, ClientTag.client_id.in_(list(ids)))
            .order_by(ClientTag.tag)
        )
        out: dict[int, list[str]] = {}
        for client_id, tag in rows:
            out.setdefault(client_id, []).append(tag)
        return out

    async def tags(self, team_id: int, manager_id: int | None) -> list[str]:
        query = select(ClientTag.tag).where(ClientTag.team_id == team_id).distinct()
        if manager_id is not None:
            query = query.join(Client, Client.id == ClientTag.client_id).where(
                Client.manager_id == manager_id
            )
        return sorted(await self._session.scalars(query))

    async def segments(self, team_id: int, manager_id: int | None) -> list[str]:
        query = (
            select(Client.segment)
            .where(Client.team_id == team_id, Client.segment.is_not(None), Client.segment != "")
            .distinct()
        )
        if manager_id is not None:
            query = query.where(Client.manager_id == manager_id)
        return sorted(await self._session.scalars(query))

    async def history(
        self, team_id: int, client_id: int, *, before: int | None, limit: int
    ) -> list[HistoryRow]:
        """Calls, notes, meetings, proposals and deals of a client, newest first; a deal's sum
        and margin come with the activity that recorded it."""
        conditions = [Activity.team_id == team_id, Activity.client_id == client_id]
        if before is not None:
            conditions.append(Activity.id < before)
        rows = await self._session.execute(
            select(
                Activity.id,
                Activity.kind,
                Activity.outcome,
                Activity.text,
                Activity.occurred_at,
                Activity.author_id,
                Member.full_name,
                Deal.amount,
                Deal.margin_percent,
            )
            .join(Member, Member.id == Activity.author_id)
            # By the client's deals (indexed by client), then the activity that recorded one:
            # deals have no index of their own on activity_id.
            .outerjoin(
                Deal, and_(Deal.client_id == Activity.client_id, Deal.activity_id == Activity.id)
            )
            .where(*conditions)
            .order_by(Activity.id.desc())
            .limit(limit)
        )
        return [HistoryRow(*row) for row in rows]

    async def deal_totals(self, team_id: int, client_id: int, currency: str) -> tuple[int, Decimal]:
        count, total = (
            await self._session.execute(
                select(func.count(), func.sum(Deal.amount, type_=Money())).where(
                    Deal.team_id == team_id,
                    Deal.client_id == client_id,
                    Deal.currency == currency,
                )
            )
        ).one()
        return int(count), Decimal(total or 0)

    # -- what the ABC-XYZ classes of a month read (bot/services/class_cache.py) -----------------

    def _buyers_of(self, team_id: int, currency: str, month: int) -> Any:
        return select(SalesMonth.client_id).where(
            SalesMonth.team_id == team_id,
            SalesMonth.currency == currency,
            SalesMonth.month == month,
        )

    async def buyers_monthly(
        self, team_id: int, currency: str, first: int, last: int
    ) -> dict[int, dict[int, int]]:
        """{client: {month number: revenue in minor units}} over months [first, last] for the
        clients who bought in month `last`, from the `sales_months` roll-up, summed over the
        closing managers. One statement with the buyers as a subquery: no list of ids to bind
        (PostgreSQL's generic plan for a 500-id list read the whole roll-up each time)."""
        minor = func.sum(type_coerce(SalesMonth.revenue, BigInteger()), type_=BigInteger())
        connection = await self._session.connection()
        rows = await connection.execute(
            select(SalesMonth.client_id, SalesMonth.month, minor)
            .where(
                SalesMonth.team_id == team_id,
                SalesMonth.currency == currency,
                SalesMonth.month >= first,
                SalesMonth.month <= last,
                SalesMonth.client_id.in_(self._buyers_of(team_id, currency, last)),
            )
            .group_by(SalesMonth.client_id, SalesMonth.month)
        )
        out: dict[int, dict[int, int]] = {}
        for client_id, month, total in rows:
            out.setdefault(client_id, {})[int(month)] = int(total or 0)
        return out

    async def buyers_first_deals(
        self, team_id: int, currency: str, month: int, end: date
    ) -> dict[int, date]:
        """The first deal (any currency, up to `end`) of each client who bought in `month`:
        when they became a buyer (by the deals' (client_id, closed_on) index)."""
        connection = await self._session.connection()
        rows = await connection.execute(
            select(Deal.client_id, func.min(Deal.closed_on))
            .where(
                Deal.client_id.in_(self._buyers_of(team_id, currency, month)),
                Deal.closed_on <= end,
            )
            .group_by(Deal.client_id)
        )
        # SQLite hands back MIN of a DATE column as text: the aggregate loses the column type.
        return {
            client_id: first if isinstance(first, date) else date.fromisoformat(first)
            for client_id, first in rows
        }

    async def delete_phones(self, team_id: int, client_id: int) -> None:
        await self._session.execute(
            delete(ClientPhone).where(
                ClientPhone.team_id == team_id, ClientPhone.client_id == client_id
            )
        )
