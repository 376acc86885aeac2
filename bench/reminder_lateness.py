"""How late follow-up pushes arrive, end to end: real sweep on APScheduler's default interval,
real Sender with Telegram's limits, a fake Bot API on loopback.

    python -m bench.reminder_lateness [--reminders 600] [--window 60] [--burst 300]

Spread: N exact-time follow-ups due evenly over the window. Burst: M due at the same second
(a team's 09:00). Prints p50/p95/max lateness (arrival at the API minus due time), duplicates
and losses. Target: p95 <= 60 s with the default sweep interval.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import insert

from bot.clock import SystemClock
from bot.config import DeliverySettings, RuleDefaults
from bot.jobs.sweep import DeliverySweep
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.sender import RateLimiter, Sender
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Client, Followup, Member, Team
from storage.uow import UnitOfWorkFactory
from tests.support.telegram_api import FakeBotApi

NAME = re.compile(r"Client (\d+)")


async def scenario(label: str, due_offsets: list[float], members: int) -> None:
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'late.sqlite3'}"
    engine = create_engine(url)
    await upgrade(engine)
    start = datetime.now(UTC) + timedelta(seconds=3)
    due = [start + timedelta(seconds=offset) for offset in due_offsets]
    async with engine.begin() as conn:
        team_id = (
            await conn.execute(
                insert(Team).returning(Team.id),
                {
                    "name": "Bench",
                    "timezone": "Europe/Moscow",
                    "currency": "RUB",
                    "roster_version": 0,
                    "created_at": start,
                    **RuleDefaults().model_dump(),
                },
            )
        ).scalar_one()
        member_ids = list(
            (
                await conn.execute(
                    insert(Member).returning(Member.id),
                    [
                        {
                            "team_id": team_id,
                            "telegram_id": 50_000 + n,
                            "role": "manager",
                            "full_name": f"M{n}",
                            "language": "en",
                            "timezone": "Europe/Moscow",
                            "work_start": datetime.min.time(),
                            "work_end": datetime.max.time().replace(microsecond=0),
                            # Digests are not what is measured here.
                            "digest_time": datetime.max.time().replace(microsecond=0),
                            "is_active": True,
                            "created_at": start,
                        }
                        for n in range(members)
                    ],
                )
            ).scalars()
        )
        client_ids = list(
            (
                await conn.execute(
                    insert(Client).returning(Client.id),
                    [
                        {
                            "team_id": team_id,
                            "manager_id": member_ids[n % members],
                            "name": f"Client {n}",
                            "temperature": "warm",
                            "stage": "won",
                            "stage_changed_at": start,
                            "last_activity_at": start,
                            "last_contact_at": start,
                            "consent": "unknown",
                            "created_at": start,
                            "updated_at": start,
                        }
                        for n in range(len(due))
                    ],
                )
            ).scalars()
        )
        await conn.execute(
            insert(Followup),
            [
                {
                    "team_id": team_id,
                    "client_id": client_ids[n],
                    "manager_id": member_ids[n % members],
                    "kind": "call",
                    "due_at": moment,
                    "due_on": moment.date(),
                    "date_only": False,
                    "state": "pending",
                    "created_at": start,
                }
                for n, moment in enumerate(due)
            ],
        )

    api = FakeBotApi()
    base = await api.start()
    bot = Bot(
        "123456:BENCH",
        session=AiohttpSession(api=TelegramAPIServer.from_base(base)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    settings = DeliverySettings()
    clock = SystemClock()
    sweep = DeliverySweep(
        UnitOfWorkFactory(create_session_factory(engine), serialize=True),
        clock,
        TelegramNotifier(
            Sender(bot, RateLimiter(per_second=settings.global_per_second)), clock, "en"
        ),
        settings,
    )
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        sweep.run_once,
        "interval",
        seconds=settings.sweep_interval_seconds,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    # The fake records loop time; map it to wall time once.
    offset = time.time() - asyncio.get_running_loop().time()
    scheduler.start()
    deadline = time.time() + max(due_offsets) + 3 + 30 + len(due) / 20
    # Polling the fake's record is the point here: nothing signals "all delivered".
    while time.time() < deadline and len(api.sent) < len(due):  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.sleep(settings.sweep_interval_seconds)  # a repeat would show up meanwhile
    scheduler.shutdown(wait=False)
    lateness, seen = [], set()
    duplicates = 0
    for message in api.sent:
        index = int(NAME.search(message.text).group(1))  # type: ignore[union-attr]
        if index in seen:
            duplicates += 1
        seen.add(index)
        lateness.append(message.at + offset - due[index].timestamp())
    await bot.session.close()
    await api.stop()
    await engine.dispose()
    ordered = sorted(lateness)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")
    print(
        f"[{label}] {len(due)} reminders to {members} members, sweep every "
        f"{settings.sweep_interval_seconds:g} s: delivered {len(seen)}, "
        f"lost {len(due) - len(seen)}, "
        f"duplicates {duplicates}, 429s {api.rejected_429}; lateness p50 "
        f"{statistics.median(ordered):.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reminders", type=int, default=600)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args()
    spread = [args.window * n / args.reminders for n in range(args.reminders)]
    asyncio.run(scenario("spread", spread, args.members))
    asyncio.run(scenario("burst", [0.0] * args.burst, args.members))


if __name__ == "__main__":
    main()
