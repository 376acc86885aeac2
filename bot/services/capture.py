"""Phone-first capture: a contact shared from the phone's address book becomes a client, a
message forwarded from a client becomes a note dated when it was written.

The same rules as `/add` and `/note`: a phone or email of a client the member cannot see is
refused without naming that client, a note goes only to a client the member sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.errors import ErrorCode
from bot.parsing.names import clean_name
from bot.parsing.new_client import NewClientInput
from bot.services import matching
from bot.services.access import ensure_visible
from bot.services.clients import AddedClient, ClientService, length_exceeded
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from storage.dto import ClientDTO
from storage.enums import ActivityKind


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A contact as the phone shared it: the phones that look like phones (the one Telegram
    sent first) and an email when the card carried exactly one that looks like one."""

    name: str
    phones: tuple[str, ...]
    email: str | None = None


class ContactStatus(StrEnum):
    NEW = "new"  # no client has its phone or email: can be added
    YOURS = "yours"  # a client the member sees has it: open that card
    TAKEN = "taken"  # only clients of another manager have it: not added, not named
    NO_PHONE = "no_phone"  # nothing to call: not added


@dataclass(frozen=True, slots=True)
class ContactCheck:
    status: ContactStatus
    client: ClientDTO | None = None  # the member's own client when YOURS


@dataclass(frozen=True, slots=True)
class ContactOutcome:
    """What became of one contact of a batch the member chose to add."""

    contact: SharedContact
    check: ContactCheck
    added: AddedClient | None = None


@dataclass(frozen=True, slots=True)
class ForwardedText:
    text: str
    written_at: datetime  # when the original message was sent (UTC), not when forwarded


class CaptureService:
    def __init__(self, ctx: ServiceContext, clients: ClientService) -> None:
        self._ctx = ctx
        self._clients = clients

    async def hold(self, actor: Actor) -> None:
        """Called first by an update that extends a batch kept in the conversation state: the
        member's other such updates wait, and the state is read again (what the previous one
        committed), not the copy read with the member at the start of the update."""
        uow = self._ctx.uow
        await uow.hold_member(actor.member.id)
        uow.fsm_cache.clear()

    # -- contacts ---------------------------------------------------------------------------

    async def check_contact(self, actor: Actor, contact: SharedContact) -> ContactCheck:
        if not contact.phones:
            return ContactCheck(ContactStatus.NO_PHONE)
        uow, team_id = self._ctx.uow, actor.team.id
        ids = set(await uow.clients.ids_with_phone(team_id, _digits(contact.phones)))
        if contact.email:
            ids.update(await uow.clients.ids_with_email(team_id, contact.email.casefold()))
        if not ids:
            return ContactCheck(ContactStatus.NEW)
        for client in await uow.clients.get_many(team_id, sorted(ids)):
            if _visible(actor, client):
                return ContactCheck(ContactStatus.YOURS, client)
        # As `/add` says it: the phone is in the team's base; whose, the member is not told.
        return ContactCheck(ContactStatus.TAKEN)

    async def add_contacts(
        self, actor: Actor, contacts: Sequence[SharedContact], source: str | None
    ) -> list[ContactOutcome]:
        """Adds the contacts no client has, each checked again now (one added a moment ago by
        someone else, or earlier in this batch, is not added twice)."""
        outcomes: list[ContactOutcome] = []
        for contact in contacts:
            check = await self.check_contact(actor, contact)
            if check.status is not ContactStatus.NEW:
                outcomes.append(ContactOutcome(contact, check))
                continue
            columns: dict[str, object] = {}
            if contact.email and length_exceeded("email", contact.email) is None:
                columns["email"] = contact.email
            if source and length_exceeded("source", source) is None:
                columns["source"] = source
            name = contact.name[: self._ctx.limits.max_name_chars].strip()
            data = NewClientInput(name=name, phones=list(contact.phones), columns=columns)
            added = await self._clients.add(actor, data)
            outcomes.append(ContactOutcome(contact, check, added))
        return outcomes

    # -- forwarded messages -----------------------------------------------------------------

    async def suggest(self, actor: Actor, names: Sequence[str]) -> list[ClientDTO]:
        """The member's clients whose name matches the forwarded message's sender, best first;
        only clients the member sees are candidates at all."""
        limits = self._ctx.limits
        candidates = await self._clients.candidates(actor)

        def ranked(queries: Sequence[str]) -> dict[int, float]:
            found: dict[int, float] = {}
            for query in queries:
                for match in matching.rank(
                    query,
                    candidates,
                    min_score=limits.match_min_score,
                    limit=limits.pick_candidates,
                ):
                    cid = match.candidate.id
                    found[cid] = max(found.get(cid, 0.0), match.score)
            return found

        full = [query for query in (clean_name(name) for name in names) if query.strip()]
        found = ranked(full)
        if not found:
            # "Oleg S", "Олег (магазин)": a word of the name alone still points at a client.
            found = ranked([word for query in full for word in query.split() if len(word) >= 3])
        best = sorted(found, key=lambda cid: -found[cid])[: limits.pick_candidates]
        return await self._ctx.uow.clients.get_many(actor.team.id, best)

    def check_note(self, text: str) -> None:
        """A forwarded text that cannot be a note is refused when it arrives, not at saving."""
        limit = self._ctx.limits.max_note_chars
        if not text.strip():
            raise DomainError(ErrorCode.NOTE_MISSING)
        if len(text.strip()) > limit:
            raise DomainError(ErrorCode.NOTE_TOO_LONG, limit=limit, length=len(text.strip()))

    async def save_notes(
        self, actor: Actor, client_id: int, items: Sequence[ForwardedText]
    ) -> ClientDTO:
        """One note per forwarded message, each dated when the message was written.

        A note is not a contact (as with `/note`): "last contact" and the follow-up clock stay
        where they are, since the bot cannot tell that the message was an exchange with this
        client. The client's last activity moves to the newest message's date, never back and
        never to "now" for an old message (an old message does not make a client active)."""
        uow, now = self._ctx.uow, self._ctx.now()
        client = ensure_visible(actor, await uow.clients.get(actor.team.id, client_id))
        for item in items:
            self.check_note(item.text)
        latest = client.last_activity_at
        for item in sorted(items, key=lambda i: i.written_at):
            written = min(item.written_at, now)
            await uow.activities.add(
                team_id=actor.team.id,
                client_id=client.id,
                author_id=actor.member.id,
                kind=ActivityKind.NOTE,
                outcome=None,
                text=item.text.strip(),
                occurred_at=written,
            )
            latest = written if latest is None else max(latest, written)
        await uow.clients.update(actor.team.id, client.id, last_activity_at=latest, updated_at=now)
        return client


def _digits(phones: Sequence[str]) -> list[str]:
    return [matching.phone_digits(raw) for raw in phones]


def _visible(actor: Actor, client: ClientDTO) -> bool:
    try:
        ensure_visible(actor, client)
    except DomainError:
        return False
    return True
