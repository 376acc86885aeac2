"""How fast `Sender` delivers through Telegram's limits, against FakeBotApi over HTTP.

Run 1: the fake enforces Telegram's limits (30/s overall, 1/s per chat) and our limiter its
defaults (25/s, 1/s per chat): the aim is at least 24 msg/s sustained and no 429 at all.
Run 2: the fake is stricter than our limiter (20/s overall), so 429s must happen; the aim is that
every one is absorbed and no message is lost or sent twice.

    python -m bench.send_rate [--messages 500] [--chats 200] [--strict-rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from bot.telegram.sender import Outcome, RateLimiter, Sender
from tests.support.telegram_api import FakeBotApi

TOKEN = "123456:BENCH"


@dataclass
class RunResult:
    label: str
    sent: int
    wall_s: float
    rate: float
    got_429: int
    peak_per_second: int
    not_delivered: int
    duplicates: int
    outcomes: Counter[str]

    def report(self) -> str:
        return (
            f"{self.label}\n"
            f"  messages sent:         {self.sent}\n"
            f"  wall time:             {self.wall_s:.2f} s\n"
            f"  sustained rate:        {self.rate:.2f} msg/s\n"
            f"  429s received:         {self.got_429}\n"
            f"  busiest second at API: {self.peak_per_second} accepted\n"
            f"  not delivered:         {self.not_delivered}\n"
            f"  delivered twice:       {self.duplicates}\n"
            f"  outcomes:              {dict(self.outcomes)}"
        )


async def run(label: str, messages: int, chats: int, api: FakeBotApi) -> RunResult:
    url = await api.start()
    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    sender = Sender(bot, RateLimiter())
    chat_ids = [100_000 + n for n in range(chats)]
    try:
        started = time.perf_counter()
        deliveries = await asyncio.gather(
            *(sender.send(chat_ids[i % chats], f"reminder #{i}") for i in range(messages))
        )
        wall = time.perf_counter() - started
    finally:
        await bot.session.close()
        await api.stop()
    texts = Counter(m.text for m in api.sent)
    sent = sum(1 for d in deliveries if d.outcome is Outcome.SENT)
    return RunResult(
        label=label,
        sent=sent,
        wall_s=wall,
        rate=sent / wall if wall > 0 else 0.0,
        got_429=api.rejected_429,
        peak_per_second=busiest_second([m.at for m in api.sent]),
        not_delivered=messages - len(texts),
        duplicates=sum(count - 1 for count in texts.values()),
        outcomes=Counter(d.outcome.value for d in deliveries),
    )


def busiest_second(times: list[float]) -> int:
    """Most messages the API accepted in any sliding one-second window."""
    ordered = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(ordered):
        while ordered[left] <= t - 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


async def main(args: argparse.Namespace) -> None:
    telegram = await run(
        "Run 1: fake at Telegram's limits (30/s, 1/s per chat), limiter 25/s",
        args.messages,
        args.chats,
        FakeBotApi(global_per_second=30, per_chat_interval=1.0),
    )
    print(telegram.report())
    verdict = telegram.rate >= 24 and telegram.got_429 == 0 and telegram.not_delivered == 0
    print(f"  target >= 24 msg/s, zero 429s, nothing lost: {'met' if verdict else 'NOT met'}\n")

    strict = await run(
        f"Run 2: fake stricter than the limiter ({args.strict_rate:g}/s), limiter 25/s",
        args.messages,
        args.chats,
        FakeBotApi(global_per_second=args.strict_rate, per_chat_interval=1.0),
    )
    print(strict.report())
    verdict = strict.not_delivered == 0 and strict.duplicates == 0
    print(
        f"  target: every 429 absorbed, nothing lost or doubled: {'met' if verdict else 'NOT met'}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument(
        "--strict-rate", type=float, default=20.0, help="global limit of the fake in run 2"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
