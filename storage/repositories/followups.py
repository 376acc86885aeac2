from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import DueItem, FollowupDTO
from storage.enums import FollowupState
from storage.hot import HotStatement
from storage.models import Client, Followup
from storage.repositories.columns import columns_for
from storage.sqlite_driver import quick

CAMPAIGN = "campaign"

# Follow-ups are read and written with Core statements only (never loaded as ORM objects), so a
# Core update can never leave a stale copy in a session's identity map.
_FOLLOWUPS = Followup.__table__
_CLIENTS = Client.__table__
_COLUMNS = columns_for(_FOLLOWUPS, FollowupDTO)
_FIELDS = len(_COLUMNS)
_F = _FOLLOWUPS.c
_BY_ID = HotStatement(
    select(*_COLUMNS).where(_F.team_id == bindparam("team_id"), _F.id == bindparam("followup_id"))
)
# Bind names differ from column names: an UPDATE reserves those for its SET clause.
_CLIENT_PENDING = and_(
    _F.team_id == bindparam("where_team_id"),
    _F.client_id == bindparam("where_client_id"),
    _F.state == "pending",
)
# The next contact; campaign follow-ups come on top of it.
_NEXT_CONTACT = _F.kind != CAMPAIGN
_PENDING_FOR_CLIENT = HotStatement(select(*_COLUMNS).where(_CLIENT_PENDING, _NEXT_CONTACT))
_CLOSE = update(_FOLLOWUPS).values(state=bindparam("new_state"), closed_at=bindparam("now"))
# close_pending's three scopes: the next contact; with the campaign follow-ups due by a day; all.
_CLOSE_NEXT = HotStatement(quick(_CLOSE.where(_CLIENT_PENDING, _NEXT_CONTACT).returning(*_COLUMNS)))
_CLOSE_NEXT_AND_DUE = HotStatement(
    quick(
        _CLOSE.where(
            _CLIENT_PENDING, or_(_NEXT_CONTACT, _F.due_on <= bindparam("due_by"))
        ).returning(*_COLUMNS)
    )
)
_CLOSE_ALL = HotStatement(quick(_CLOSE.where(_CLIENT_PENDING).returning(*_COLUMNS)))
_CLOSE_ONE = HotStatement(
    quick(
        _CLOSE.where(
            _F.team_id == bindparam("where_team_id"),
            _F.id == bindparam("where_id"),
            _F.state == "pending",
        )
    )
)
_ADD = HotStatement(quick(insert(_FOLLOWUPS).returning(*_COLUMNS)))
_DUE_FOR_MANAGER = HotStatement(
    select(*_COLUMNS, _CLIENTS.c.name, _CLIENTS.c.temperature)
    .join_from(_FOLLOWUPS, _CLIENTS, _CLIENTS.c.id == _F.client_id)
    .where(
        _F.team_id == bindparam("team_id"),
        _F.manager_id == bindparam("manager_id"),
        _F.state == "pending",
        _F.due_at < bindparam("until"),
    )
    .order_by(_F.due_at, _F.id)
)


class FollowupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, team_id: int, followup_id: int) -> FollowupDTO | None:
        row = await _BY_ID.first(self._session, {"team_id": team_id, "followup_id": followup_id})
        return FollowupDTO(*row) if row else None

    async def pending_for_client(self, team_id: int, client_id: int) -> FollowupDTO | None:
        row = await _PENDING_FOR_CLIENT.first(
            self._session, {"where_team_id": team_id, "where_client_id": client_id}
        )
        return FollowupDTO(*row) if row else None

    async def close_pending(
        self,
        team_id: int,
        client_id: int,
        state: str,
        now: datetime,
        *,
        campaigns_due_by: date | None = None,
        all_campaigns: bool = False,
    ) -> FollowupDTO | None:
        """Close the client's next contact; campaign follow-ups too when due by the given day
        (a contact was made) or all of them (the client refused). Returns the next contact it
        closed, now closed, if there was one."""
        params: dict[str, object] = {
            "where_team_id": team_id,
            "where_client_id": client_id,
            "new_state": state,
            "now": now,
        }
        statement = _CLOSE_NEXT
        if all_campaigns:
            statement = _CLOSE_ALL
        elif campaigns_due_by is not None:
            statement = _CLOSE_NEXT_AND_DUE
            params["due_by"] = campaigns_due_by
        rows = await statement.rows(self._session, params)
        closed = [FollowupDTO(*row) for row in rows]
        return next((followup for followup in closed if followup.kind != CAMPAIGN), None)

    async def cancel_all(self, team_id: int, client_id: int, now: datetime) -> None:
        """A lost client (a refusal in the chat, the stage set in the card) is called by no
        one: every pending follow-up is cancelled, else it stays overdue in every digest,
        weekly report and calendar feed."""
        await self.close_pending(
            team_id, client_id, FollowupState.CANCELLED, now, all_campaigns=True
        )

    async def close_one(self, team_id: int, followup_id: int, state: str, now: datetime) -> None:
        await _CLOSE_ONE.rows(
            self._session,
            {"where_team_id": team_id, "where_id": followup_id, "new_state": state, "now": now},
        )

    async def add(
        self,
        *,
        team_id: int,
        client_id: int,
        manager_id: int,
        created_by: int | None,
        kind: str,
        due_at: datetime,
        due_on: date,
        date_only: bool,
        reason: str | None,
        now: datetime,
        campaign_id: int | None = None,
    ) -> FollowupDTO:
        [row] = await _ADD.rows(
            self._session,
            {
                "team_id": team_id,
                "client_id": client_id,
                "manager_id": manager_id,
                "created_by": created_by,
                "kind": kind,
                "due_at": due_at,
                "due_on": due_on,
                "date_only": date_only,
                "reason": reason,
                "campaign_id": campaign_id,
                "state": "pending",
                "created_at": now,
            },
        )
        return FollowupDTO(*row)

    async def due_for_manager(
        self, team_id: int, manager_id: int, until: datetime
    ) -> list[DueItem]:
        rows = await _DUE_FOR_MANAGER.rows(
            self._session, {"team_id": team_id, "manager_id": manager_id, "until": until}
        )
        return [
            DueItem(
                followup=FollowupDTO(*row[:_FIELDS]),
                client_name=row[_FIELDS],
                temperature=row[_FIELDS + 1],
            )
            for row in rows
        ]
