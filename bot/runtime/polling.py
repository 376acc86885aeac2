"""Long polling as a task of ours, so that shutdown can stop it and wait for it."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from bot.app import Application
from bot.runtime.bot_api import forget_webhook_quietly, register_commands

log = logging.getLogger(__name__)


class Polling:
    def __init__(self, app: Application) -> None:
        self._app = app
        self.task: asyncio.Task[None] | None = None

    async def start(self, allowed: list[str]) -> None:
        await forget_webhook_quietly(self._app)
        await register_commands(self._app)
        self.task = asyncio.create_task(
            self._app.dispatcher.start_polling(
                self._app.bot,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=allowed,
                # The same bound as the webhook's: more would only queue for the pool.
                tasks_concurrency_limit=self._app.settings.webhook_max_in_flight,
            )
        )

    async def stop(self) -> None:
        """No new getUpdates; updates already fetched stay in flight (bot/runtime/inflight.py)."""
        if self.task is None:
            return
        with suppress(RuntimeError):  # polling had already ended
            await self._app.dispatcher.stop_polling()
        try:
            await self.task
        except Exception as exc:
            log.error("polling ended with %s", type(exc).__name__, exc_info=exc)
