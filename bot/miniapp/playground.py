"""The Mini App in the console playground: the bot's HTTP routes on 127.0.0.1, and one-time
login links for the playground's owner, so a newcomer opens the page in a browser without
Telegram. A link's code works once and expires (bot/miniapp/auth.py `Logins`); it is printed to
the terminal only, never logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.app import Application
from bot.miniapp.auth import Logins
from bot.miniapp.server import MiniAppServer

log = logging.getLogger(__name__)

PLAYGROUND_HOST = "127.0.0.1"
PLAYGROUND_PORT = 8080
# Long enough to read the banner, run /start and open the browser.
CODE_TTL = timedelta(hours=1)


@dataclass
class Playground:
    server: MiniAppServer
    runner: web.AppRunner
    port: int
    telegram_id: int

    def link(self) -> str:
        code = self.server.logins.issue(self.telegram_id, self.server.app.clock.now())
        return f"http://{PLAYGROUND_HOST}:{self.port}/app/#login={code}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_playground_app(
    app: Application, port: int, *, telegram_id: int | None = None
) -> Playground | None:
    """Serving on `port`, or on any free port when it is taken; None if neither works."""
    from bot.telegram.console import CONSOLE_USER_ID

    server = MiniAppServer(app, logins=Logins(code_ttl=CODE_TTL))
    web_app = web.Application()
    server.add_routes(web_app.router)
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    for candidate in (port, 0):
        site = web.TCPSite(runner, PLAYGROUND_HOST, candidate)
        try:
            await site.start()
        except OSError:
            continue
        bound = _bound_port(runner) or candidate
        return Playground(server, runner, bound, telegram_id or CONSOLE_USER_ID)
    log.warning("the Mini App is not served: no free port on %s", PLAYGROUND_HOST)
    await runner.cleanup()
    return None


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None
