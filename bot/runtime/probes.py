"""/health (liveness), /ready (database, schema and Redis) and /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text

from bot.app import Application
from bot.metrics import CONTENT_TYPE
from storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 3.0


class Probes:
    def __init__(self, app: Application, closing: Callable[[], bool]) -> None:
        self._app = app
        self._closing = closing
        self._head = head_revision()

    async def health(self, request: web.Request) -> web.Response:
        # Liveness: answering at all proves the event loop runs.
        return web.Response(text="ok")

    async def ready(self, request: web.Request) -> web.Response:
        problem = await self.readiness_problem()
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": problem}, status=503)

    async def readiness_problem(self) -> str | None:
        if self._closing():
            return "shutting down"
        engine = self._app.engine
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                revision = await current_revision(engine)
        except Exception as exc:  # the reason names the failure's type; never a DSN
            return f"database unreachable ({type(exc).__name__})"
        if revision != self._head:
            return f"database schema at {revision or 'nothing'}, code expects {self._head}"
        if self._app.redis is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                    await self._app.redis.ping()
            except Exception as exc:
                return f"redis unreachable ({type(exc).__name__})"
        return None

    async def metrics(self, request: web.Request) -> web.Response:
        app = self._app
        now = app.clock.now()
        backlog: int | None = None
        oldest = None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), app.uow_factory() as uow:
                backlog, oldest = await uow.outbox.backlog(now)
        except Exception as exc:  # counters are still worth scraping without the database
            log.warning("metrics: outbox backlog unavailable (%s)", type(exc).__name__)
        body = app.metrics.render(backlog, oldest, now)
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
