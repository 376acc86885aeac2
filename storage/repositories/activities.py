from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import ActivityDTO
from storage.hot import HotStatement
from storage.models import Activity, Deal
from storage.repositories.columns import columns_for
from storage.repositories.rollups import COUNTED_KINDS, RollupRepository, days_upsert
from storage.sqlite_driver import quick

_ACTIVITIES = Activity.__table__
_DEALS = Deal.__table__
_A = _ACTIVITIES.c
_ADD = HotStatement(quick(insert(_ACTIVITIES).returning(_A.id)))
_ADD_DEAL = HotStatement(quick(insert(_DEALS).returning(_DEALS.c.id)))
_ADD_KEYS = ("team_id", "client_id", "author_id", "kind", "outcome", "text", "occurred_at")


def _add_counted() -> HotStatement:
    """PostgreSQL: a counted activity and its day bucket in one statement (the upsert as a
    data-modifying CTE, run once and in the same snapshot): a round trip less per call logged.
    SQLite runs the two statements; it has no round trips to save."""
    added = (
        postgresql.insert(_ACTIVITIES)
        .values({key: bindparam(key) for key in _ADD_KEYS})
        .returning(_A.id)
        .cte("added")
    )
    counted = days_upsert(
        postgresql,
        author_id=bindparam("author_id"),
        kind=bindparam("kind"),
        day=bindparam("day"),
        team_id=bindparam("team_id"),
        count=1,
    ).cte("counted")
    return HotStatement(select(added.c.id).add_cte(counted))


_ADD_COUNTED = _add_counted()
# One statement per number of kinds (a card asks for one and for four): an expanding IN list
# would take it off the hot path (storage/hot.py).
_RECENT: dict[int, HotStatement] = {}


def _recent(count: int) -> HotStatement:
    statement = _RECENT.get(count)
    if statement is None:
        statement = HotStatement(
            select(*columns_for(_ACTIVITIES, ActivityDTO))
            .where(
                _A.team_id == bindparam("team_id"),
                _A.client_id == bindparam("client_id"),
                or_(*(_A.kind == bindparam(f"kind_{n}") for n in range(count))),
            )
            .order_by(_A.occurred_at.desc(), _A.id.desc())
            .limit(bindparam("limit"))
        )
        _RECENT[count] = statement
    return statement


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The roll-ups /portfolio reads move in the same transaction as the rows they sum.
        self._rollups = RollupRepository(session)

    async def add(
        self,
        *,
        team_id: int,
        client_id: int,
        author_id: int,
        kind: str,
        outcome: str | None,
        text: str | None,
        occurred_at: datetime,
    ) -> int:
        values = {
            "team_id": team_id,
            "client_id": client_id,
            "author_id": author_id,
            "kind": kind,
            "outcome": outcome,
            "text": text,
            "occurred_at": occurred_at,
        }
        if kind in COUNTED_KINDS and self._session.get_bind().dialect.name == "postgresql":
            # The same bucket RollupRepository.activity_added counts in.
            values["day"] = occurred_at.astimezone(UTC).date()
            [(activity_id,)] = await _ADD_COUNTED.rows(self._session, values)
            return int(activity_id)
        [(activity_id,)] = await _ADD.rows(self._session, values)
        await self._rollups.activity_added(
            team_id=team_id, author_id=author_id, kind=kind, occurred_at=occurred_at
        )
        return int(activity_id)

    async def recent(
        self, team_id: int, client_id: int, kinds: Sequence[str], limit: int
    ) -> list[ActivityDTO]:
        if not kinds:
            return []
        rows = await _recent(len(kinds)).rows(
            self._session,
            {
                "team_id": team_id,
                "client_id": client_id,
                "limit": limit,
                **{f"kind_{n}": kind for n, kind in enumerate(kinds)},
            },
        )
        return [ActivityDTO(*row) for row in rows]

    async def add_deal(
        self,
        *,
        team_id: int,
        client_id: int,
        manager_id: int,
        activity_id: int | None,
        amount: Decimal,
        margin_percent: Decimal | None,
        profit: Decimal | None,
        currency: str,
        closed_on: date,
        now: datetime,
    ) -> int:
        [(deal_id,)] = await _ADD_DEAL.rows(
            self._session,
            {
                "team_id": team_id,
                "client_id": client_id,
                "manager_id": manager_id,
                "activity_id": activity_id,
                "amount": amount,
                "margin_percent": margin_percent,
                "profit": profit,
                "currency": currency,
                "closed_on": closed_on,
                "created_at": now,
            },
        )
        await self._rollups.deal_added(
            team_id=team_id,
            client_id=client_id,
            manager_id=manager_id,
            currency=currency,
            closed_on=closed_on,
            amount=amount,
            profit=profit,
        )
        return int(deal_id)
