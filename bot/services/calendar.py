"""`/calendar`: a member's private iCalendar feed of their next contacts and meetings.

The feed's URL carries a random token (`secrets.token_urlsafe(32)`: 256 bits). Only its SHA-256
is stored (storage/models.py CalendarFeed): the bot shows the URL once, when it is made, and a
lookup is an indexed equality on the hash, so no comparison of the secret itself can leak its
prefix through timing. The token never reaches a log line, an error or an exception's text.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.context import Actor, ServiceContext
from storage.dto import MemberDTO, TeamDTO
from storage.repositories.calendar import FeedEvent

# What a feed lists: pending follow-ups due from this many days ago on (an overdue call stays
# visible for a while), at most this many, soonest first. A phone calendar wants the coming
# weeks, and a feed of thousands of events would be slow to build and to sync.
FEED_PAST_DAYS = 30
FEED_MAX_EVENTS = 500
# The route of the bot's HTTP server that serves a feed (bot/runtime/calendar.py).
FEED_PATH = "/calendar/{token}.ics"
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def feed_url(base_url: str, token: str) -> str:
    """The address a phone calendar subscribes to: PUBLIC_URL (or the webhook's origin) and
    the route."""
    return base_url + FEED_PATH.format(token=token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def looks_like_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


@dataclass(frozen=True, slots=True)
class FeedState:
    on: bool
    since: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedFeed:
    """A feed just made: its token, to put in the URL shown once, and nowhere else."""

    token: str
    since: datetime
    # A link existed and stopped working (`/calendar new`), or this is the first one.
    replaced: bool

    def __repr__(self) -> str:  # a stray log of the object must not print the token
        return f"IssuedFeed(since={self.since!r}, replaced={self.replaced!r})"


@dataclass(frozen=True, slots=True)
class Feed:
    """What one feed request returns: whose calendar and the events in it."""

    member: MemberDTO
    team: TeamDTO
    events: list[FeedEvent]
    now: datetime


class CalendarService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def state(self, actor: Actor) -> FeedState:
        row = await self._ctx.uow.calendar.get(actor.member.id)
        if row is None or not row.on:
            return FeedState(False, None)
        return FeedState(True, row.created_at)

    async def turn_on(self, actor: Actor) -> IssuedFeed | None:
        """A new feed, or None when one is on already (its URL is not kept, so it cannot be
        shown again; `renew` makes another)."""
        if (await self.state(actor)).on:
            return None
        return await self._issue(actor, "calendar_on", replaced=False)

    async def renew(self, actor: Actor) -> IssuedFeed:
        """A new URL; the old one stops at once. Turns the feed on if it was off."""
        was_on = (await self.state(actor)).on
        return await self._issue(actor, "calendar_new", replaced=was_on)

    async def turn_off(self, actor: Actor) -> bool:
        """False when there was no feed on: nothing changes, and the member is told so."""
        uow, now = self._ctx.uow, self._ctx.now()
        if not await uow.calendar.revoke(actor.member.id, now):
            return False
        await uow.audit.add(
            team_id=actor.team.id, actor_id=actor.member.id, action="calendar_off", now=now
        )
        return True

    async def _issue(self, actor: Actor, action: str, *, replaced: bool) -> IssuedFeed:
        uow, now = self._ctx.uow, self._ctx.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await uow.calendar.issue(actor.team.id, actor.member.id, token_hash(token), now)
        await uow.audit.add(team_id=actor.team.id, actor_id=actor.member.id, action=action, now=now)
        return IssuedFeed(token, now, replaced)

    async def feed(self, token: str) -> Feed | None:
        """The feed this token opens, or None: unknown, revoked, malformed, or its member was
        removed. The caller answers all of these alike (404), so none can be told apart."""
        if not looks_like_token(token):
            return None
        uow, now = self._ctx.uow, self._ctx.now()
        found = await uow.calendar.owner_of(token_hash(token))
        if found is None:
            return None
        member, team = found
        since = now - timedelta(days=FEED_PAST_DAYS)
        events = await uow.calendar.events(team.id, member.id, since, FEED_MAX_EVENTS)
        return Feed(member, team, events, now)
