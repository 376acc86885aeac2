"""Sender against the real aiogram Bot talking HTTP to FakeBotApi on 127.0.0.1, and the rate
limiter on a virtual clock. No test waits for real longer than a few tens of milliseconds: every
retry_after and backoff goes through an injected clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import socket
from collections.abc import AsyncIterator, Iterable, Sequence

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.sender import Delivery, Outcome, RateLimiter, Sender
from tests.support.telegram_api import FakeBotApi

TOKEN = "123456:TEST"
CHAT = 4242


class LoopbackSession(AiohttpSession):
    async def close(self) -> None:
        # The parent waits 250 ms for TLS connections to wind down; plain loopback HTTP has none,
        # and those waits would add up to seconds over the suite.
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(url: str) -> Bot:
    return Bot(
        TOKEN,
        session=LoopbackSession(api=TelegramAPIServer.from_base(url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


class SteppingClock:
    """Time jumps forward by exactly what is slept; for one message in flight at a time.
    The Sender's own waits (retry_after, backoff) are kept apart from the limiter's."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []
        self.limiter_sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await self._advance(delay)

    async def limiter_sleep(self, delay: float) -> None:
        self.limiter_sleeps.append(delay)
        await self._advance(delay)

    async def _advance(self, delay: float) -> None:
        self.t += delay
        await asyncio.sleep(0)


class VirtualClock:
    """Discrete-event time for many concurrent waiters: `run` lets every task go as far as it can,
    then jumps to the earliest pending sleep, so waiters wake exactly when they asked to, plus the
    next of `oversleep` (cycled) to imitate late timers."""

    def __init__(self, oversleep: Sequence[float] = (0.0,)) -> None:
        self.t = 0.0
        self._oversleep = itertools.cycle(oversleep)
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        when = self.t + max(delay, 0.0) + next(self._oversleep)
        heapq.heappush(self._timers, (when, next(self._seq), future))
        await future

    async def run(self, tasks: Iterable[asyncio.Task[object]]) -> None:
        pending = list(tasks)
        while True:
            for _ in range(20):
                await asyncio.sleep(0)
            if all(task.done() for task in pending):
                return
            while self._timers:
                when, _, future = heapq.heappop(self._timers)
                if not future.done():
                    self.t = max(self.t, when)
                    future.set_result(None)
                    break
            else:
                raise AssertionError("tasks are waiting but nobody is sleeping: deadlock")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    instance = make_bot(api.base_url)
    yield instance
    await instance.session.close()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


def make_sender(bot: Bot, clock: SteppingClock, **options: float) -> Sender:
    limiter = RateLimiter(now=clock.now, sleep=clock.limiter_sleep)
    return Sender(bot, limiter, sleep=clock.sleep, **options)  # type: ignore[arg-type]


# --- Sender over HTTP ---------------------------------------------------------------------------


async def test_send_delivers_with_the_bots_default_html_parse_mode(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Done", callback_data="done:1")]]
    )

    delivery = await make_sender(bot, clock).send(CHAT, "<b>Call Anna</b>", reply_markup=markup)

    assert delivery == Delivery(Outcome.SENT, message_id=api.sent[0].message_id)
    assert [(m.chat_id, m.text, m.parse_mode) for m in api.sent] == [
        (CHAT, "<b>Call Anna</b>", "HTML")
    ]


async def test_429_is_waited_out_and_the_message_is_delivered_exactly_once(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(429, "Too Many Requests: retry after 3", retry_after=3)

    delivery = await make_sender(bot, clock).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.SENT
    assert len(api.sent) == 1
    assert api.requests == ["sendMessage", "sendMessage"]
    assert clock.t >= 3.0
    assert 3 in clock.sleeps


async def test_429_does_not_use_up_attempts(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(429, "Too Many Requests: retry after 1", count=3, retry_after=1)

    delivery = await make_sender(bot, clock, max_attempts=1).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.SENT
    assert len(api.sent) == 1


async def test_429_beyond_max_retry_after_is_handed_back_as_retry_later(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(429, "Too Many Requests: retry after 4", count=5, retry_after=4)

    delivery = await make_sender(bot, clock, max_retry_after=5).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.RETRY_LATER
    assert delivery.retry_after == 4
    assert delivery.error is not None and delivery.error.startswith("TelegramRetryAfter")
    assert api.requests == ["sendMessage", "sendMessage"]
    assert api.sent == []


async def test_429_pauses_the_limiter_for_other_chats_too(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    limiter = RateLimiter(now=clock.now, sleep=clock.limiter_sleep)
    api.fail_next(429, "Too Many Requests: retry after 5", count=2, retry_after=5)

    delivery = await Sender(bot, limiter, sleep=clock.sleep, max_retry_after=5).send(CHAT, "a")
    assert delivery.outcome is Outcome.RETRY_LATER
    paused_at = clock.t
    await limiter.acquire(CHAT + 1)

    assert clock.t >= paused_at + 5 - 1e-9


async def test_server_errors_then_success_deliver_once_after_exponential_backoff(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(500, "Internal Server Error", count=2)

    delivery = await make_sender(bot, clock, backoff_base=0.5).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.SENT
    assert len(api.sent) == 1
    assert len(clock.sleeps) == 2
    first, second = clock.sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


async def test_persistent_server_error_gives_retry_later_after_max_attempts(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(502, "Bad Gateway", count=10)

    delivery = await make_sender(bot, clock, max_attempts=3, backoff_base=1.0).send(CHAT, "r")

    assert delivery.outcome is Outcome.RETRY_LATER
    assert delivery.error == "TelegramServerError: Bad Gateway"
    # The suggestion is the backoff the next attempt would have waited: 1 * 2**2, jittered.
    assert delivery.retry_after is not None and 2.0 <= delivery.retry_after <= 4.0
    assert api.requests == ["sendMessage"] * 3
    assert api.sent == []


async def test_backoff_is_capped(api: FakeBotApi, bot: Bot, clock: SteppingClock) -> None:
    api.fail_next(500, "Internal Server Error", count=10)

    await make_sender(bot, clock, max_attempts=6, backoff_base=1.0, backoff_cap=3.0).send(CHAT, "r")

    assert max(clock.sleeps) <= 3.0


async def test_unreachable_api_is_transient_and_reported_without_the_url(
    clock: SteppingClock,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    offline = make_bot(f"http://127.0.0.1:{closed_port}")
    try:
        delivery = await make_sender(offline, clock, max_attempts=2).send(CHAT, "reminder")
    finally:
        await offline.session.close()

    assert delivery.outcome is Outcome.RETRY_LATER
    assert delivery.error == "TelegramNetworkError(ClientConnectorError)"
    assert len(clock.sleeps) == 1


async def test_blocked_user_gives_blocked_without_retry(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.blocked_chats.add(CHAT)

    delivery = await make_sender(bot, clock).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.BLOCKED
    assert delivery.error == "TelegramForbiddenError: Forbidden: bot was blocked by the user"
    assert api.requests == ["sendMessage"]
    assert clock.sleeps == []


async def test_bad_request_gives_rejected_without_retry(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    api.fail_next(400, "Bad Request: chat not found")

    delivery = await make_sender(bot, clock).send(CHAT, "reminder")

    assert delivery.outcome is Outcome.REJECTED
    assert delivery.error == "TelegramBadRequest: Bad Request: chat not found"
    assert api.requests == ["sendMessage"]


@pytest.mark.parametrize(
    ("status", "expected"), [(401, TelegramUnauthorizedError), (404, TelegramNotFound)]
)
async def test_unexpected_api_errors_propagate(
    api: FakeBotApi, bot: Bot, clock: SteppingClock, status: int, expected: type[Exception]
) -> None:
    api.fail_next(status, "Something unexpected")

    with pytest.raises(expected):
        await make_sender(bot, clock).send(CHAT, "reminder")
    assert api.requests == ["sendMessage"]


async def test_edit_changes_the_text(api: FakeBotApi, bot: Bot, clock: SteppingClock) -> None:
    sender = make_sender(bot, clock)
    sent = await sender.send(CHAT, "old")
    assert sent.message_id is not None

    delivery = await sender.edit(CHAT, sent.message_id, "new")

    assert delivery == Delivery(Outcome.SENT, message_id=sent.message_id)


async def test_edit_of_an_unchanged_message_counts_as_sent(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    sender = make_sender(bot, clock)
    sent = await sender.send(CHAT, "same")
    assert sent.message_id is not None

    delivery = await sender.edit(CHAT, sent.message_id, "same")

    assert delivery == Delivery(Outcome.SENT, message_id=sent.message_id)
    assert api.requests == ["sendMessage", "editMessageText"]


async def test_edit_of_a_missing_message_is_rejected(
    api: FakeBotApi, bot: Bot, clock: SteppingClock
) -> None:
    delivery = await make_sender(bot, clock).edit(CHAT, 999, "text")

    assert delivery.outcome is Outcome.REJECTED
    assert delivery.error == "TelegramBadRequest: Bad Request: message to edit not found"


@pytest.mark.parametrize(
    ("status", "retry_after", "outcome"),
    [
        (400, None, Outcome.REJECTED),
        (403, None, Outcome.BLOCKED),
        (500, None, Outcome.RETRY_LATER),
        (429, 100, Outcome.RETRY_LATER),
    ],
)
async def test_token_never_appears_in_delivery_error(
    api: FakeBotApi,
    bot: Bot,
    clock: SteppingClock,
    status: int,
    retry_after: int | None,
    outcome: Outcome,
) -> None:
    # A server (or proxy) that echoes the request path would put the token in its description.
    api.fail_next(status, f"Error at /bot{TOKEN}/sendMessage", count=10, retry_after=retry_after)

    delivery = await make_sender(bot, clock, max_attempts=2).send(CHAT, "reminder")

    assert delivery.outcome is outcome
    assert delivery.error is not None
    assert TOKEN not in delivery.error
    assert "TEST" not in delivery.error


async def test_429s_from_the_fake_apis_own_limits_are_absorbed() -> None:
    """Real flood control, not a scripted failure: our limiter is told nothing about the per-chat
    limit, so the second message to one chat hits the API's limit and must be retried."""
    api = FakeBotApi(per_chat_interval=0.01)
    url = await api.start()
    bot = make_bot(url)
    loop = asyncio.get_running_loop()
    scale = 0.02  # one "second" of retry_after lasts 20 ms of real time

    def now() -> float:
        return loop.time() / scale

    async def sleep(delay: float) -> None:
        await asyncio.sleep(delay * scale)

    try:
        limiter = RateLimiter(per_chat_interval=0.0, now=now, sleep=sleep)
        sender = Sender(bot, limiter, sleep=sleep)
        first, second = await asyncio.gather(sender.send(CHAT, "one"), sender.send(CHAT, "two"))
    finally:
        await bot.session.close()
        await api.stop()

    assert (first.outcome, second.outcome) == (Outcome.SENT, Outcome.SENT)
    assert sorted(m.text for m in api.sent) == ["one", "two"]
    assert api.rejected_429 >= 1


# --- RateLimiter on a virtual clock -------------------------------------------------------------


async def grant_times(
    limiter: RateLimiter, clock: VirtualClock, chats: list[int]
) -> list[tuple[int, float]]:
    """Start one acquire per entry, in list order; return (index, time granted) in grant order."""
    granted: list[tuple[int, float]] = []

    async def one(index: int, chat_id: int) -> None:
        await limiter.acquire(chat_id)
        granted.append((index, clock.now()))

    tasks = [asyncio.create_task(one(i, chat)) for i, chat in enumerate(chats)]
    await clock.run(tasks)
    return granted


def most_in_any_second(times: list[float]) -> int:
    # Checking windows that start at each grant is enough: a busiest window can always be slid
    # right until its left edge touches a grant.
    return max(sum(1 for t in times if start <= t < start + 1.0 - 1e-9) for start in times)


async def test_limiter_never_lets_more_than_per_second_through_in_any_second() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=10, now=clock.now, sleep=clock.sleep)

    granted = await grant_times(limiter, clock, list(range(60)))

    times = [t for _, t in granted]
    assert len(times) == 60
    assert most_in_any_second(times) <= 10
    # ...and it does not get there by being slow: 60 messages at 10/s take six seconds.
    assert max(times) <= 6.0


async def test_limiter_holds_the_rate_even_when_timers_fire_late() -> None:
    clock = VirtualClock(oversleep=[0.003])
    limiter = RateLimiter(per_second=25, now=clock.now, sleep=clock.sleep)

    granted = await grant_times(limiter, clock, list(range(250)))

    times = [t for _, t in granted]
    assert most_in_any_second(times) <= 25
    # 250 at 25/s is 9.96 s; drifting by 3 ms per message would take 10.7 s.
    assert max(times) < 10.2


async def test_limiter_stays_within_per_second_when_timers_fire_unevenly_late() -> None:
    # Every seventh wake-up is almost a slot late and the next one on time: keeping to the
    # schedule then puts two grants nearly together, and without a hard cap a second could hold
    # 26. Seven does not divide 25, so the late one falls at every position within a second.
    clock = VirtualClock(oversleep=[0.039, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    limiter = RateLimiter(per_second=25, now=clock.now, sleep=clock.sleep)

    granted = await grant_times(limiter, clock, list(range(200)))

    assert most_in_any_second([t for _, t in granted]) <= 25


async def test_limiter_never_sends_two_messages_to_one_chat_within_the_interval() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=30, per_chat_interval=1.0, now=clock.now, sleep=clock.sleep)
    chats = [1, 1, 2, 1, 2, 3, 1, 3, 2, 1]

    granted = await grant_times(limiter, clock, chats)

    for chat in set(chats):
        times = [t for index, t in granted if chats[index] == chat]
        assert len(times) == chats.count(chat)
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))


async def test_limiter_serves_waiters_in_arrival_order() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=5, now=clock.now, sleep=clock.sleep)

    granted = await grant_times(limiter, clock, [30, 10, 50, 20, 40, 60, 70, 80])

    assert [index for index, _ in granted] == list(range(8))


async def test_limiter_serves_one_chats_messages_in_arrival_order() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=100, now=clock.now, sleep=clock.sleep)

    granted = await grant_times(limiter, clock, [7, 7, 7, 7])

    assert [index for index, _ in granted] == [0, 1, 2, 3]


async def test_waiter_held_by_its_chat_interval_does_not_hold_up_other_chats() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=10, per_chat_interval=1.0, now=clock.now, sleep=clock.sleep)

    granted = dict(await grant_times(limiter, clock, [1, 1, 2, 3]))

    assert granted[1] >= 1.0
    assert granted[2] < 0.5 and granted[3] < 0.5


async def test_pause_delays_every_waiter() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=10, now=clock.now, sleep=clock.sleep)
    limiter.pause(2.0)

    granted = await grant_times(limiter, clock, [1, 2, 3])

    assert min(t for _, t in granted) >= 2.0


async def test_cancelled_waiter_does_not_block_the_others() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(per_second=1, now=clock.now, sleep=clock.sleep)
    await limiter.acquire(1)
    stuck = asyncio.create_task(limiter.acquire(2))
    others = [asyncio.create_task(limiter.acquire(chat)) for chat in (3, 4)]
    for _ in range(5):
        await asyncio.sleep(0)

    stuck.cancel()
    await clock.run(others)

    assert stuck.cancelled()
    assert clock.now() == pytest.approx(2.0)
