"""The sweep's clock: APScheduler fires, the tick runs as a task of ours, and stopping waits for it.

Why the tick is not APScheduler's job itself: on shutdown, APScheduler 3's AsyncIOExecutor
cancels the task of every job still running (it cannot wait: its `shutdown()` is not a
coroutine), whatever `wait=` says. A tick cancelled between sending a message and marking it
sent gives its row back, and the message goes out twice after the restart. So the job only
starts the tick (unless one is still running: ticks never overlap), and `stop()` first pauses
the trigger, then waits for the tick in progress up to a deadline, and only then shuts
APScheduler down, when it has nothing left to cancel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, tick: Callable[[], Awaitable[object]], interval_seconds: float) -> None:
        self._tick = tick
        self._interval = interval_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._current: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def current(self) -> asyncio.Task[None] | None:
        """The tick in progress, if any."""
        task = self._current
        return task if task is not None and not task.done() else None

    def start(self) -> None:
        scheduler = AsyncIOScheduler()
        scheduler.add_job(
            self._fire,
            "interval",
            seconds=self._interval,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    async def _fire(self) -> None:
        # Returns at once: the executor's task is done before anything could cancel it.
        if self._stopping or self.current is not None:
            return
        self._current = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._tick()
        except Exception as exc:  # the tick logs its own failures; this is the last net
            log.error("tick failed: %s", type(exc).__name__, exc_info=exc)

    def pause(self) -> None:
        """No new tick starts from now on; one in progress goes on."""
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()

    async def stop(self, seconds: float) -> bool:
        """Pause, let the tick in progress finish within `seconds` (cancelled after), then shut
        the scheduler down. True if the tick finished by itself."""
        self.pause()
        finished = await self.wait(seconds)
        self.shutdown()
        return finished

    async def wait(self, seconds: float) -> bool:
        task = self.current
        if task is None:
            return True
        _done, late = await asyncio.wait({task}, timeout=max(0.0, seconds))
        if not late:
            return True
        log.warning("the sweep tick did not finish within %.0f s; cancelled", seconds)
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        return False

    def shutdown(self) -> None:
        self.pause()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            # Nothing of ours is left for its executor to cancel: `_fire` never waits.
            scheduler.shutdown(wait=False)
