"""`python -m bot [run|migrate|console]`: migrate, then run (long polling or webhook, BOT_MODE).

Without a token, the console playground starts instead of polling.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

NO_TOKEN_HELP = """\
No BOT_TOKEN is set, so this is the local console playground.

To run the real Telegram bot:
  1. Open Telegram, talk to @BotFather, send /newbot and follow the steps.
  2. Copy the token it gives you into a file named .env next to this README:
         BOT_TOKEN=123456789:AA...
  3. Run `make run` again.

Meanwhile, try the product here: the same bot and database, with a terminal instead of Telegram.
"""


async def _migrate(settings: Settings) -> None:
    from bot.app import build_engine
    from storage.migrate import upgrade

    engine = build_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _run(settings: Settings) -> None:
    from bot.runtime import serve

    await serve(settings)


async def _console(settings: Settings) -> None:
    from bot.app import Overrides, build, start_scheduler
    from bot.miniapp.playground import PLAYGROUND_PORT, start_playground_app
    from bot.telegram.console import ConsolePrinter, run_console
    from bot.telegram.local_session import LocalSession

    # Charts and exports land here; the printed path opens them.
    printer = ConsolePrinter(files_dir=Path(tempfile.gettempdir()) / "salesbot-console")
    session = LocalSession()
    printer.attach(session)
    app = build(settings, Overrides(session=session, dedup_updates=False))
    # The Mini App in a browser, for the playground's owner (the console's user).
    playground = await start_playground_app(app, settings.http_port or PLAYGROUND_PORT)
    # Reminders fall due in the playground too: they print between prompts.
    ticker = start_scheduler(app)
    try:
        await run_console(
            app.dispatcher,
            app.bot,
            printer,
            settings.default_language,
            playground.link if playground else None,
        )
    finally:
        # /quit in the first seconds often lands in the first tick: it ends before the exit.
        await ticker.stop(settings.shutdown_timeout_seconds)
        if playground is not None:
            await playground.close()
        await app.close()


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl+C at any moment, even while the first imports or migrations run: a clean exit,
        # not a hundred lines of traceback.
        print(file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Salesbot")
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "console", "probe"],
        help="run (default): migrate and start; migrate: only migrate; console: local playground;"
        " probe: exit 0 if this container's /health (or /ready with --ready) answers 200",
    )
    parser.add_argument("--ready", action="store_true", help="probe /ready instead of /health")
    args = parser.parse_args(argv)
    # Imported here, not at the top: Ctrl+C during these first imports is caught by main().
    from pydantic import ValidationError

    from bot.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        # Names and reasons only: pydantic's own text quotes the input, which holds the token.
        for error in exc.errors(include_input=False, include_url=False):
            place = "__".join(str(p) for p in error["loc"]).upper() or "settings"
            print(f"Configuration error: {place}: {error['msg']}", file=sys.stderr)
        return 2
    if args.command == "probe":
        return probe(settings, "/ready" if args.ready else "/health")
    if args.command != "migrate":
        from bot.i18n import MissingCataloguesError, require_catalogues

        try:
            require_catalogues()
        except MissingCataloguesError as exc:
            print(f"Cannot start: {exc}", file=sys.stderr)
            return 2
    from bot.logs import setup_logging

    console = args.command == "console" or not settings.has_token
    # The playground is for reading the bot's replies; keep library chatter out of the way.
    setup_logging(
        "WARNING" if console else settings.log_level, secrets_of(settings), settings.log_format
    )
    if args.command == "migrate" or settings.migrate_on_start:
        asyncio.run(_migrate(settings))
    if args.command == "migrate":
        return 0
    if console:
        if args.command != "console":
            print(NO_TOKEN_HELP)
        asyncio.run(_console(settings))
        return 0
    asyncio.run(_run(settings))
    return 0


def probe(settings: Settings, path: str) -> int:
    """For container health checks: the image has no curl, and the port depends on the mode."""
    import urllib.error
    import urllib.request

    port = settings.listen_port if settings.bot_mode == "webhook" else settings.http_port
    if port is None:
        print("no HTTP server in polling mode without HTTP_PORT", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            print(response.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(errors="replace"), file=sys.stderr)
    except OSError as exc:
        print(f"{path}: {type(exc).__name__}", file=sys.stderr)
    return 1


def secrets_of(settings: Settings) -> list[str]:
    """Values no log line may contain: the token, the webhook secret, Redis' URL and the
    passwords in the database and Redis URLs (long enough not to mask ordinary words)."""
    values = [settings.bot_token, settings.webhook_secret, settings.redis_url]
    found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
    urls = [settings.database_url]
    if settings.redis_url is not None:
        urls.append(settings.redis_url.get_secret_value())
    for url in urls:
        password = url_password(url)
        if password and len(password) >= 8:
            found.append(password)
    return found


def url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password  # type: ignore[return-value]
    except Exception:  # an unparsable URL fails later with its own message
        return None


if __name__ == "__main__":
    sys.exit(main())
