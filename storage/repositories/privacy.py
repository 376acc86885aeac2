"""Erasure of one client's personal data (`/forget`), table by table.

What stays: the client row itself (blanked, for the counts), deals (sums and dates, for the
analytics), activities other than notes with their text removed (calls and meetings per manager
per day are analytics too), and audit rows with their details scrubbed. Everything else that
names the person goes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.fields import ERASED_COLUMNS, IDENTIFYING_COLUMNS
from storage.models import (
    Activity,
    AuditEntry,
    AuditFoundClient,
    Campaign,
    Client,
    ClientContact,
    ClientPhone,
    ClientTag,
    Followup,
    FsmRecord,
    OutboxMessage,
    Team,
)
from storage.repositories.columns import rowcount
from storage.types import UTCDateTime

log = logging.getLogger(__name__)

# Shorter needles than this would match unrelated text (a one-letter name, "ООО").
MIN_NEEDLE = 3
SEARCH = "search"


@dataclass(frozen=True, slots=True)
class PersonForms:
    """How the person can be looked up: what fuzzy search compares, and their names as typed."""

    names: list[str]  # the client's name, contact person, other contacts
    search_text: str
    phone_digits: str  # space-separated, as on the client row


@dataclass(frozen=True, slots=True)
class AuditSearch:
    id: int
    query: str


@dataclass(frozen=True, slots=True)
class CampaignTitle:
    id: int
    title: str


# Keys whose values name a team member, never the client: an alert about the member "Anna
# Petrova" survives erasing the client "Anna".
_MEMBER_KEYS = frozenset({"member", "members", "by", "from", "to", "owner", "author"})
# Shorter search queries than this count only as a whole word of the name ("Ив" is nobody).
MIN_QUERY_PREFIX = 4


def _word_in(needle: str, text: str) -> bool:
    """`needle` occurs in `text` as whole words: "anna" in "anna petrova", not "all" in
    "alla smirnova" nor "yes" in "keyes ltd"."""
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text) is not None


def _query_names(query: str, needles: Sequence[str]) -> bool:
    """A search query is as personal as the name when it is a meaningful part of it: a whole
    word of the name, the start of a word of it (4+ letters), or it holds the whole name."""
    q = " ".join(query.casefold().split())
    if len(q) < MIN_NEEDLE:
        return False
    for needle in needles:
        if _word_in(q, needle) or _word_in(needle, q):
            return True
        if len(q) >= MIN_QUERY_PREFIX and any(word.startswith(q) for word in needle.split()):
            return True
    return False


def _mentions(value: Any, needles: Sequence[str], client_id: int) -> bool:
    """Does a JSON value name the person, or hold the client's id under a client key?

    Only string VALUES are compared, never keys ("format" is not the client "Format"), each
    needle as whole words; a search row's "query" also counts when it is a part of the name
    (a search for "Ivanov" found "Ivanov Petr"). Values under member keys are skipped."""
    if value is None:
        return False
    if _names(value, needles):
        return True
    return _holds_client_id(value, client_id)


# For conversation stores outside the database (bot/telegram/fsm_storage.py).
mentions = _mentions


def _names(value: Any, needles: Sequence[str], key: str | None = None) -> bool:
    if isinstance(value, str):
        if key in _MEMBER_KEYS:
            return False
        folded = value.casefold()
        if key == "query" and _query_names(folded, needles):
            return True
        return any(_word_in(needle, folded) for needle in needles)
    if isinstance(value, dict):
        # An export of one manager's clients: "value" is that member's name.
        member_value = value.get("scope") == "manager"
        return any(
            _names(item, needles, str(k))
            for k, item in value.items()
            if not (member_value and k == "value")
        )
    if isinstance(value, list):
        return any(_names(item, needles, key) for item in value)
    return False


_CLIENT_KEYS = frozenset({"cid", "client_id", "client", "cids", "clients"})


def _holds_client_id(value: Any, client_id: int) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _CLIENT_KEYS and (
                item == client_id or (isinstance(item, list) and client_id in item)
            ):
                return True
            if _holds_client_id(item, client_id):
                return True
    elif isinstance(value, list):
        return any(_holds_client_id(item, client_id) for item in value)
    return False


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def personal_strings(self, team_id: int, client_id: int) -> list[str]:
        """Every piece of text that identifies the person, case-folded: what must not remain."""
        # A Core row, not an ORM object (see storage/repositories/clients.py).
        clients = Client.__table__
        client = (
            await self._session.execute(
                select(clients).where(clients.c.team_id == team_id, clients.c.id == client_id)
            )
        ).first()
        if client is None:
            return []
        values: list[str | None] = [
            *(getattr(client, column) for column in IDENTIFYING_COLUMNS),
            *client.phone_digits.split(" "),
            # Transliterated forms: a search typed in Latin for a Cyrillic name.
            *client.search_text.split(" | "),
        ]
        values += list(
            await self._session.scalars(
                select(ClientPhone.raw).where(ClientPhone.client_id == client_id)
            )
        )
        values += list(
            await self._session.scalars(
                select(ClientPhone.digits).where(ClientPhone.client_id == client_id)
            )
        )
        for row in await self._session.execute(
            select(ClientContact.name, ClientContact.phone, ClientContact.email).where(
                ClientContact.client_id == client_id
            )
        ):
            values.extend(row)
        needles: set[str] = set()
        for value in values:
            folded = (value or "").strip().casefold()
            if len(folded) >= MIN_NEEDLE:
                needles.add(folded)
        return sorted(needles)

    async def person_forms(self, team_id: int, client_id: int) -> PersonForms | None:
        client = await self._session.scalar(
            select(Client).where(Client.team_id == team_id, Client.id == client_id)
        )
        if client is None:
            return None
        contacts = await self._session.scalars(
            select(ClientContact.name).where(ClientContact.client_id == client_id)
        )
        return PersonForms(
            names=[n for n in (client.name, client.contact_person, *contacts) if n],
            search_text=client.search_text,
            phone_digits=client.phone_digits,
        )

    async def searches(self, team_id: int) -> list[AuditSearch]:
        """Every search query of the team still in the log (not yet scrubbed)."""
        rows = await self._session.execute(
            select(AuditEntry.id, AuditEntry.details).where(
                AuditEntry.team_id == team_id,
                AuditEntry.action == SEARCH,
                AuditEntry.details.is_not(None),
            )
        )
        return [
            AuditSearch(row.id, str(row.details["query"]))
            for row in rows
            if isinstance(row.details, dict) and row.details.get("query")
        ]

    async def campaigns_of(self, team_id: int, client_id: int) -> list[CampaignTitle]:
        """Campaigns the client was part of (read before their follow-ups go)."""
        rows = await self._session.execute(
            select(Campaign.id, Campaign.title)
            .where(
                Campaign.team_id == team_id,
                Campaign.id.in_(
                    select(Followup.campaign_id).where(
                        Followup.team_id == team_id, Followup.client_id == client_id
                    )
                ),
            )
            .order_by(Campaign.id)
        )
        return [CampaignTitle(row.id, row.title) for row in rows]

    async def retitle_campaign(self, team_id: int, campaign: CampaignTitle, title: str) -> None:
        """The new title, also on the campaign's follow-ups that still carry the old one as
        their reason (those of the other clients)."""
        await self._session.execute(
            update(Campaign)
            .where(Campaign.team_id == team_id, Campaign.id == campaign.id)
            .values(title=title)
        )
        await self._session.execute(
            update(Followup)
            .where(
                Followup.team_id == team_id,
                Followup.campaign_id == campaign.id,
                Followup.reason == campaign.title,
            )
            .values(reason=title)
        )

    async def erase_client(
        self, team_id: int, client_id: int, placeholder: str, now: datetime
    ) -> None:
        await self._session.execute(
            update(Client)
            .where(Client.team_id == team_id, Client.id == client_id)
            .values(
                # Personal columns (bot/fields.py) blanked; the name kept neutral, for the counts.
                **dict.fromkeys(ERASED_COLUMNS),
                name=placeholder,
                search_text="",
                phone_digits="",
                erased_at=now,
                # Archived too: out of every nudge, digest line and campaign, which all skip
                # archived clients.
                archived_at=func.coalesce(Client.archived_at, literal(now, UTCDateTime())),
                updated_at=now,
            )
        )
        for model in (ClientPhone, ClientContact, ClientTag):
            await self._session.execute(
                delete(model).where(model.team_id == team_id, model.client_id == client_id)
            )
        # Lookup caches of every instance notice the client is gone.
        await self._session.execute(
            update(Team).where(Team.id == team_id).values(roster_version=Team.roster_version + 1)
        )

    async def erase_activities(self, team_id: int, client_id: int) -> None:
        await self._session.execute(
            delete(Activity).where(
                Activity.team_id == team_id,
                Activity.client_id == client_id,
                Activity.kind == "note",
            )
        )
        await self._session.execute(
            update(Activity)
            .where(Activity.team_id == team_id, Activity.client_id == client_id)
            .values(text=None)
        )

    async def erase_followups(self, team_id: int, client_id: int) -> int:
        """Pending follow-ups go (their outbox rows with them); closed ones lose their reason."""
        followup_ids = list(
            await self._session.scalars(
                select(Followup.id).where(
                    Followup.team_id == team_id, Followup.client_id == client_id
                )
            )
        )
        if followup_ids:
            await self._session.execute(
                delete(OutboxMessage).where(OutboxMessage.followup_id.in_(followup_ids))
            )
        result = await self._session.execute(
            delete(Followup).where(
                Followup.team_id == team_id,
                Followup.client_id == client_id,
                Followup.state == "pending",
            )
        )
        await self._session.execute(
            update(Followup)
            .where(Followup.team_id == team_id, Followup.client_id == client_id)
            .values(reason=None)
        )
        return rowcount(result)

    async def erase_outbox(self, team_id: int, client_id: int, needles: Sequence[str]) -> int:
        """Rows about the client, and any other row whose payload names the person (an alert
        or summary quoting the name). Sent ones too: their payload is a copy of the data."""
        doomed = set(
            await self._session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.team_id == team_id, OutboxMessage.client_id == client_id
                )
            )
        )
        rows = await self._session.execute(
            select(OutboxMessage.id, OutboxMessage.payload).where(
                OutboxMessage.team_id == team_id, OutboxMessage.payload.is_not(None)
            )
        )
        doomed.update(row.id for row in rows if _mentions(row.payload, needles, client_id))
        await self._delete_ids(OutboxMessage, OutboxMessage.id, doomed)
        return len(doomed)

    async def scrub_audit(
        self,
        team_id: int,
        client_id: int,
        needles: Sequence[str],
        also: Iterable[int] = (),
    ) -> None:
        """Audit rows stay (who did what, when, to which client id); details naming the person
        are emptied: those of every search that found the client (recorded when it ran), of
        the rows in `also`, and (the net for rows logged before searches recorded what they
        found) of any row whose text names the person."""
        await self._session.execute(
            update(AuditEntry)
            .where(AuditEntry.team_id == team_id, AuditEntry.client_id == client_id)
            .values(details=None)
        )
        found = set(
            await self._session.scalars(
                select(AuditFoundClient.audit_id).where(AuditFoundClient.client_id == client_id)
            )
        )
        rows = await self._session.execute(
            select(AuditEntry.id, AuditEntry.details).where(
                AuditEntry.team_id == team_id, AuditEntry.details.is_not(None)
            )
        )
        named = {row.id for row in rows if _mentions(row.details, needles, client_id)}
        ids = sorted(found | named | set(also))
        for start in range(0, len(ids), 500):
            await self._session.execute(
                update(AuditEntry)
                .where(AuditEntry.id.in_(ids[start : start + 500]))
                .values(details={"scrubbed": True})
            )

    async def erase_conversations(self, client_id: int, needles: Sequence[str]) -> None:
        """Step-by-step states holding the client (a pending pick, a half-typed note)."""
        rows = await self._session.execute(
            select(FsmRecord.key, FsmRecord.data, FsmRecord.state).where(
                or_(FsmRecord.data.is_not(None), FsmRecord.state.is_not(None))
            )
        )
        keys = [row.key for row in rows if _mentions(row.data, needles, client_id)]
        await self._delete_ids(FsmRecord, FsmRecord.key, keys)

    async def compact(self) -> None:
        """Make erased bytes unreadable from the database files; call after the erasure's
        commit. SQLite (with secure_delete on, see storage/db.py) has zeroed the freed space;
        this copies the write-ahead log into the database and truncates it, since the log
        still holds the pages as they were before. PostgreSQL: nothing to do from here (old
        row versions go with VACUUM, see the README)."""
        engine = self._session.bind
        if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite":
            return
        try:
            async with engine.connect() as conn:
                busy = await conn.run_sync(_checkpoint)
        except Exception as exc:  # the erasure is committed; a failed clean-up must not undo
            log.warning("WAL checkpoint after an erasure failed: %s", type(exc).__name__)
            return
        if busy:
            # A reader still uses old pages; the next automatic checkpoint copies them over.
            log.warning("WAL checkpoint after an erasure could not finish: readers active")

    async def _delete_ids(self, model: Any, column: Any, ids: Iterable[Any]) -> None:
        batch = list(ids)
        for start in range(0, len(batch), 500):
            await self._session.execute(delete(model).where(column.in_(batch[start : start + 500])))


def _checkpoint(conn: Connection) -> bool:
    """Run outside any transaction (a checkpoint inside one cannot finish); True when busy."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return bool(row and row[0])
