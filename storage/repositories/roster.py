"""Team management queries: who has how many clients, and moving clients between members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Client, Followup, Member, OutboxMessage, Team
from storage.repositories.columns import rowcount


@dataclass(frozen=True, slots=True)
class MemberLoad:
    clients: int = 0
    overdue: int = 0
    last_activity_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    client_ids: list[int]
    followup_ids: list[int]


class RosterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def loads(self, team_id: int, overdue_before: date) -> dict[int, MemberLoad]:
        """Per member: clients held (archived too: they are still theirs), pending follow-ups
        due before `overdue_before`, and the member's own last logged activity."""
        clients = dict(
            (
                await self._session.execute(
                    select(Client.manager_id, func.count())
                    .where(Client.team_id == team_id)
                    .group_by(Client.manager_id)
                )
            ).all()
        )
        overdue = dict(
            (
                await self._session.execute(
                    select(Followup.manager_id, func.count())
                    .where(
                        Followup.team_id == team_id,
                        Followup.state == "pending",
                        Followup.due_on < overdue_before,
                    )
                    .group_by(Followup.manager_id)
                )
            ).all()
        )
        # max() keeps the column's type: aware UTC datetimes on both dialects.
        last = dict(
            (
                await self._session.execute(
                    select(Activity.author_id, func.max(Activity.occurred_at))
                    .where(Activity.team_id == team_id)
                    .group_by(Activity.author_id)
                )
            ).all()
        )
        ids = set(clients) | set(overdue) | set(last)
        return {
            member_id: MemberLoad(
                int(clients.get(member_id, 0)),
                int(overdue.get(member_id, 0)),
                last.get(member_id),
            )
            for member_id in ids
        }

    async def client_ids(self, team_id: int, manager_id: int) -> list[int]:
        rows = await self._session.scalars(
            select(Client.id)
            .where(Client.team_id == team_id, Client.manager_id == manager_id)
            .order_by(Client.name, Client.id)
        )
        return list(rows)

    async def client_names(self, team_id: int, client_ids: Sequence[int]) -> list[str]:
        if not client_ids:
            return []
        rows = await self._session.scalars(
            select(Client.name)
            .where(Client.team_id == team_id, Client.id.in_(list(client_ids)))
            .order_by(Client.name, Client.id)
        )
        return list(rows)

    async def move_clients(
        self, team_id: int, client_ids: Sequence[int], source_id: int, target_id: int, now: datetime
    ) -> Moved:
        """Give `source_id`'s clients among `client_ids` to `target_id`, with every pending
        follow-up of theirs (campaign ones too: they belong to the client's manager).

        Deals and activities keep their manager and author: history stays with who made it.
        Pushes not yet delivered for the moved follow-ups are deleted, so the sweep plans them
        again for the new manager (a sent one stays as the record of what was delivered)."""
        ids = list(
            await self._session.scalars(
                select(Client.id).where(
                    Client.team_id == team_id,
                    Client.manager_id == source_id,
                    Client.id.in_(list(client_ids)),
                )
            )
        )
        if not ids:
            return Moved([], [])
        await self._session.execute(
            update(Client)
            .where(Client.team_id == team_id, Client.id.in_(ids))
            .values(manager_id=target_id, updated_at=now)
        )
        followup_ids = list(
            await self._session.scalars(
                select(Followup.id).where(
                    Followup.team_id == team_id,
                    Followup.client_id.in_(ids),
                    Followup.state == "pending",
                )
            )
        )
        if followup_ids:
            await self._session.execute(
                update(Followup).where(Followup.id.in_(followup_ids)).values(manager_id=target_id)
            )
            await self._session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.followup_id.in_(followup_ids),
                    OutboxMessage.state.in_(("pending", "dropped")),
                )
            )
        await self.bump_roster(team_id)
        return Moved(sorted(ids), followup_ids)

    async def bump_roster(self, team_id: int) -> None:
        """Cached lookup candidates of every instance go stale (see Team.roster_version)."""
        await self._session.execute(
            update(Team).where(Team.id == team_id).values(roster_version=Team.roster_version + 1)
        )

    async def deactivate(self, team_id: int, member_id: int, now: datetime) -> bool:
        """True for the one update that removed the member; a second press finds nothing."""
        result = await self._session.execute(
            update(Member)
            .where(Member.team_id == team_id, Member.id == member_id, Member.is_active.is_(True))
            .values(is_active=False, removed_at=now)
        )
        return rowcount(result) == 1

    async def active_owners(self, team_id: int) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.team_id == team_id, Member.role == "owner", Member.is_active.is_(True))
        )
        return int(count or 0)
