from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import ClientDTO, ClientListItem, MatchCandidate
from storage.hot import HotStatement
from storage.models import Client, ClientContact, ClientPhone, ClientTag, Followup, Team
from storage.repositories.columns import columns_for
from storage.sqlite_driver import quick

# Changing any of these changes who a lookup may find: the team's roster version moves.
ROSTER_FIELDS = frozenset({"name", "contact_person", "search_text", "phone_digits", "manager_id"})

# Client rows are read and written with Core statements only (never loaded as ORM objects), so
# a Core update can never leave a stale copy in a session's identity map.
_CLIENTS = Client.__table__
_CLIENT_COLUMNS = columns_for(_CLIENTS, ClientDTO)
_CLIENT = HotStatement(
    select(*_CLIENT_COLUMNS).where(
        _CLIENTS.c.team_id == bindparam("team_id"), _CLIENTS.c.id == bindparam("client_id")
    )
)
_CLIENTS_BY_ID = select(*_CLIENT_COLUMNS).where(
    _CLIENTS.c.team_id == bindparam("team_id"),
    _CLIENTS.c.id.in_(bindparam("client_ids", expanding=True)),
)
# The SET clause comes from the parameters' keys (column names); the key names below are not.
_UPDATE = HotStatement(
    quick(
        update(_CLIENTS).where(
            _CLIENTS.c.team_id == bindparam("where_team_id"),
            _CLIENTS.c.id == bindparam("where_id"),
        )
    )
)
_TEAMS = Team.__table__
# A card's lists, in the order they were added.
_PHONES = ClientPhone.__table__
_CONTACTS = ClientContact.__table__
_TAGS = ClientTag.__table__
_CARD_PHONES = HotStatement(
    select(_PHONES.c.raw)
    .where(_PHONES.c.team_id == bindparam("team_id"), _PHONES.c.client_id == bindparam("client_id"))
    .order_by(_PHONES.c.id)
)
_CARD_CONTACTS = HotStatement(
    select(_CONTACTS.c.name, _CONTACTS.c.position)
    .where(
        _CONTACTS.c.team_id == bindparam("team_id"),
        _CONTACTS.c.client_id == bindparam("client_id"),
    )
    .order_by(_CONTACTS.c.id)
)
_CARD_TAGS = HotStatement(
    select(_TAGS.c.tag)
    .where(_TAGS.c.team_id == bindparam("team_id"), _TAGS.c.client_id == bindparam("client_id"))
    .order_by(_TAGS.c.tag)
)
_BUMP_ROSTER = HotStatement(
    quick(
        update(_TEAMS)
        .where(_TEAMS.c.id == bindparam("where_team_id"))
        .values(roster_version=_TEAMS.c.roster_version + 1)
    )
)


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _bump_roster(self, team_id: int) -> None:
        await _BUMP_ROSTER.rows(self._session, {"where_team_id": team_id})

    async def add(self, **values: Any) -> int:
        client = Client(**values)
        self._session.add(client)
        await self._session.flush()
        await self._bump_roster(client.team_id)
        return client.id

    async def get(self, team_id: int, client_id: int) -> ClientDTO | None:
        row = await _CLIENT.first(self._session, {"team_id": team_id, "client_id": client_id})
        return ClientDTO(*row) if row else None

    async def get_many(self, team_id: int, client_ids: Sequence[int]) -> list[ClientDTO]:
        """The clients with these ids, in the order given."""
        if not client_ids:
            return []
        rows = await self._session.execute(
            _CLIENTS_BY_ID, {"team_id": team_id, "client_ids": list(client_ids)}
        )
        by_id = {row.id: ClientDTO(*row) for row in rows}
        return [by_id[client_id] for client_id in client_ids if client_id in by_id]

    async def add_contact(
        self, team_id: int, client_id: int, name: str, position: str | None = None
    ) -> None:
        self._session.add(
            ClientContact(team_id=team_id, client_id=client_id, name=name, position=position)
        )
        await self._session.flush()

    async def update(self, team_id: int, client_id: int, **values: Any) -> None:
        await _UPDATE.rows(
            self._session, {"where_team_id": team_id, "where_id": client_id, **values}
        )
        if ROSTER_FIELDS.intersection(values):
            await self._bump_roster(team_id)

    async def candidates(self, team_id: int, manager_id: int | None) -> list[MatchCandidate]:
        """Everything fuzzy lookup needs, for the clients one member may see."""
        query = select(
            Client.id, Client.name, Client.search_text, Client.phone_digits, Client.manager_id
        ).where(Client.team_id == team_id, Client.erased_at.is_(None))
        if manager_id is not None:
            query = query.where(Client.manager_id == manager_id)
        # Column order matches MatchCandidate's fields: positional rows are the cheap path
        # for the few thousand rows a lookup may read.
        rows = await self._session.execute(query)
        return [MatchCandidate(*row) for row in rows]

    async def ids_with_phone(self, team_id: int, digits: Sequence[str]) -> list[int]:
        if not digits:
            return []
        rows = await self._session.scalars(
            select(ClientPhone.client_id)
            .where(ClientPhone.team_id == team_id, ClientPhone.digits.in_(list(digits)))
            .distinct()
        )
        return list(rows)

    async def ids_with_email(self, team_id: int, email: str) -> list[int]:
        rows = await self._session.scalars(
            select(Client.id).where(Client.team_id == team_id, func.lower(Client.email) == email)
        )
        return list(rows)

    async def add_phone(self, team_id: int, client_id: int, raw: str, digits: str) -> None:
        self._session.add(ClientPhone(team_id=team_id, client_id=client_id, raw=raw, digits=digits))
        await self._session.flush()

    async def phones(self, team_id: int, client_id: int) -> list[str]:
        rows = await _CARD_PHONES.rows(self._session, {"team_id": team_id, "client_id": client_id})
        return [raw for (raw,) in rows]

    async def contacts(self, team_id: int, client_id: int) -> list[tuple[str, str | None]]:
        rows = await _CARD_CONTACTS.rows(
            self._session, {"team_id": team_id, "client_id": client_id}
        )
        return [(name, position) for name, position in rows]

    async def set_tags(self, team_id: int, client_id: int, tags: Sequence[str]) -> None:
        await self._session.execute(
            delete(ClientTag).where(ClientTag.team_id == team_id, ClientTag.client_id == client_id)
        )
        for tag in dict.fromkeys(tags):
            self._session.add(ClientTag(team_id=team_id, client_id=client_id, tag=tag))
        await self._session.flush()

    async def tags(self, team_id: int, client_id: int) -> list[str]:
        rows = await _CARD_TAGS.rows(self._session, {"team_id": team_id, "client_id": client_id})
        return [tag for (tag,) in rows]

    async def list_page(
        self,
        team_id: int,
        manager_id: int | None,
        *,
        temperatures: Sequence[str] = (),
        stages: Sequence[str] = (),
        tag: str | None = None,
        overdue_before: date | None = None,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 25,
    ) -> tuple[list[ClientListItem], int]:
        """One page of a member's clients with their next contact, soonest first, and the total."""
        pending = and_(
            Followup.client_id == Client.id,
            Followup.state == "pending",
            Followup.kind != "campaign",
        )
        conditions = [Client.team_id == team_id, Client.erased_at.is_(None)]
        if manager_id is not None:
            conditions.append(Client.manager_id == manager_id)
        if temperatures:
            conditions.append(Client.temperature.in_(list(temperatures)))
        if stages:
            conditions.append(Client.stage.in_(list(stages)))
        if not include_archived:
            conditions.append(Client.archived_at.is_(None))
        if tag is not None:
            conditions.append(
                Client.id.in_(
                    select(ClientTag.client_id).where(
                        ClientTag.team_id == team_id, ClientTag.tag == tag
                    )
                )
            )
        if overdue_before is not None:
            conditions.append(Followup.due_on < overdue_before)

        base = select(Client).outerjoin(Followup, pending).where(*conditions)
        total = await self._session.scalar(select(func.count()).select_from(base.subquery()))
        rows = await self._session.execute(
            select(
                Client.id,
                Client.name,
                Client.temperature,
                Client.stage,
                Client.manager_id,
                Followup.due_at,
                Followup.date_only,
            )
            .outerjoin(Followup, pending)
            .where(*conditions)
            # Clients without a next contact go last: they need one, but dated work comes first.
            .order_by(Followup.due_at.is_(None), Followup.due_at, Client.name, Client.id)
            .offset(offset)
            .limit(limit)
        )
        items = [
            ClientListItem(
                id=row.id,
                name=row.name,
                temperature=row.temperature,
                stage=row.stage,
                manager_id=row.manager_id,
                next_due_at=row.due_at,
                next_date_only=row.date_only,
            )
            for row in rows
        ]
        return items, int(total or 0)
