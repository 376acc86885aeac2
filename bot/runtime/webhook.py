"""POST WEBHOOK_PATH: check the secret, parse the body, take a slot, answer, then handle.

Answered before handling: Telegram waits for nobody, and a slow handler must not make it resend.
Every refusal says why in the log, never with the body (it is personal data).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable

from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.app import Application
from bot.runtime.inflight import InFlight

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookEndpoint:
    def __init__(self, app: Application, in_flight: InFlight, closing: Callable[[], bool]) -> None:
        self._app = app
        self._in_flight = in_flight
        self._closing = closing

    async def handle(self, request: web.Request) -> web.Response:
        if self._closing():
            # Telegram retries later; by then another replica, or this one restarted, answers.
            return _unavailable("shutting down")
        metrics, settings = self._app.metrics, self._app.settings
        if not self._secret_matches(request):
            metrics.updates_rejected += 1
            return web.Response(status=401, text="unauthorized")
        body = await request.read()
        try:
            update = Update.model_validate(json.loads(body), context={"bot": self._app.bot})
        except ValueError as exc:  # JSON, encoding and pydantic errors are all ValueErrors
            metrics.updates_rejected += 1
            # The body is personal data: its size and the error's place are logged, not it.
            log.warning(
                "webhook request refused: malformed body (%d bytes): %s",
                len(body),
                describe_malformed(exc),
                extra={"remote": request.remote},
            )
            return web.Response(status=400, text="malformed update")
        if not await self._in_flight.take_slot():
            metrics.updates_overloaded += 1
            log.warning(
                "webhook request refused: %d updates in flight, none finished within %.1f s",
                settings.webhook_max_in_flight,
                settings.webhook_slot_wait_seconds,
                extra={"update_id": update.update_id},
            )
            # Not handled and not recorded: Telegram redelivers it later (with backoff).
            return web.json_response(
                {"ok": False, "reason": "overloaded"}, status=503, headers={"Retry-After": "1"}
            )
        if self._closing():
            self._in_flight.release_slot()
            return _unavailable("shutting down")
        # The update's task is tracked so that shutdown waits for it.
        self._in_flight.spawn(update, slot=True)
        return web.json_response({})

    def _secret_matches(self, request: web.Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        expected = self._app.settings.webhook_secret
        assert expected is not None  # Settings refuse webhook mode without it
        if given is not None and secrets.compare_digest(
            given.encode(), expected.get_secret_value().encode()
        ):
            return True
        log.warning(
            "webhook request refused: %s secret token",
            "missing" if given is None else "wrong",
            extra={"remote": request.remote},
        )
        return False


def _unavailable(reason: str) -> web.Response:
    return web.json_response({"ok": False, "reason": reason}, status=503)


def describe_malformed(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON (at position {exc.pos})"
    if isinstance(exc, ValidationError):
        places = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        return f"not an Update ({exc.error_count()} errors at {', '.join(places[:5])})"
    return f"unreadable ({type(exc).__name__})"
