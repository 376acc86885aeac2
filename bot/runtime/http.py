"""The aiohttp application: POST WEBHOOK_PATH (webhook mode only), GET /health, /ready, /metrics,
and the Mini App under /app/ (bot/miniapp)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.config import Settings
from bot.miniapp.server import MiniAppServer
from bot.runtime.probes import Probes
from bot.runtime.webhook import WebhookEndpoint


def web_application(
    settings: Settings,
    probes: Probes,
    webhook: WebhookEndpoint,
    *,
    miniapp: MiniAppServer | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """`on_startup` and `on_shutdown` run with the aiohttp app's own (what
    aiohttp.test_utils.TestServer needs); `serve()` starts and stops the runtime itself."""
    app = web.Application()
    app.router.add_get("/health", probes.health)
    app.router.add_get("/ready", probes.ready)
    app.router.add_get("/metrics", probes.metrics)
    if settings.bot_mode == "webhook":
        app.router.add_post(settings.webhook_path, webhook.handle)
    if miniapp is not None:
        miniapp.add_routes(app.router)
    if on_startup is not None:
        start = on_startup

        async def started(_: web.Application) -> None:
            await start()

        app.on_startup.append(started)
    if on_shutdown is not None:
        stop = on_shutdown

        async def stopped(_: web.Application) -> None:
            await stop()

        app.on_shutdown.append(stopped)
    return app
