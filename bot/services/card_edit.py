"""The card as a form (the Mini App): every field of a client read and saved at once, with the
commands' checks and error codes, in the caller's one transaction, audited.

A save changes what it was given and nothing else; the first refused value refuses the whole
save (the unit of work rolls back). Changes the chat makes through a service of its own go
through that service: consent (`/consent`, audited "consent"), the manager (`/transfer`,
audited "transfer", both sides told), the temperature (`/hot`). The rest is one update of the
client's row and one "card_edit" audit row naming the fields changed (never their values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.errors import ErrorCode
from bot.parsing.card_fields import CardChanges
from bot.services import matching
from bot.services.access import ensure_visible, sees_whole_team
from bot.services.clients import length_exceeded
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.watch import note_viewing
from storage.dto import ClientDTO, FollowupDTO
from storage.enums import Stage
from storage.repositories.base_table import HistoryRow

CARD_EDIT = "card_edit"
HISTORY_PAGE = 30


@dataclass(frozen=True, slots=True)
class CardData:
    client: ClientDTO
    manager_name: str
    phones: list[str]
    tags: list[str]
    next_followup: FollowupDTO | None
    history: list[HistoryRow]
    history_more: bool
    deal_count: int
    deal_revenue: Decimal
    today: date


class CardService:
    def __init__(self, ctx: ServiceContext, team: object) -> None:
        # The team service of the same unit of work: a change of manager is a transfer.
        self._ctx = ctx
        self._team = team

    async def _visible(self, actor: Actor, client_id: int) -> ClientDTO:
        return ensure_visible(actor, await self._ctx.uow.clients.get(actor.team.id, client_id))

    async def view(self, actor: Actor, client_id: int) -> CardData:
        """The card, opened: audited as `/client` is and counted toward the mass-viewing alert."""
        client = await self._visible(actor, client_id)
        await self._ctx.uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="card_view",
            client_id=client.id,
            now=self._ctx.now(),
        )
        await note_viewing(self._ctx, actor)
        return await self._gather(actor, client)

    async def read(self, actor: Actor, client_id: int) -> CardData:
        """The card as it is now, after a change the member made on it (not a new view)."""
        return await self._gather(actor, await self._visible(actor, client_id))

    async def history(
        self, actor: Actor, client_id: int, before: int | None
    ) -> tuple[list[HistoryRow], bool]:
        client = await self._visible(actor, client_id)
        rows = await self._ctx.uow.base_table.history(
            actor.team.id, client.id, before=before, limit=HISTORY_PAGE + 1
        )
        return rows[:HISTORY_PAGE], len(rows) > HISTORY_PAGE

    async def _gather(self, actor: Actor, client: ClientDTO) -> CardData:
        uow, team_id = self._ctx.uow, actor.team.id
        names = await uow.members.names(team_id, {client.manager_id})
        history = await uow.base_table.history(
            team_id, client.id, before=None, limit=HISTORY_PAGE + 1
        )
        count, revenue = await uow.base_table.deal_totals(team_id, client.id, actor.team.currency)
        return CardData(
            client=client,
            manager_name=names.get(client.manager_id, "?"),
            phones=await uow.clients.phones(team_id, client.id),
            tags=await uow.clients.tags(team_id, client.id),
            next_followup=await uow.followups.pending_for_client(team_id, client.id),
            history=history[:HISTORY_PAGE],
            history_more=len(history) > HISTORY_PAGE,
            deal_count=count,
            deal_revenue=revenue,
            today=self._ctx.local_now(actor).date(),
        )

    async def save(self, actor: Actor, client_id: int, changes: CardChanges) -> ClientDTO:
        uow, now, limits = self._ctx.uow, self._ctx.now(), self._ctx.limits
        client = await self._visible(actor, client_id)
        team_id = actor.team.id
        columns = dict(changes.columns)
        name = columns.get("name")
        if isinstance(name, str) and len(name) > limits.max_name_chars:
            raise DomainError(ErrorCode.NAME_TOO_LONG, limit=limits.max_name_chars, field="name")
        for field, value in columns.items():
            limit = length_exceeded(field, value) if isinstance(value, str) else None
            if limit is not None:
                raise DomainError(ErrorCode.FIELD_TOO_LONG, field=field, limit=limit)
        if isinstance(columns.get("potential"), Decimal) and columns["potential"] < 0:
            raise DomainError(ErrorCode.AMOUNT_NEGATIVE, field="potential")
        digits: list[str] = []
        if changes.phones is not None:
            for raw in changes.phones:
                if length_exceeded("phone", raw) is not None:
                    raise DomainError(ErrorCode.PHONE_INVALID, value=raw, field="phone")
            digits = [matching.phone_digits(raw) for raw in changes.phones]
            # Team-wide, as /add checks: two managers must not work one client unknowingly.
            others = set(await uow.clients.ids_with_phone(team_id, digits)) - {client.id}
            if digits and others:
                raise DomainError(ErrorCode.DUPLICATE_PHONE, field="phone")
        email = columns.get("email")
        if isinstance(email, str):
            others = set(await uow.clients.ids_with_email(team_id, email.casefold())) - {client.id}
            if others:
                raise DomainError(ErrorCode.DUPLICATE_EMAIL, field="email")
        if changes.manager_id is not None and changes.manager_id != client.manager_id:
            if not sees_whole_team(actor):
                raise DomainError(ErrorCode.NOT_ALLOWED)
            # /transfer's rules, audit row and messages to both managers.
            await self._team.transfer(  # type: ignore[attr-defined]
                actor, client.manager_id, changes.manager_id, [client.id]
            )
        consent = columns.pop("consent", None)
        if consent is not None and consent != client.consent:
            await uow.clients.update(team_id, client.id, consent=consent, updated_at=now)
            await uow.audit.add(
                team_id=team_id,
                actor_id=actor.member.id,
                action="consent",
                client_id=client.id,
                now=now,
                details={"consent": str(consent)},
            )
        changed = {key: value for key, value in columns.items() if getattr(client, key) != value}
        if "stage" in changed:
            changed["stage_changed_at"] = now
            if changed["stage"] == Stage.LOST:
                changed["archived_at"] = now
                # As a refusal in the chat: nobody calls a lost client.
                await uow.followups.cancel_all(team_id, client.id, now)
            elif client.archived_at is not None:
                changed["archived_at"] = None
        if "name" in changed or "contact_person" in changed:
            contacts = await uow.clients.contacts(team_id, client.id)
            changed["search_text"] = matching.search_text(
                [
                    changed.get("name", client.name),
                    changed.get("contact_person", client.contact_person),
                    *(contact for contact, _position in contacts),
                ]
            )
        if changes.phones is not None:
            old = await uow.clients.phones(team_id, client.id)
            if old != changes.phones:
                await uow.base_table.delete_phones(team_id, client.id)
                for raw, digit in zip(changes.phones, digits, strict=True):
                    await uow.clients.add_phone(team_id, client.id, raw, digit)
                changed["phone_digits"] = " ".join(digits)
                columns["phone"] = changes.phones
        if changes.tags is not None:
            old_tags = await uow.clients.tags(team_id, client.id)
            if sorted(old_tags) != sorted(changes.tags):
                await uow.clients.set_tags(team_id, client.id, changes.tags)
                columns["tags"] = changes.tags
        fields = sorted(
            {key for key in changed if key in columns}
            | {key for key in ("phone", "tags") if key in columns}
        )
        if changed:
            await uow.clients.update(team_id, client.id, **changed, updated_at=now)
        if fields:
            await uow.audit.add(
                team_id=team_id,
                actor_id=actor.member.id,
                action=CARD_EDIT,
                client_id=client.id,
                now=now,
                details={"fields": fields},
            )
        updated = await uow.clients.get(team_id, client.id)
        assert updated is not None
        return updated
