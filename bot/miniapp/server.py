"""The Mini App's plumbing: authenticate a request, resolve the member, run the endpoint in one
unit of work as an update is run, and answer JSON; serve the page's files.

Endpoints (bot/miniapp/api.py) are `async def (call: Call) -> dict`; they parse, call services
and shape JSON, like handlers/. Everything here is the request's envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import Application
from bot.i18n import pick_language, set_locale
from bot.miniapp import auth
from bot.miniapp.errors import (
    ACCESS_CLOSED,
    BAD_REQUEST,
    INTERNAL,
    NO_STORE,
    NOT_FOUND,
    NOT_MEMBER,
    ApiError,
    respond,
)
from bot.parsing.errors import ParseError
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import ServiceParts, Services
from bot.services.portfolio.cache import ReportCache
from storage.db import is_unavailable

log = logging.getLogger(__name__)
request_log = logging.getLogger("bot.miniapp")

# Larger bodies are not what the page sends (a card's fields are a few kilobytes).
MAX_BODY_BYTES = 64 * 1024
PREFIX = "/app"
# The page's files; a path under it, so the page's own links work from /app/ alike.
STATIC_PREFIX = "/app/static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Scripts, styles and images from this server only (the page's assets ship in the
    # package), except Telegram's own web-app script, which Telegram wants loaded from it;
    # no inline script. Telegram shows the page in its own frame (web, desktop).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' https://telegram.org; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    ),
}


def static_dir() -> Path:
    return Path(str(resources.files("bot.miniapp") / "static"))


# What the portfolio page reads again kept a few minutes (bot/miniapp/api.py): the reports it
# pages through, a few (one per team, scope and period being looked at; a 100,000-client
# team's report is tens of megabytes), and the charts' series as sent (a few kilobytes each).
KEEP_SECONDS = 300
SNAPSHOT_ENTRIES = 4
SERIES_ENTRIES = 32


@dataclass
class Kept:
    """Kept by the server across requests, each entry under the team's data version."""

    snapshots: ReportCache = field(
        default_factory=lambda: ReportCache(KEEP_SECONDS, SNAPSHOT_ENTRIES)
    )
    series: ReportCache = field(default_factory=lambda: ReportCache(KEEP_SECONDS, SERIES_ENTRIES))

    def clear(self) -> None:
        self.snapshots.clear()
        self.series.clear()


@dataclass
class Call:
    """One API request, authenticated and resolved: what an endpoint gets."""

    request: web.Request
    services: Services
    actor: Actor
    body: dict[str, Any]
    kept: Kept

    def query(self, name: str) -> str | None:
        return self.request.query.get(name)

    def match(self, name: str) -> str:
        return self.request.match_info[name]


Endpoint = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Serialised:
    """An answer already turned into JSON (in a worker thread): sent as it is."""

    body: bytes


async def in_worker(shape: Callable[[], Any]) -> Serialised:
    """Shapes an answer and serialises it in a worker thread: over a whole report that is tens
    of milliseconds of CPU, which on the event loop would hold every other member's update."""

    def work() -> bytes:
        return _dumps(shape()).encode()

    return Serialised(await asyncio.to_thread(work))


class MiniAppServer:
    """Built once per process beside the webhook endpoint and the probes."""

    def __init__(
        self, app: Application, *, logins: auth.Logins | None = None, static: Path | None = None
    ) -> None:
        self.app = app
        self.settings = app.settings
        self.logins = logins or auth.Logins()
        self.static = static or static_dir()
        self.parts = app.parts or ServiceParts(app.settings, app.clock)
        self.kept = Kept()

    # -- routes -----------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        from bot.miniapp import api

        router.add_get(PREFIX, self._to_page)
        router.add_get(PREFIX + "/", self.page)
        router.add_get(STATIC_PREFIX + "/{path:.+}", self.asset)
        router.add_post(PREFIX + "/api/login", self.login)
        for method, path, endpoint in api.ROUTES:
            router.add_route(method, PREFIX + "/api" + path, self.endpoint(endpoint))
        router.add_route("*", PREFIX + "/api/{rest:.*}", self._no_such_endpoint)

    async def _to_page(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return self._file(self.static / "index.html", no_cache=True)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        root = self.static.resolve()
        wanted = (root / request.match_info["path"]).resolve()
        # No way out of the folder: "../" and symlinks are refused alike.
        if not wanted.is_relative_to(root) or not wanted.is_file():
            raise web.HTTPNotFound()
        return self._file(wanted, no_cache=False)

    def _file(self, path: Path, *, no_cache: bool) -> web.StreamResponse:
        if not path.is_file():
            raise web.HTTPNotFound()
        headers = dict(SECURITY_HEADERS)
        # The page is re-read on every open (its assets may change with a deploy).
        headers["Cache-Control"] = "no-cache" if no_cache else "public, max-age=300"
        return web.FileResponse(path, headers=headers)

    async def _no_such_endpoint(self, request: web.Request) -> web.StreamResponse:
        self._locale(None, None)
        return respond(NOT_FOUND)

    # -- the one-time login of the playground -------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        self._locale(None, None)
        try:
            body = await self._body(request)
            code = body.get("code")
            if not isinstance(code, str):
                raise ApiError(BAD_REQUEST)
            token = self.logins.redeem(code, self.app.clock.now())
        except ApiError as exc:
            return respond(exc.code, field=exc.field)
        except auth.AuthError as exc:
            return respond(exc.code)
        seconds = int(self.logins.session_ttl.total_seconds())
        return web.json_response({"session": token, "expires_in": seconds}, headers=NO_STORE)

    # -- authenticated endpoints --------------------------------------------------------------

    def endpoint(self, handler: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            started = time.perf_counter()
            outcome = "ok"
            member_id: int | None = None
            try:
                response, member_id = await self._run(handler, request)
                if response.status >= 400:
                    outcome = "refused"
                return response
            except Exception as exc:
                outcome = "error"
                log.error(
                    "miniapp %s failed: %s", handler.__name__, type(exc).__name__, exc_info=exc
                )
                return respond(INTERNAL)
            finally:
                # The endpoint's name and the member's id, never the path's ids or the body.
                request_log.info(
                    "miniapp %s %s in %.1f ms",
                    handler.__name__,
                    outcome,
                    (time.perf_counter() - started) * 1000,
                    extra={"endpoint": handler.__name__, "member_id": member_id},
                )

        handle.__name__ = handler.__name__
        return handle

    async def _run(
        self, handler: Endpoint, request: web.Request
    ) -> tuple[web.Response, int | None]:
        self._locale(None, None)
        try:
            user = self._authenticate(request)
        except auth.AuthError as exc:
            return respond(exc.code), None
        self._locale(None, user.language_code)
        try:
            body = await self._body(request)
        except ApiError as exc:
            return respond(exc.code), None
        retries = self.settings.update_db_retries
        for attempt in range(retries + 1):
            try:
                return await self._attempt(handler, request, user, body)
            except Exception as exc:
                if attempt >= retries or not is_unavailable(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        handler: Endpoint,
        request: web.Request,
        user: auth.WebAppUser,
        body: dict[str, Any],
    ) -> tuple[web.Response, int | None]:
        async with self.app.uow_factory() as uow:
            services = self.parts.services(uow)
            found = await uow.members.with_team(user.id)
            actor = await services.enter(found, user.language_code)
            if actor is None:
                await uow.rollback()
                closed = found is not None and not found[0].is_active
                return respond(ACCESS_CLOSED if closed else NOT_MEMBER), None
            self._locale(actor, user.language_code)
            try:
                result = await handler(Call(request, services, actor, body, self.kept))
            except (DomainError, ParseError) as exc:
                await uow.rollback()
                field = exc.params.get("field")
                return respond(
                    exc.code, params=exc.params, field=str(field) if field else None
                ), actor.member.id
            except ApiError as exc:
                await uow.rollback()
                return respond(exc.code, field=exc.field), actor.member.id
            await uow.commit()
        if isinstance(result, Serialised):
            response = web.Response(
                body=result.body,
                content_type="application/json",
                charset="utf-8",
                headers=NO_STORE,
            )
            return response, actor.member.id
        return web.json_response(result, headers=NO_STORE, dumps=_dumps), actor.member.id

    def _authenticate(self, request: web.Request) -> auth.WebAppUser:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        scheme, value = scheme.lower(), value.strip()
        now = self.app.clock.now()
        if scheme == "tma" and value:
            if not self.settings.has_token:
                raise auth.AuthError(auth.AUTH_INVALID)
            token = self.settings.bot_token.get_secret_value()  # type: ignore[union-attr]
            max_age = timedelta(seconds=self.settings.miniapp_auth_max_age_seconds)
            return auth.verify_init_data(value, token, now=now, max_age=max_age)
        if scheme == "session" and value:
            return self.logins.session_user(value, now)
        raise auth.AuthError(auth.AUTH_MISSING)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.method in ("GET", "HEAD", "DELETE"):
            return {}
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(BAD_REQUEST)
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(BAD_REQUEST)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(BAD_REQUEST) from None
        if not isinstance(body, dict):
            raise ApiError(BAD_REQUEST)
        return body

    def _locale(self, actor: Actor | None, telegram_language: str | None) -> None:
        set_locale(
            pick_language(
                actor.member.language if actor else None,
                telegram_language,
                actor.member.telegram_language if actor else None,
                default=self.settings.default_language,
            )
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
