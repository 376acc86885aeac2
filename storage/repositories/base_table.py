"""The Mini App's client table: one filtered, sorted page of a team's base with the total, and
the history of one client. Core statements only, as the other client reads are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage.models import Activity, Client, ClientPhone, ClientTag, Deal, Followup, Member
from storage.types import Money

# What a page may be ordered by: the key the API takes -> descending?
SORTS = ("next", "-next", "last", "-last", "revenue", "-revenue", "name")


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
    ) -> tuple[list[TableRow], int]:
        """A page and the number of matching clients. `order_ids`: with no `sort`, rows come
        in this order (search relevance)."""
        pending = and_(
            Followup.client_id == Client.id,
            Followup.state == "pending",
            Followup.kind != "campaign",
        )
        conditions = self._conditions(team_id, flt)
        connection = await self._session.connection()
        counted = select(func.count()).select_from(Client)
        if flt.overdue_before is not None or flt.no_next:
            counted = counted.outerjoin(Followup, pending)
        total = (await connection.execute(counted.where(*conditions))).scalar_one()
        if total == 0 or offset >= total:
            return [], int(total)

        revenue = (
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
        amount = func.coalesce(revenue.c.revenue, literal(0, Money())).label("revenue")
        order: list[Any]
        if sort == "next" or (sort is None and not order_ids):
            # Clients without a next contact go last: dated work comes first.
            order = [Followup.due_at.is_(None), Followup.due_at, Client.name, Client.id]
        elif sort == "-next":
            order = [Followup.due_at.is_(None), Followup.due_at.desc(), Client.name, Client.id]
        elif sort == "last":
            # Never contacted first: they are the longest without a contact.
            order = [Client.last_contact_at.is_not(None), Client.last_contact_at, Client.id]
        elif sort == "-last":
            order = [Client.last_contact_at.is_(None), Client.last_contact_at.desc(), Client.id]
        elif sort == "revenue":
            order = [amount, Client.name, Client.id]
        elif sort == "-revenue":
            order = [amount.desc(), Client.name, Client.id]
        elif sort == "name":
            order = [Client.name, Client.id]
        else:
            rank = {client_id: n for n, client_id in enumerate(order_ids)}
            order = [case(rank, value=Client.id, else_=len(rank)), Client.id]
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
                amount,
            )
            .outerjoin(Followup, pending)
            .outerjoin(revenue, revenue.c.client_id == Client.id)
            .where(*conditions)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        )
        rows = (await connection.execute(query)).all()
        ids = [row.id for row in rows]
        phones = await self._first_phones(team_id, ids)
        tags = await self._tags(team_id, ids)
        items = [
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
                revenue=Decimal(row.revenue or 0),
                phone=phones.get(row.id),
                tags=tags.get(row.id, []),
            )
            for row in rows
        ]
        return items, int(total)

    def _conditions(self, team_id: int, flt: TableFilter) -> list[ColumnElement[bool]]:
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
            conditions.append(Followup.due_on < flt.overdue_before)
        if flt.no_next:
            conditions.append(Followup.id.is_(None))
        if flt.ids is not None:
            # Search results and class members: at most a few thousand ids.
            conditions.append(Client.id.in_(list(flt.ids)) if flt.ids else literal(False))
        return conditions

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
            .outerjoin(Deal, Deal.activity_id == Activity.id)
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

    async def delete_phones(self, team_id: int, client_id: int) -> None:
        await self._session.execute(
            delete(ClientPhone).where(
                ClientPhone.team_id == team_id, ClientPhone.client_id == client_id
            )
        )
