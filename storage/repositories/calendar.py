"""Private calendar feeds (`/calendar`): the member's feed row, found by its token's hash, and
the pending follow-ups a feed lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import MemberDTO, TeamDTO
from storage.models import CalendarFeed, Client, Followup, Member, Team
from storage.repositories.columns import columns_for

_FEEDS = CalendarFeed.__table__
_MEMBERS = Member.__table__
_TEAMS = Team.__table__
_MEMBER_COLUMNS = columns_for(_MEMBERS, MemberDTO)
_MEMBER_FIELDS = len(_MEMBER_COLUMNS)
_TEAM_COLUMNS = columns_for(_TEAMS, TeamDTO)


@dataclass(frozen=True, slots=True)
class FeedRow:
    member_id: int
    created_at: datetime
    revoked_at: datetime | None

    @property
    def on(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """A pending follow-up as a feed shows it: when, what for, and the client's name."""

    followup_id: int
    client_id: int
    kind: str
    due_at: datetime
    due_on: date
    date_only: bool
    reason: str | None
    # When the follow-up was planned: a moved next contact is a new row, planned later.
    created_at: datetime
    client_name: str


_EVENT_COLUMNS = (
    Followup.id,
    Followup.client_id,
    Followup.kind,
    Followup.due_at,
    Followup.due_on,
    Followup.date_only,
    Followup.reason,
    Followup.created_at,
    Client.name,
)


class CalendarFeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, member_id: int) -> FeedRow | None:
        row = (
            await self._session.execute(
                select(_FEEDS.c.member_id, _FEEDS.c.created_at, _FEEDS.c.revoked_at).where(
                    _FEEDS.c.member_id == member_id
                )
            )
        ).first()
        return FeedRow(*row) if row else None

    async def issue(self, team_id: int, member_id: int, token_hash: str, now: datetime) -> None:
        """The member's feed answers to this token (hash) from now on; any earlier one is dead.

        One row per member, replaced in place: the old hash is overwritten in the same
        statement that makes the new one valid."""
        changed = await self._session.execute(
            update(_FEEDS)
            .where(_FEEDS.c.member_id == member_id)
            .values(token_hash=token_hash, created_at=now, revoked_at=None, team_id=team_id)
            .returning(_FEEDS.c.id)
        )
        if changed.first() is None:
            await self._session.execute(
                insert(_FEEDS).values(
                    team_id=team_id,
                    member_id=member_id,
                    token_hash=token_hash,
                    created_at=now,
                    revoked_at=None,
                )
            )

    async def revoke(self, member_id: int, now: datetime) -> bool:
        """True if a feed was on and is now off; False if there was none to turn off."""
        changed = await self._session.execute(
            update(_FEEDS)
            .where(_FEEDS.c.member_id == member_id, _FEEDS.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(_FEEDS.c.id)
        )
        return changed.first() is not None

    async def owner_of(self, token_hash: str) -> tuple[MemberDTO, TeamDTO] | None:
        """The active member whose live feed has this token hash, with their team; None for an
        unknown or revoked token and for a member who was removed."""
        row = (
            await self._session.execute(
                select(*_MEMBER_COLUMNS, *_TEAM_COLUMNS)
                .join_from(_FEEDS, _MEMBERS, _MEMBERS.c.id == _FEEDS.c.member_id)
                .join(_TEAMS, _TEAMS.c.id == _MEMBERS.c.team_id)
                .where(
                    _FEEDS.c.token_hash == token_hash,
                    _FEEDS.c.revoked_at.is_(None),
                    _FEEDS.c.team_id == _MEMBERS.c.team_id,
                    _MEMBERS.c.is_active.is_(True),
                    _MEMBERS.c.removed_at.is_(None),
                )
            )
        ).first()
        if row is None:
            return None
        return MemberDTO(*row[:_MEMBER_FIELDS]), TeamDTO(*row[_MEMBER_FIELDS:])

    async def events(
        self, team_id: int, member_id: int, since: datetime, limit: int
    ) -> list[FeedEvent]:
        """The member's pending follow-ups due from `since` on, soonest first, of clients that
        are theirs now: a follow-up whose client went to someone else never shows (the
        transfer moves pending follow-ups with the client; this holds even if one was left)."""
        rows = await self._session.execute(
            select(*_EVENT_COLUMNS)
            .join_from(Followup, Client, Client.id == Followup.client_id)
            .where(
                Followup.team_id == team_id,
                Followup.manager_id == member_id,
                Followup.state == "pending",
                Followup.due_at >= since,
                # Not `Client.team_id` too (the follow-up's team is the client's): with it, a
                # PostgreSQL that has no statistics yet joins through the clients' (team,
                # manager) index instead of their primary key, once per follow-up.
                Client.manager_id == member_id,
                Client.erased_at.is_(None),
            )
            .order_by(Followup.due_at, Followup.id)
            .limit(limit)
        )
        return [FeedEvent(*row) for row in rows]
