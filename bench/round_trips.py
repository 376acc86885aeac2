"""Round trips to PostgreSQL per update, for each hot command of bench/call_throughput.py.

On a loopback connection a round trip costs ~0.1–0.5 ms of waiting (two context switches and
the server's own work), more than the statement itself: the count is what decides a command's
floor on PostgreSQL. It is counted at asyncpg's protocol (every message exchange: a prepare, a
bind-and-execute, a simple query such as BEGIN or COMMIT, a closed statement), so statements
run below SQLAlchemy (storage/hot.py) are counted too, and so are asyncpg's own type
introspection and SQLAlchemy's pool pings. With `--show` each exchange of one update is
listed, with the first characters of its SQL.

    python -m bench.round_trips [--clients 2000] [--updates 40] [--show call]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
from datetime import UTC, datetime
from typing import Any

from bench.call_throughput import COMMANDS, Bench
from bench.generate import generate
from bench.scratch_db import scratch_engine
from tests.support.round_trips import CLOSE, Log, instrument


async def run(args: argparse.Namespace) -> None:
    extra = {"pool_use_lifo": True} if args.lifo else {}
    async with scratch_engine(
        "postgres", "trips", pool_size=25, max_overflow=10, **extra
    ) as engine:
        base = await generate(
            engine,
            managers=20,
            clients=args.clients,
            activities=args.clients * 10,
            deals=args.clients // 2,
            now=datetime.now(UTC),
        )
        await engine.dispose()  # connections made from here on are counted
        log = Log()
        instrument(engine, log)
        bench_args = argparse.Namespace(api_delay_ms=0.0)
        bench = Bench("postgres", engine, base, bench_args)
        try:
            await bench.cold()
            for command in args.commands.split(","):
                if command == "remind":
                    await bench.updates.refill(engine, 2 * args.updates // len(bench.pairs) + 2)
                # Warm: every manager once (caches, and each pooled connection's statements).
                for telegram_id, manager_id in bench.pairs:
                    await bench.one(command, telegram_id, manager_id)
                counts: list[int] = []
                totals: list[float] = []
                waits: list[float] = []
                kinds: collections.Counter[str] = collections.Counter()
                by_sql: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
                sample: list[list[Any]] = []
                for n in range(args.updates):
                    telegram_id, manager_id = bench.pairs[n % len(bench.pairs)]
                    with log.window() as taken:
                        totals.append(await bench.one(command, telegram_id, manager_id))
                    counts.append(sum(1 for entry in taken if entry[0] != CLOSE))
                    waits.append(sum(entry[2] for entry in taken))
                    kinds.update(entry[0] for entry in taken)
                    for kind, sql, ms in taken:
                        by_sql[kind, sql].append(ms)
                    sample = taken
                print(
                    f"/{command:<6} round trips per update: mean {statistics.fmean(counts):.2f}, "
                    f"min {min(counts)}, max {max(counts)} ("
                    + ", ".join(f"{k} {v / args.updates:.2f}" for k, v in sorted(kinds.items()))
                    + f"); update {statistics.median(totals):.2f} ms median, of which waiting "
                    f"on PostgreSQL {statistics.median(waits):.2f} ms",
                    flush=True,
                )
                if command in args.show.split(","):
                    for kind, sql, _ms in sample:
                        times = by_sql[kind, sql]
                        print(f"    {kind:<13} {statistics.median(times):6.3f} ms  {sql[:100]}")
        finally:
            await bench.app.bot.session.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--lifo", action="store_true", help="the pool hands out its last in")
    parser.add_argument("--show", default="", help="commands whose last update is listed")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
