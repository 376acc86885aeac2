"""`/call` end to end through the Dispatcher with the in-memory Bot API, on SQLite and PostgreSQL.

Prints updates per second handled serially; latency with 20 managers sending back to back
(saturation: each waits for the other 19) and with 20 managers each sending one command per
second; and the number of failed updates (a "database is locked" would show there).

    python -m bench.call_throughput [--backends sqlite,postgres] [--clients 10000] ...
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiogram.types import Chat, Message, Update, User
from sqlalchemy import text

from bench.generate import GeneratedBase, generate
from bot.app import build_application
from bot.config import Settings
from bot.telegram.local_session import LocalSession
from storage.db import create_engine
from storage.migrate import upgrade

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PHRASES = (
    "{name} done",
    "{name} no answer",
    "{name} перезвонить через 2 недели",
    "{name} callback friday 11:00",
    "{name} сделано обсудили поставку",
)


class FailureCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < 3:
            self.samples.append(record.getMessage())


def _summary(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    schema = None
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        engine = create_engine(url)
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        url = PG_URL
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = create_engine(PG_URL, search_path=schema, pool_size=25, max_overflow=10)
    try:
        await upgrade(engine)
        started = time.perf_counter()
        base = await generate(
            engine,
            managers=args.managers,
            clients=args.clients,
            activities=args.activities,
            deals=args.deals,
            now=datetime.now(UTC),
        )
        fill_s = time.perf_counter() - started
        await measure(backend, engine, url, base, args, fill_s)
    finally:
        await engine.dispose()
        if schema is not None:
            admin = create_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


async def measure(
    backend: str, engine, url: str, base: GeneratedBase, args: argparse.Namespace, fill_s: float
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, database_url=url, bot_token=None)
    # A real Bot API answers in tens of milliseconds; replies leave after the commit, so this
    # delay must not hold anyone else's update back.
    session = LocalSession(delay=args.api_delay_ms / 1000)
    app = build_application(settings, session=session, engine=engine)
    failures = FailureCounter()
    logging.getLogger().addHandler(failures)
    rng = random.Random(7)
    ids = itertools.count(1)

    async def one(telegram_id: int, manager_id: int) -> float:
        name = rng.choice(base.clients_by_manager[manager_id])
        phrase = rng.choice(PHRASES).format(name=name)
        user = User(id=telegram_id, is_bot=False, first_name="M", language_code="ru")
        update = Update(
            update_id=next(ids),
            message=Message(
                message_id=next(ids),
                date=datetime.now(UTC),
                chat=Chat(id=telegram_id, type="private"),
                from_user=user,
                text=f"/call {phrase}",
            ),
        )
        t0 = time.perf_counter()
        await app.dispatcher.feed_update(app.bot, update)
        return (time.perf_counter() - t0) * 1000

    pairs = list(zip(base.manager_telegram_ids, base.manager_ids, strict=True))
    for telegram_id, manager_id in pairs[:5]:  # warm caches and connections
        await one(telegram_id, manager_id)

    t0 = time.perf_counter()
    for n in range(args.serial):
        telegram_id, manager_id = pairs[n % len(pairs)]
        await one(telegram_id, manager_id)
    serial_rate = args.serial / (time.perf_counter() - t0)

    async def manager_loop(telegram_id: int, manager_id: int) -> list[float]:
        return [await one(telegram_id, manager_id) for _ in range(args.per_manager)]

    t0 = time.perf_counter()
    results = await asyncio.gather(*(manager_loop(t, m) for t, m in pairs[: args.concurrent]))
    wall = time.perf_counter() - t0
    latencies = [ms for series in results for ms in series]

    async def paced_loop(index: int, telegram_id: int, manager_id: int) -> list[float]:
        # Each manager sends one command per `pace` seconds, phases spread over the interval.
        start = time.perf_counter() + args.pace * index / args.concurrent
        out = []
        for k in range(args.per_manager):
            await asyncio.sleep(max(0.0, start + k * args.pace - time.perf_counter()))
            out.append(await one(telegram_id, manager_id))
        return out

    paced = await asyncio.gather(
        *(paced_loop(i, t, m) for i, (t, m) in enumerate(pairs[: args.concurrent]))
    )
    paced_latencies = [ms for series in paced for ms in series]
    sent = sum(1 for r in session.requests if type(r).__name__ == "SendMessage")
    logging.getLogger().removeHandler(failures)
    print(
        f"[{backend}] Bot API round trip simulated: {args.api_delay_ms:g} ms\n"
        f"[{backend}] base: {args.managers} managers, {args.clients} clients, "
        f"{args.activities} activities, {args.deals} deals (filled in {fill_s:.1f} s)\n"
        f"[{backend}] serial: {serial_rate:.1f} updates/s over {args.serial} /call updates\n"
        f"[{backend}] {args.concurrent} managers back to back (saturation), "
        f"{args.per_manager} each: {len(latencies) / wall:.1f} updates/s, "
        f"{_summary(latencies)}\n"
        f"[{backend}] {args.concurrent} managers at one /call per {args.pace:g} s each "
        f"({args.concurrent / args.pace:g} updates/s offered): {_summary(paced_latencies)}\n"
        f"[{backend}] failed updates: {failures.count} {failures.samples}; replies sent: {sent}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--serial", type=int, default=400)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--per-manager", type=int, default=25)
    parser.add_argument(
        "--api-delay-ms", type=float, default=50.0, help="simulated Bot API round trip"
    )
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between one manager's commands"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for backend in args.backends.split(","):
        asyncio.run(run_backend(backend.strip(), args))


if __name__ == "__main__":
    main()
