"""A reply to the bot's push, card or digest logs its text for that client.

Which client a bot message is about is recorded when it is sent (storage: sent_messages): by
the delivery sweep for pushes, nudges and digests (`subject_of`), and after an update's replies
are sent for cards. The handler (handlers/reply_log.py) asks here which clients a replied
message is about, then logs through the same services as `/call` and `/note`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import ErrorCode
from bot.services.access import sees_whole_team
from bot.services.alerts import Alert
from bot.services.context import Actor, ServiceContext
from bot.services.digest import LIST_LIMIT, Digest, Notice, Nudge
from bot.services.errors import DomainError
from bot.services.matching import normalize
from bot.services.reminders import Reminder
from storage.dto import ClientDTO
from storage.repositories.sent_messages import SentMessageDTO

if TYPE_CHECKING:
    from bot.services.weekly import Weekly

PUSH = "push"
NUDGE = "nudge"
CARD = "card"
DIGEST = "digest"
# A quote shorter than this (normalised) names no client: "ov" is in half the base.
QUOTE_MIN_CHARS = 3


def subject_of(
    content: Reminder | Digest | Nudge | Notice | Alert | Weekly,
) -> tuple[str, list[int]]:
    """(kind, client ids in the order shown) of a pushed message; no ids: about no client (a
    notice, an alert, the weekly report: a reply to them logs nothing)."""
    if isinstance(content, Reminder):
        return PUSH, [content.client.id]
    if isinstance(content, Nudge):
        return NUDGE, [content.client.id]
    if isinstance(content, Digest):
        return DIGEST, digest_clients(content)
    return "", []


def digest_clients(d: Digest) -> list[int]:
    """The clients a digest names, in its order (bot/telegram/views/common.py digest_text)."""
    ids = [c.id for c in d.due_today[:LIST_LIMIT]]
    ids += [c.id for c in d.overdue[:LIST_LIMIT]]
    ids += [c.id for c in d.quiet] + [c.id for c in d.stuck]
    ids += [b.client_id for b in d.birthdays if b.day == d.day]
    ids += [b.client_id for b in d.birthdays if b.day != d.day]
    return list(dict.fromkeys(ids))


def sent_rows(
    kind: str,
    client_ids: Sequence[int],
    *,
    team_id: int,
    member_id: int,
    chat_id: int,
    message_ids: Sequence[int],
    now: datetime,
) -> list[SentMessageDTO]:
    """What to remember of a message sent in parts, each part about the same clients."""
    if not kind or not client_ids:
        return []
    ids = tuple(client_ids)
    return [
        SentMessageDTO(chat_id, message_id, team_id, member_id, kind, ids, now)
        for message_id in message_ids
    ]


def quoted_clients(quote: str, clients: Sequence[ClientDTO]) -> list[ClientDTO]:
    """The clients a quoted piece of a digest names, in the digest's order.

    Every name found whole in the quote counts, a longer name before one inside it ("Ivanova
    Anna" hides "Ivanov" at the same place); with none whole, the clients whose name holds the
    quote (a quoted surname of "Иванов Петр")."""
    text = f" {normalize(quote)} "
    if len(text.strip()) < QUOTE_MIN_CHARS:
        return []
    spans: list[tuple[int, int]] = []
    found: set[int] = set()
    for client in sorted(clients, key=lambda c: -len(normalize(c.name))):
        name = normalize(client.name)
        if not name:
            continue
        # Found between spaces; the span itself leaves them out, as neighbours share them.
        at = text.find(f" {name} ")
        while at != -1:
            start, end = at + 1, at + 1 + len(name)
            if all(end <= s or start >= e for s, e in spans):
                spans.append((start, end))
                found.add(client.id)
                break
            at = text.find(f" {name} ", at + 1)
    if not found:
        found = {c.id for c in clients if text in f" {normalize(c.name)} "}
    return [c for c in clients if c.id in found]


class ReplyLogService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def remember(self, rows: Sequence[SentMessageDTO]) -> None:
        await self._ctx.uow.sent_messages.record(rows)

    async def replied(self, actor: Actor, chat_id: int, message_id: int) -> SentMessageDTO | None:
        """The bot message the member replied to, if it was about clients and sent to them."""
        found = await self._ctx.uow.sent_messages.find(actor.member.id, chat_id, message_id)
        if found is None or found.team_id != actor.team.id:
            return None
        return found

    async def client_of_followup(self, actor: Actor, followup_id: int) -> int | None:
        """A push's client by its follow-up (a push sent before messages were recorded)."""
        followup = await self._ctx.uow.followups.get(actor.team.id, followup_id)
        return followup.client_id if followup is not None else None

    async def target(self, actor: Actor, client_id: int) -> ClientDTO:
        """The client a reply logs for, checked as every command checks it; a client of the
        member's push or card that has since gone to someone else is named as such."""
        client = await self._ctx.uow.clients.get(actor.team.id, client_id)
        if client is None:
            raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
        if not sees_whole_team(actor) and client.manager_id != actor.member.id:
            # The member was shown this client by the bot itself: saying it moved leaks nothing.
            raise DomainError(ErrorCode.CLIENT_NOT_YOURS, name=client.name)
        if client.erased_at is not None:
            raise DomainError(ErrorCode.CLIENT_ERASED)
        return client

    async def choices(self, actor: Actor, client_ids: Sequence[int]) -> list[ClientDTO]:
        """The clients of a digest the member may still log for, in the digest's order."""
        clients = await self._ctx.uow.clients.get_many(actor.team.id, list(client_ids))
        return [
            c
            for c in clients
            if c.erased_at is None and (sees_whole_team(actor) or c.manager_id == actor.member.id)
        ]
