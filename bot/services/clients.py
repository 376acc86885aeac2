"""The client base as a member sees it: add, look up, open the card, list, change temperature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.errors import ErrorCode
from bot.fields import max_length
from bot.parsing.dates import When
from bot.parsing.names import clean_name
from bot.parsing.new_client import NewClientInput
from bot.services import matching
from bot.services.access import ensure_visible, manager_scope
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.matching import Resolution
from bot.services.scheduling import Due, due_from_when
from bot.services.watch import note_viewing
from storage.dto import (
    ActivityDTO,
    ClientDTO,
    ClientListItem,
    FollowupDTO,
    MemberDTO,
)
from storage.enums import OPEN_LEAD_STAGES, ActivityKind, Consent, Stage, Temperature


@dataclass(frozen=True, slots=True)
class AddedClient:
    client: ClientDTO
    followup: FollowupDTO


@dataclass(frozen=True, slots=True)
class ClientCard:
    client: ClientDTO
    manager_name: str
    phones: list[str]
    contacts: list[tuple[str, str | None]]
    tags: list[str]
    next_followup: FollowupDTO | None
    notes: list[ActivityDTO]
    contacts_log: list[ActivityDTO]


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """What `/list` asked for; an empty filter lists every visible active client."""

    temperatures: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    tag: str | None = None
    overdue: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ClientPage:
    items: list[ClientListItem]
    total: int
    offset: int
    manager_names: dict[int, str]


def new_client_row(
    *,
    team_id: int,
    manager_id: int,
    name: str,
    now: datetime,
    digits: Sequence[str] = (),
    extra_contacts: Sequence[str] = (),
    temperature: str | None = None,
    consent: str = Consent.UNKNOWN,
    contact_person: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The columns of a new client as `/add` and `/import` both write them: the lookup text and
    phone digits fuzzy search needs, a new lead, warm unless said otherwise."""
    return {
        "team_id": team_id,
        "manager_id": manager_id,
        "name": name,
        "contact_person": contact_person,
        "consent": consent,
        "temperature": temperature or Temperature.WARM,
        "stage": Stage.NEW,
        "stage_changed_at": now,
        "search_text": matching.search_text([name, contact_person, *extra_contacts]),
        "phone_digits": " ".join(digits),
        "created_at": now,
        "updated_at": now,
        **fields,
    }


def length_exceeded(field: str, value: str | None) -> int | None:
    """The field's limit (bot/fields.py) when `value` is longer than it, else None."""
    limit = max_length(field)
    return limit if value and limit and len(value) > limit else None


def first_contact_due(
    ctx: ServiceContext, actor: Actor, manager: MemberDTO | None = None, day: date | None = None
) -> Due:
    """A new client with no next contact is a forgotten client: the first call is due today
    (or on the day given), when the manager's working day starts."""
    when = When(day=day or ctx.local_now(actor).date(), at=None)
    return due_from_when(when, actor, manager)


class ClientService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    # -- lookup -----------------------------------------------------------------------------

    async def _candidates(self, actor: Actor) -> matching.Candidates:
        key = (actor.team.id, manager_scope(actor))
        version = actor.team.roster_version
        cached = self._ctx.candidates.get(key, version)
        if cached is None:
            cached = matching.prepare(await self._ctx.uow.clients.candidates(*key))
            self._ctx.candidates.put(key, version, cached)
        return cached

    async def resolve(self, actor: Actor, query: str) -> Resolution:
        limits = self._ctx.limits
        return matching.resolve(
            clean_name(query),
            await self._candidates(actor),
            min_score=limits.match_min_score,
            limit=limits.pick_candidates,
        )

    async def resolve_leading(self, actor: Actor, words: list[str]) -> tuple[Resolution, int]:
        limits = self._ctx.limits
        return matching.resolve_prefix(
            [clean_name(word) for word in words],
            await self._candidates(actor),
            min_score=limits.match_min_score,
            limit=limits.pick_candidates,
        )

    async def get_visible(self, actor: Actor, client_id: int) -> ClientDTO:
        return ensure_visible(actor, await self._ctx.uow.clients.get(actor.team.id, client_id))

    async def find(self, actor: Actor, query: str) -> list[ClientDTO]:
        limits = self._ctx.limits
        matches = matching.rank(
            clean_name(query),
            await self._candidates(actor),
            min_score=limits.match_min_score,
            limit=limits.list_page_size,
        )
        ids = [m.candidate.id for m in matches]
        await self._ctx.uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="search",
            now=self._ctx.now(),
            # The query is personal data too: /forget blanks it when erasing any client it
            # found, recorded here because a typo or an inflected form does not spell the name.
            details={"query": query[:100], "found": len(matches)},
            found=ids,
        )
        return await self._ctx.uow.clients.get_many(actor.team.id, ids)

    async def search_ids(self, actor: Actor, query: str, *, limit: int, audit: bool) -> list[int]:
        """Ids of the visible clients `query` finds, best first, as `/find` finds them (name,
        contact, phone digits, either alphabet); `audit`: recorded as `/find` records it."""
        matches = matching.rank(
            clean_name(query),
            await self._candidates(actor),
            min_score=self._ctx.limits.match_min_score,
            limit=limit,
        )
        ids = [m.candidate.id for m in matches]
        if audit:
            await self._ctx.uow.audit.add(
                team_id=actor.team.id,
                actor_id=actor.member.id,
                action="search",
                now=self._ctx.now(),
                details={"query": query[:100], "found": len(ids)},
                found=ids,
            )
        return ids

    # -- changes ----------------------------------------------------------------------------

    async def likely_duplicates(self, actor: Actor, data: NewClientInput) -> list[ClientDTO]:
        """Clients the member sees that the new one probably is: the same phone or email, or
        the same name in either alphabet ("Иванов Пётр" and "Ivanov Petr")."""
        uow = self._ctx.uow
        digits = [matching.phone_digits(raw) for raw in data.phones]
        ids = set(await uow.clients.ids_with_phone(actor.team.id, digits)) if digits else set()
        if data.email:
            ids.update(await uow.clients.ids_with_email(actor.team.id, data.email.casefold()))
        key = matching.normalize(clean_name(data.name))
        if key:
            prepared = await self._candidates(actor)
            ids.update(prepared.items[i].id for i in prepared.exact.get(key, ()))
        clients = await uow.clients.get_many(actor.team.id, sorted(ids))
        return [client for client in clients if self._visible(actor, client)]

    @staticmethod
    def _visible(actor: Actor, client: ClientDTO) -> bool:
        try:
            ensure_visible(actor, client)
        except DomainError:
            return False
        return True

    async def add(
        self, actor: Actor, data: NewClientInput, *, allow_duplicate: bool = False
    ) -> AddedClient:
        """A new client. `allow_duplicate`: the member saw the likely duplicates and chose to
        add anyway; a phone or email of a client they cannot see is still refused."""
        uow, now, limits = self._ctx.uow, self._ctx.now(), self._ctx.limits
        name = data.name.strip()
        if not name:
            raise DomainError(ErrorCode.NAME_MISSING)
        if len(name) > limits.max_name_chars:
            raise DomainError(ErrorCode.NAME_TOO_LONG, limit=limits.max_name_chars)
        self._check_lengths(data)
        digits = [matching.phone_digits(raw) for raw in data.phones]
        # Team-wide, not only the member's own: two managers must not work one client unknowingly.
        if not await self._may_share(
            actor, await uow.clients.ids_with_phone(actor.team.id, digits), allow_duplicate
        ):
            raise DomainError(ErrorCode.DUPLICATE_PHONE)
        if data.email and not await self._may_share(
            actor,
            await uow.clients.ids_with_email(actor.team.id, data.email.casefold()),
            allow_duplicate,
        ):
            raise DomainError(ErrorCode.DUPLICATE_EMAIL)
        client_id = await uow.clients.add(
            **new_client_row(
                team_id=actor.team.id,
                manager_id=actor.member.id,
                name=name,
                now=now,
                digits=digits,
                extra_contacts=data.extra_contacts,
                **data.columns,
            )
        )
        for raw, digit in zip(data.phones, digits, strict=True):
            await uow.clients.add_phone(actor.team.id, client_id, raw, digit)
        for contact in data.extra_contacts:
            await uow.clients.add_contact(actor.team.id, client_id, contact)
        if data.tags:
            await uow.clients.set_tags(actor.team.id, client_id, data.tags)
        if data.note:
            await uow.activities.add(
                team_id=actor.team.id,
                client_id=client_id,
                author_id=actor.member.id,
                kind=ActivityKind.NOTE,
                outcome=None,
                text=data.note[: limits.max_note_chars],
                occurred_at=now,
            )
        due = first_contact_due(self._ctx, actor)
        followup = await uow.followups.add(
            team_id=actor.team.id,
            client_id=client_id,
            manager_id=actor.member.id,
            created_by=actor.member.id,
            kind="call",
            due_at=due.at,
            due_on=due.on,
            date_only=True,
            reason=None,
            now=now,
        )
        client = await uow.clients.get(actor.team.id, client_id)
        assert client is not None
        return AddedClient(client, followup)

    async def _may_share(self, actor: Actor, ids: Sequence[int], allow: bool) -> bool:
        if not ids:
            return True
        if not allow:
            return False
        clients = await self._ctx.uow.clients.get_many(actor.team.id, list(ids))
        return len(clients) == len(ids) and all(self._visible(actor, c) for c in clients)

    @staticmethod
    def _check_lengths(data: NewClientInput) -> None:
        for field, value in data.columns.items():
            if not isinstance(value, str):
                continue
            limit = length_exceeded(field, value)
            if limit is not None:
                raise DomainError(ErrorCode.FIELD_TOO_LONG, field=field, limit=limit)
        for contact in data.extra_contacts:
            limit = length_exceeded("contact_person", contact)
            if limit is not None:
                raise DomainError(ErrorCode.FIELD_TOO_LONG, field="contact_person", limit=limit)
        for raw in data.phones:
            if length_exceeded("phone", raw) is not None:
                raise DomainError(ErrorCode.PHONE_INVALID, value=raw)

    async def set_temperature(
        self, actor: Actor, client_id: int, temperature: Temperature
    ) -> ClientDTO:
        client = await self.get_visible(actor, client_id)
        await self._ctx.uow.clients.update(
            actor.team.id, client.id, temperature=temperature, updated_at=self._ctx.now()
        )
        updated = await self._ctx.uow.clients.get(actor.team.id, client.id)
        assert updated is not None
        return updated

    # -- views ------------------------------------------------------------------------------

    async def card(self, actor: Actor, client_id: int) -> ClientCard:
        uow, limits = self._ctx.uow, self._ctx.limits
        client = await self.get_visible(actor, client_id)
        names = await uow.members.names(actor.team.id, {client.manager_id})
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="card_view",
            client_id=client.id,
            now=self._ctx.now(),
        )
        await note_viewing(self._ctx, actor)
        return ClientCard(
            client=client,
            manager_name=names.get(client.manager_id, "?"),
            phones=await uow.clients.phones(actor.team.id, client.id),
            contacts=await uow.clients.contacts(actor.team.id, client.id),
            tags=await uow.clients.tags(actor.team.id, client.id),
            next_followup=await uow.followups.pending_for_client(actor.team.id, client.id),
            notes=await uow.activities.recent(
                actor.team.id, client.id, [ActivityKind.NOTE], limits.card_last_items
            ),
            contacts_log=await uow.activities.recent(
                actor.team.id,
                client.id,
                [ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.DEAL, ActivityKind.PROPOSAL],
                limits.card_last_items,
            ),
        )

    async def list_page(self, actor: Actor, flt: ClientFilter, offset: int) -> ClientPage:
        uow, limits = self._ctx.uow, self._ctx.limits
        # Overdue means due on an earlier day than today, as in /today.
        overdue_before = self._ctx.local_now(actor).date() if flt.overdue else None
        items, total = await uow.clients.list_page(
            actor.team.id,
            manager_scope(actor),
            temperatures=flt.temperatures,
            stages=flt.stages,
            tag=flt.tag,
            overdue_before=overdue_before,
            include_archived=flt.archived,
            offset=max(offset, 0),
            limit=limits.list_page_size,
        )
        names = await uow.members.names(actor.team.id, {item.manager_id for item in items})
        return ClientPage(items=items, total=total, offset=max(offset, 0), manager_names=names)


LEAD_FILTER = ClientFilter(stages=tuple(OPEN_LEAD_STAGES))
