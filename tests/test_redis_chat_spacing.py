"""REDIS_URL set: the per-chat pace (about 1 message/s per chat) holds across replicas, each of
which has its own in-process RateLimiter."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.telegram.sender import Outcome, RateLimiter, RedisChatSpacing, Sender
from tests.support.services import REDIS_URL

CHAT = 4242
INTERVAL = 0.25


class RecordingBot:
    """Only what Sender uses: send_message (recording when it was called) and the token."""

    token = "1:x"

    def __init__(self, log: list[tuple[float, int]]) -> None:
        self._log = log

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        self._log.append((asyncio.get_running_loop().time(), chat_id))
        return SimpleNamespace(message_id=len(self._log))


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def replica(redis: Redis | None, prefix: str, log: list[tuple[float, int]]) -> Sender:
    limiter = RateLimiter(per_second=25, per_chat_interval=INTERVAL)
    spacing = RedisChatSpacing(redis, prefix, interval=INTERVAL) if redis is not None else None
    return Sender(RecordingBot(log), limiter, chat_spacing=spacing)  # type: ignore[arg-type]


async def send_from_two_replicas(one: Sender, two: Sender) -> None:
    sends = [s.send(CHAT, f"reminder {n}") for n in range(3) for s in (one, two)]
    deliveries = await asyncio.gather(*sends)
    assert {d.outcome for d in deliveries} == {Outcome.SENT}


async def test_two_replicas_sending_to_one_chat_keep_its_interval(
    redis: Redis,
    redis_prefix: str,
):
    log: list[tuple[float, int]] = []
    await send_from_two_replicas(
        replica(redis, redis_prefix, log), replica(redis, redis_prefix, log)
    )
    times = [t for t, _ in log]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) == 6
    # Redis counts whole milliseconds; the event loop may wake a timer a little early.
    assert min(gaps) >= INTERVAL - 0.02, gaps
    keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}:chat-next:*")]
    assert keys == [f"{redis_prefix}:chat-next:{CHAT}".encode()]
    assert 0 < await redis.pttl(keys[0]) <= int(INTERVAL * 1000) + 1000


async def test_without_shared_spacing_replicas_overlap_which_is_what_redis_fixes():
    log: list[tuple[float, int]] = []
    await send_from_two_replicas(replica(None, "", log), replica(None, "", log))
    times = [t for t, _ in log]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) < INTERVAL / 2, gaps


async def test_redis_down_does_not_stop_sending():
    log: list[tuple[float, int]] = []
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        sender = replica(down, "salesbot-test-down", log)
        assert (await sender.send(CHAT, "still goes out")).outcome is Outcome.SENT
    finally:
        await down.aclose()
    assert len(log) == 1
