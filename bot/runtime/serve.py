"""The process: build, listen (webhook or probes' port), start, wait for a signal, stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from aiohttp import web

from bot.app import build
from bot.config import Settings
from bot.runtime.lifecycle import Runtime

log = logging.getLogger(__name__)


def app_runner(runtime: Runtime) -> web.AppRunner:
    """The HTTP server as production runs it. No access log: a calendar feed's path is its
    secret token (bot/runtime/calendar.py), and Telegram's posts say nothing worth a line."""
    return web.AppRunner(
        runtime.web_app(), access_log=None, handle_signals=False, shutdown_timeout=5.0
    )


async def serve(settings: Settings, *, runtime: Runtime | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    runtime = runtime or Runtime(build(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    port = settings.listen_port if settings.bot_mode == "webhook" else settings.http_port
    try:
        if port is not None:
            runner = app_runner(runtime)
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, port).start()
            log.info("listening", extra={"host": settings.webhook_host, "port": port})
        await runtime.start()
        log.info("started", extra={"mode": settings.bot_mode, "instance": runtime.app.sweep.owner})
        polling = runtime.polling.task
        if polling is not None:
            # Polling ending by itself (an invalid token) ends the process too.
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({stopper, polling}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        else:
            await stop.wait()
        log.info("signal received, stopping")
    finally:
        await runtime.stop()
        if runner is not None:
            await runner.cleanup()
        log.info("stopped")
