"""Personal data (152-FZ, GDPR-like): consent and source on each client, and `/forget`.

Erasure keeps what the analytics need without the person: the client row with a neutral name
(so counts and deal sums still add up), deals, and activities other than notes without their
text. Everything that names the person — fields, phones, contacts, tags, notes, follow-ups still
to come, outbox rows, search queries in the audit log, conversation states — goes. An audit row
"erase" records that it happened, with no personal data in it.
"""

from __future__ import annotations

from bot.services.access import ensure_visible, require_role
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from storage.dto import ClientDTO
from storage.enums import Consent, Role

# Language-neutral on purpose: the stored name is shown as it is wherever client names are
# (analytics, deal lists, every member's language); the audit log adds a translated "erased
# client" beside it.
ERASED_NAME = "#{id}"


class PrivacyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def set_consent(self, actor: Actor, client_id: int, consent: Consent) -> ClientDTO:
        uow, now = self._ctx.uow, self._ctx.now()
        client = ensure_visible(actor, await uow.clients.get(actor.team.id, client_id))
        await uow.clients.update(actor.team.id, client.id, consent=consent, updated_at=now)
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="consent",
            client_id=client.id,
            now=now,
            details={"consent": str(consent)},
        )
        updated = await uow.clients.get(actor.team.id, client.id)
        assert updated is not None
        return updated

    async def forget_target(self, actor: Actor, client_id: int) -> ClientDTO:
        """The client the owner is about to erase (asked before the confirmation)."""
        require_role(actor, Role.OWNER)
        return ensure_visible(actor, await self._ctx.uow.clients.get(actor.team.id, client_id))

    async def forget(self, actor: Actor, client_id: int) -> str:
        """Erase the client's personal data; returns the neutral name the row keeps."""
        require_role(actor, Role.OWNER)
        uow, now = self._ctx.uow, self._ctx.now()
        client = await uow.clients.get(actor.team.id, client_id)
        if client is None or client.team_id != actor.team.id:
            raise DomainError("client_not_found")
        if client.erased_at is not None:
            raise DomainError("client_erased")
        team_id = actor.team.id
        needles = await uow.privacy.personal_strings(team_id, client.id)
        # Outbox rows first: some point at follow-ups about to go.
        outbox = await uow.privacy.erase_outbox(team_id, client.id, needles)
        followups = await uow.privacy.erase_followups(team_id, client.id)
        await uow.privacy.erase_activities(team_id, client.id)
        await uow.privacy.scrub_audit(team_id, client.id, needles)
        await uow.privacy.erase_conversations(client.id, needles)
        if self._ctx.conversations is not None:
            # Not undone by a rollback: a dropped half-typed command is no loss.
            await self._ctx.conversations.erase(client.id, needles)
        placeholder = ERASED_NAME.format(id=client.id)
        await uow.privacy.erase_client(team_id, client.id, placeholder, now)
        await uow.audit.add(
            team_id=team_id,
            actor_id=actor.member.id,
            action="erase",
            client_id=client.id,
            now=now,
            details={"followups": followups, "outbox": outbox},
        )
        return placeholder
