"""GET /calendar/<token>.ics: a member's private calendar feed, for phone calendars to poll.

Every refusal is the same bare 404 (unknown, revoked or malformed token, removed member), so
nothing can be learned by guessing. The token is in the path: this module never logs the path
or the token, and the production server writes no access log (bot/runtime/serve.py); a reverse
proxy in front must keep it out of its own (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from urllib.parse import urlparse

from aiohttp import web

from bot.app import Application
from bot.i18n import pick_language
from bot.runtime.ics import FeedLinks, render_feed
from bot.services.calendar import CalendarService, Feed
from bot.services.context import ServiceContext

log = logging.getLogger(__name__)

# Bump when render_feed's output changes for the same rows: the ETags change with it.
FEED_FORMAT = 1
# Rendered feeds kept per process (about 400 bytes an event).
RENDERED_KEPT = 32
# A database that does not answer within this is reported as 503: the phone tries again later.
FEED_TIMEOUT_SECONDS = 10.0
_HEADERS = {
    # Private to the member's device; revalidated with the ETag on every poll.
    "Cache-Control": "private, no-cache",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class CalendarEndpoint:
    def __init__(self, app: Application) -> None:
        self._app = app
        # Recently rendered feeds by ETag: calendar apps that do not send If-None-Match (and
        # several devices of one member) poll unchanged feeds again and again.
        self._rendered: OrderedDict[str, bytes] = OrderedDict()
        base = app.settings.public_base_url
        self._uid_host = (urlparse(base).hostname if base else None) or "salesbot"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info.get("token", "")
        try:
            feed = await self._feed(token)
        except Exception as exc:  # the type only: an exception's text could hold anything
            log.warning("calendar feed unavailable: %s", type(exc).__name__)
            return web.Response(status=503, text="unavailable", headers={"Retry-After": "300"})
        if feed is None:
            return web.Response(status=404, text="not found")
        settings = self._app.settings
        language = pick_language(
            feed.member.language, feed.member.telegram_language, default=settings.default_language
        )
        links = FeedLinks(await self._bot_username(), self._uid_host)
        # The body follows from these alone (rendering is deterministic), so their digest is
        # the ETag, known before anything is rendered: an unchanged feed costs one query.
        etag = '"' + _digest(feed, language, links) + '"'
        headers = {**_HEADERS, "ETag": etag}
        if _matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        body = self._rendered.get(etag)
        if body is None:
            # Hundreds of events take a hundred milliseconds of CPU and more: off the loop.
            try:
                body = await asyncio.to_thread(render_feed, feed, language, links)
            except Exception as exc:  # the type only, as above; never a 500 forever
                log.warning("calendar feed not rendered: %s", type(exc).__name__)
                return web.Response(status=503, text="unavailable", headers={"Retry-After": "300"})
            self._rendered[etag] = body
            while len(self._rendered) > RENDERED_KEPT:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(etag)
        return web.Response(
            body=body,
            headers={
                **headers,
                "Content-Type": "text/calendar; charset=utf-8",
                "Content-Disposition": 'inline; filename="salesbot.ics"',
            },
        )

    async def _feed(self, token: str) -> Feed | None:
        app = self._app
        async with asyncio.timeout(FEED_TIMEOUT_SECONDS), app.uow_factory() as uow:
            ctx = ServiceContext(uow, app.clock, app.settings.limits, app.settings.rules)
            # Read only: leaving the unit of work without commit rolls nothing of value back.
            return await CalendarService(ctx).feed(token)

    async def _bot_username(self) -> str | None:
        """For the events' links back to the bot; aiogram keeps it after the first getMe. If
        Telegram cannot be asked now, the feed goes out without links rather than not at all."""
        try:
            me = await self._app.bot.me()
        except Exception as exc:
            log.warning("calendar feed: bot username unavailable (%s)", type(exc).__name__)
            return None
        return me.username


def _digest(feed: Feed, language: str, links: FeedLinks) -> str:
    source = repr((FEED_FORMAT, language, feed.member.timezone, links, feed.events))
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags
