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
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.call_throughput import COMMANDS, Bench, percentile
from bench.generate import GeneratedBase, generate
from bench.scratch_db import scratch_engine
from tests.support.round_trips import CLOSE, Log, instrument

_FLOOR_CALL = (
    (
        "SELECT m.*, t.*, f.state, f.data FROM members m JOIN teams t ON t.id = m.team_id "
        "LEFT JOIN fsm_states f ON f.key = $2 WHERE m.telegram_id = $1",
        lambda c: (c["telegram_id"], f"fsm:{c['telegram_id']}"),
    ),
    (
        "SELECT * FROM clients WHERE team_id = $1 AND id = $2",
        lambda c: (c["team_id"], c["client_id"]),
    ),
    ("BEGIN", None),
    (
        "WITH counted AS (INSERT INTO activity_days (author_id, kind, day, team_id, count) "
        "VALUES ($1, 'call', $4::date, $2, 1) ON CONFLICT (author_id, kind, day) DO UPDATE "
        "SET count = activity_days.count + excluded.count), added AS (INSERT INTO activities "
        "(team_id, client_id, author_id, kind, outcome, text, occurred_at) VALUES "
        "($2, $3, $1, 'call', 'done', NULL, $5) RETURNING id) SELECT id FROM added",
        lambda c: (c["member_id"], c["team_id"], c["client_id"], c["now"].date(), c["now"]),
    ),
    (
        "UPDATE clients SET last_activity_at = $1, updated_at = $1, last_contact_at = $1 "
        "WHERE team_id = $2 AND id = $3",
        lambda c: (c["now"], c["team_id"], c["client_id"]),
    ),
    (
        "UPDATE followups SET state = 'done', closed_at = $1 WHERE team_id = $2 "
        "AND client_id = $3 AND state = 'pending' RETURNING *",
        lambda c: (c["now"], c["team_id"], c["client_id"]),
    ),
    (
        "INSERT INTO followups (team_id, client_id, manager_id, created_by, kind, due_at, "
        "due_on, date_only, reason, state, created_at) VALUES ($1, $2, $3, $3, 'call', $4, "
        "$5, false, NULL, 'pending', $6) RETURNING *",
        lambda c: (
            c["team_id"],
            c["client_id"],
            c["member_id"],
            c["now"] + timedelta(days=3),
            (c["now"] + timedelta(days=3)).date(),
            c["now"],
        ),
    ),
    ("COMMIT", None),
)


async def floor(engine: AsyncEngine, base: GeneratedBase, count: int) -> None:
    """A `/call`'s eight round trips written by hand on one asyncpg connection, nothing in
    between: what PostgreSQL itself costs, and its COMMIT (the wait for the disk) apart."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        client_ids = [
            row[0]
            for row in await raw.fetch(
                "SELECT id FROM clients WHERE team_id = $1 LIMIT 200", base.team_id
            )
        ]
        totals, commits = [], []
        for n in range(count):
            values = {
                "telegram_id": base.manager_telegram_ids[n % len(base.manager_ids)],
                "member_id": base.manager_ids[n % len(base.manager_ids)],
                "team_id": base.team_id,
                "client_id": client_ids[n % len(client_ids)],
                "now": datetime.now(UTC),
            }
            started = time.perf_counter()
            for sql, arguments in _FLOOR_CALL:
                if arguments is None:
                    at = time.perf_counter()
                    await raw.execute(sql)
                    if sql == "COMMIT":
                        commits.append((time.perf_counter() - at) * 1000)
                else:
                    await raw.fetch(sql, *arguments(values))
            totals.append((time.perf_counter() - started) * 1000)
        await conn.rollback()
    print(
        f"floor: /call's 8 round trips by hand (asyncpg, no Python between): "
        f"{statistics.median(totals):.2f} ms median, of which COMMIT "
        f"{statistics.median(commits):.2f} ms (p90 {percentile(commits, 90):.2f})",
        flush=True,
    )


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
            await floor(engine, base, args.updates)
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
