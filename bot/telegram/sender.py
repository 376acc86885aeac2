"""Deliver one message to Telegram within its rate limits, and say plainly what happened.

Telegram allows about 30 messages per second overall and about one per second per chat; beyond
that it answers 429 with `retry_after`. The outbox job calls `Sender.send` for each due reminder
and stores the returned `Delivery`: SENT and BLOCKED/REJECTED are final, RETRY_LATER means "put
it back in the outbox and try again after `retry_after` seconds".
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_TRANSIENT = (TelegramServerError, TelegramNetworkError, TimeoutError, aiohttp.ClientError)
# Any token-shaped string (id:secret) is masked, not only ours: a description may quote another.
_TOKEN_SHAPE = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")
_ERROR_MAX_CHARS = 200
_MIN_RETRY_AFTER = 1.0


class Outcome(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: Outcome
    message_id: int | None = None
    """Set when SENT."""
    error: str | None = None
    """Short and token-free: the exception type and Telegram's description."""
    retry_after: float | None = None
    """For RETRY_LATER: suggested seconds before the next attempt."""
    message_ids: tuple[int, ...] = ()
    """Every message of a delivery sent in parts (the notifier's), in order; empty for one."""


@dataclass(slots=True)
class _ChatState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_at: float = -math.inf
    users: int = 0


class RateLimiter:
    """Token bucket for the global rate plus a minimum interval per chat. Fair: waiters are served
    in arrival order. `now` and `sleep` are injectable (defaults: loop.time / asyncio.sleep).

    Order: waiters for one chat go strictly one after another; across chats, the global budget is
    handed out first come, first served among waiters whose chat interval has passed. A waiter
    held back by its own chat's interval does not hold up other chats.
    """

    def __init__(
        self,
        *,
        per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        now: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        if per_chat_interval < 0:
            raise ValueError("per_chat_interval must not be negative")
        self._interval = 1.0 / per_second
        self._per_chat_interval = per_chat_interval
        self._now: Clock = now or _loop_time
        self._sleep: Sleep = sleep or asyncio.sleep
        # asyncio.Lock wakes its waiters in FIFO order, which is what makes the limiter fair.
        self._global_lock = asyncio.Lock()
        self._next_slot = -math.inf
        self._paused_until = -math.inf
        # Spacing alone is smooth but lets a late timer wake-up be followed by an on-time one,
        # so the hard cap is what guarantees "never more than per_second in any second".
        self._window_cap = max(1, math.floor(per_second))
        self._recent: deque[float] = deque(maxlen=self._window_cap)
        self._chats: dict[int, _ChatState] = {}
        self._prune_above = 1024

    async def acquire(self, chat_id: int) -> None:
        """Return when a message to `chat_id` may be sent now; the caller sends it right away."""
        state = self._chats.get(chat_id)
        if state is None:
            self._prune()
            state = self._chats[chat_id] = _ChatState()
        state.users += 1
        try:
            async with state.lock:
                await self._wait_until(lambda: state.next_at)
                async with self._global_lock:
                    await self._wait_until(self._global_ready_at)
                    granted = self._take_global_slot()
                state.next_at = granted + self._per_chat_interval
        finally:
            state.users -= 1

    def pause(self, seconds: float) -> None:
        """Hold every waiter for `seconds` from now: a 429 means we are over Telegram's budget,
        whichever chat it was answered for."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._now() + seconds)

    def _global_ready_at(self) -> float:
        ready = max(self._next_slot, self._paused_until)
        if len(self._recent) == self._window_cap:
            ready = max(ready, self._recent[0] + 1.0)
        return ready

    def _take_global_slot(self) -> float:
        now = self._now()
        # Keep to the schedule when we are only a little late (timer granularity), so the long-run
        # rate does not drift below per_second; after an idle spell start a fresh schedule
        # instead of bursting to catch up.
        if now - self._next_slot <= self._interval:
            self._next_slot += self._interval
        else:
            self._next_slot = now + self._interval
        self._recent.append(now)
        return now

    async def _wait_until(self, deadline: Callable[[], float]) -> None:
        # The deadline is re-read after every sleep: a pause may have moved it, and the event
        # loop may wake a timer up to its clock resolution early.
        while (delay := deadline() - self._now()) > 0:
            await self._sleep(delay)

    def _prune(self) -> None:
        if len(self._chats) < self._prune_above:
            return
        now = self._now()
        for chat_id in [c for c, s in self._chats.items() if s.users == 0 and s.next_at <= now]:
            del self._chats[chat_id]
        # Doubling the threshold keeps pruning amortised O(1) per new chat.
        self._prune_above = max(1024, 2 * len(self._chats))


# Reserve the next moment a chat may get a message, shared by every replica: returns how many
# milliseconds the caller waits first. Redis's own clock is used, so replicas' clocks do not
# matter; the key expires once its moment has passed.
_RESERVE_CHAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], at + interval, 'PX', at - now + interval + 1000)
return at - now
"""


class RedisChatSpacing:
    """Telegram's ~1 message/s per chat across replicas: each send reserves the chat's next slot
    in Redis (the local RateLimiter only sees its own process's sends)."""

    def __init__(self, redis: Any, prefix: str, *, interval: float = 1.0) -> None:
        self._redis = redis
        self._prefix = prefix
        self._interval_ms = max(0, int(interval * 1000))

    async def reserve(self, chat_id: int) -> float:
        """Seconds to wait before sending to `chat_id`; 0 if Redis fails (the local limiter and
        429 handling still apply, so a Redis outage costs at most a few 429s)."""
        key = f"{self._prefix}:chat-next:{chat_id}"
        try:
            waited = await self._redis.eval(_RESERVE_CHAT, 1, key, self._interval_ms)
        except Exception as exc:
            logger.warning("chat spacing: Redis unavailable (%s)", type(exc).__name__)
            return 0.0
        return max(0.0, int(waited) / 1000)


class Sender:
    """Sends or edits one message with retries that respect Telegram's limits.

    Never raises for Telegram's answers it understands; returns a `Delivery`. Anything else
    (a bug, an unexpected API error) propagates so that it gets seen.
    """

    def __init__(
        self,
        bot: Bot,
        limiter: RateLimiter,
        *,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Sleep | None = None,
        chat_spacing: RedisChatSpacing | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._bot = bot
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._sleep: Sleep = sleep or asyncio.sleep
        self._random = random.Random()
        self._chat_spacing = chat_spacing

    async def send(
        self, chat_id: int, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
    ) -> Delivery:
        # parse_mode is left to the Bot's defaults (HTML in this project).
        async def call() -> Delivery:
            message = await self._bot.send_message(
                chat_id=chat_id, text=text, reply_markup=reply_markup
            )
            return Delivery(Outcome.SENT, message_id=message.message_id)

        return await self._deliver("sendMessage", chat_id, call)

    async def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Delivery:
        async def call() -> Delivery:
            try:
                result = await self._bot.edit_message_text(
                    chat_id=chat_id, message_id=message_id, text=text, reply_markup=reply_markup
                )
            except TelegramBadRequest as exc:
                # The message already shows this text: what the caller wanted is on screen.
                if "message is not modified" in exc.message.lower():
                    return Delivery(Outcome.SENT, message_id=message_id)
                raise
            edited = result.message_id if isinstance(result, Message) else message_id
            return Delivery(Outcome.SENT, message_id=edited)

        return await self._deliver("editMessageText", chat_id, call)

    async def _deliver(
        self, method: str, chat_id: int, call: Callable[[], Awaitable[Delivery]]
    ) -> Delivery:
        failures = 0
        waited_for_429 = 0.0
        while True:
            if self._chat_spacing is not None:
                wait = await self._chat_spacing.reserve(chat_id)
                if wait > 0:
                    await self._sleep(wait)
            await self._limiter.acquire(chat_id)
            try:
                return await call()
            except TelegramRetryAfter as exc:
                # Telegram never says 0, but a proxy or a fake might; retrying at once would
                # then hammer the API without ever using up max_retry_after.
                retry_after = max(float(exc.retry_after), _MIN_RETRY_AFTER)
                self._limiter.pause(retry_after)
                if waited_for_429 + retry_after > self._max_retry_after:
                    logger.warning(
                        "%s to chat %s: 429 for %.0f s in total, handing back for later",
                        method,
                        chat_id,
                        waited_for_429 + retry_after,
                    )
                    return Delivery(
                        Outcome.RETRY_LATER, error=self._describe(exc), retry_after=retry_after
                    )
                logger.info("%s to chat %s: 429, waiting %.1f s", method, chat_id, retry_after)
                waited_for_429 += retry_after
                await self._sleep(retry_after)
            except TelegramForbiddenError as exc:
                logger.info("%s to chat %s: blocked by the user", method, chat_id)
                return Delivery(Outcome.BLOCKED, error=self._describe(exc))
            except TelegramBadRequest as exc:
                logger.warning("%s to chat %s: rejected (%s)", method, chat_id, type(exc).__name__)
                return Delivery(Outcome.REJECTED, error=self._describe(exc))
            except _TRANSIENT as exc:
                delay = self._backoff(failures)
                failures += 1
                if failures >= self._max_attempts:
                    logger.warning(
                        "%s to chat %s: %s after %d attempts, handing back for later",
                        method,
                        chat_id,
                        self._error_type(exc),
                        failures,
                    )
                    return Delivery(
                        Outcome.RETRY_LATER, error=self._describe(exc), retry_after=delay
                    )
                logger.warning(
                    "%s to chat %s: %s, retrying in %.2f s",
                    method,
                    chat_id,
                    self._error_type(exc),
                    delay,
                )
                await self._sleep(delay)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * 2**failures)
        # "Equal jitter": at least half the exponential delay, so retries stay spaced out, and a
        # random other half, so many messages failing together do not retry in lockstep.
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    @staticmethod
    def _error_type(exc: BaseException) -> str:
        if isinstance(exc, TelegramNetworkError) and exc.__cause__ is not None:
            return f"{type(exc).__name__}({type(exc.__cause__).__name__})"
        return type(exc).__name__

    def _describe(self, exc: BaseException) -> str:
        # Free text from the HTTP client can quote the request URL, which holds the token, so only
        # Telegram's own description is kept, and even that is scrubbed.
        if isinstance(exc, TelegramAPIError) and not isinstance(exc, TelegramNetworkError):
            text = f"{type(exc).__name__}: {exc.message}"
        else:
            text = self._error_type(exc)
        # One line: aiogram's 429 text spans several, and this ends up in a database column.
        return " ".join(self._scrub(text).split())[:_ERROR_MAX_CHARS]

    def _scrub(self, text: str) -> str:
        token = self._bot.token
        if token:
            text = text.replace(token, "***")
        return _TOKEN_SHAPE.sub("***", text)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
