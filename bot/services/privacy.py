"""Personal data (152-FZ, GDPR-like): consent and source on each client, and `/forget`.

Erasure keeps what the analytics need without the person: the client row with a neutral name
(so counts and deal sums still add up), deals, and activities other than notes without their
text. Everything that names the person — fields, phones, contacts, tags, notes, follow-ups still
to come, outbox rows, search queries in the audit log, conversation states — goes. An audit row
"erase" records that it happened, with no personal data in it.

A search query goes when the search found the client (recorded when it ran), so a typo, a
declined form or the other alphabet goes too; older searches are matched as /find matches.
Campaign titles, shared with other clients, lose only the person's name. After the commit,
storage is asked to wipe what the database files keep of deleted rows (SQLite's write-ahead
log).
"""

from __future__ import annotations

from bot.errors import ErrorCode
from bot.services import matching, name_forms
from bot.services.access import ensure_visible, require_role
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from storage.dto import ClientDTO, MatchCandidate
from storage.enums import Consent, Role
from storage.repositories.privacy import PersonForms

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
            raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
        if client.erased_at is not None:
            raise DomainError(ErrorCode.CLIENT_ERASED)
        team_id = actor.team.id
        placeholder = ERASED_NAME.format(id=client.id)
        needles = await uow.privacy.personal_strings(team_id, client.id)
        forms = await uow.privacy.person_forms(team_id, client.id)
        assert forms is not None
        # Before the follow-ups go: they are what ties the client to a campaign.
        await self._retitle_campaigns(team_id, client.id, forms, placeholder)
        # Outbox rows first: some point at follow-ups about to go.
        outbox = await uow.privacy.erase_outbox(team_id, client.id, needles)
        followups = await uow.privacy.erase_followups(team_id, client.id)
        await uow.privacy.erase_activities(team_id, client.id)
        await uow.privacy.scrub_audit(
            team_id, client.id, needles, also=await self._searches_naming(team_id, client, forms)
        )
        await uow.privacy.erase_conversations(client.id, needles)
        if self._ctx.conversations is not None:
            # Not undone by a rollback: a dropped half-typed command is no loss.
            await self._ctx.conversations.erase(client.id, needles)
        await uow.privacy.erase_client(team_id, client.id, placeholder, now)
        await uow.audit.add(
            team_id=team_id,
            actor_id=actor.member.id,
            action="erase",
            client_id=client.id,
            now=now,
            details={"followups": followups, "outbox": outbox},
        )
        uow.after_commit.append(uow.privacy.compact)
        return placeholder

    async def _searches_naming(
        self, team_id: int, client: ClientDTO, forms: PersonForms
    ) -> list[int]:
        """Searches that match the person the way /find matches, though they were not recorded
        as having found them: logged before searches recorded what they found, or typed by a
        member who may not see this client."""
        candidate = MatchCandidate(
            id=client.id,
            name=client.name,
            search_text=forms.search_text,
            phone_digits=forms.phone_digits,
            manager_id=client.manager_id,
        )
        threshold = self._ctx.limits.match_min_score
        return [
            search.id
            for search in await self._ctx.uow.privacy.searches(team_id)
            if matching.score(search.query, candidate) >= threshold
        ]

    async def _retitle_campaigns(
        self, team_id: int, client_id: int, forms: PersonForms, placeholder: str
    ) -> None:
        """A campaign's title belongs to all its clients: only the person's name (in any of its
        forms) and phone are taken out of it, replaced by the neutral name the client keeps."""
        uow = self._ctx.uow
        names = name_forms.name_words(forms.names)
        phones = forms.phone_digits.split()
        for campaign in await uow.privacy.campaigns_of(team_id, client_id):
            title = name_forms.scrub(campaign.title, names, phones, placeholder)
            if title != campaign.title:
                await uow.privacy.retitle_campaign(team_id, campaign, title)
