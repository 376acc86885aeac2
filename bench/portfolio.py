"""`/portfolio` on a generated base: 1,000,000 activities and 100,000 deals over two years.

    python -m bench.portfolio [--backend sqlite|postgres] [--scale 1.0] [--repeats 20] [--keep]

Times the report service (everything the summary shows: every section) for one manager and
for the whole team, for the current month, quarter and year (always computed afresh: the
current period is never cached), as p50/p95 over repeats; then an ended period served from
the cache, and the reads of the two charts (class shares over four periods, activity per
week). Also times a hand-written SQL query set over the same roll-ups returning the core
numbers (sales per client in the period and the previous one, revenue per client and month for
XYZ, activity counts per author and kind, base health) and prints the ratio service / SQL.
Targets (issue 13): p95 <= 100 ms for a manager's month, <= 200 ms for the team's month,
<= 300 ms for the team's year, current period included, on both backends. The report reads the
roll-ups (storage/repositories/rollups.py), rebuilt once after the base is generated.
`--scale 0.05` makes a quick smoke run; `--keep` generates the base once and reuses it on later
runs (migrated to the head each time), for iterating on the code without minutes of generation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.generate import CITIES, FIRST, SURNAMES, client_name
from bench.scratch_db import drop_kept, kept_engine, scratch_engine
from bot.clock import FrozenClock
from bot.config import AnalyticsSettings, Limits, RuleDefaults
from bot.services.context import Actor, ServiceContext
from bot.services.portfolio.cache import ReportCache
from bot.services.portfolio.periods import Period, current, month_index
from bot.services.portfolio.service import PortfolioService
from storage.db import create_session_factory
from storage.models import Client, Member, Team
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)  # 10:15 in Moscow
KINDS = ("call", "call", "call", "call", "meeting", "proposal", "note")
BATCH = 20_000
# Seconds one generation statement (COPY, the roll-ups' rebuild, ANALYZE) may take on PostgreSQL.
GENERATION_TIMEOUT = 1800


async def _copy_or_insert(
    engine: AsyncEngine, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """COPY on PostgreSQL, executemany of plain tuples on SQLite: the fastest path of each."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            schema = (await conn.execute(text("select current_schema()"))).scalar_one()
            # An explicit timeout: a million rows under a loaded machine's I/O take longer
            # than the connection's 60 s command timeout (TimeoutError was seen).
            await driver.copy_records_to_table(  # type: ignore[union-attr]
                table, records=rows, columns=columns, schema_name=schema, timeout=GENERATION_TIMEOUT
            )
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    for start in range(0, len(rows), BATCH):
        async with engine.begin() as conn:
            await conn.exec_driver_sql(sql, rows[start : start + BATCH])


def _moment(engine: AsyncEngine, value: datetime) -> Any:
    # SQLite keeps naive UTC text (storage/types.py UTCDateTime); PostgreSQL an aware value.
    if engine.dialect.name == "sqlite":
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return value


def _day(engine: AsyncEngine, value: date) -> Any:
    return value.isoformat() if engine.dialect.name == "sqlite" else value


async def generate(
    engine: AsyncEngine, *, managers: int, clients: int, activities: int, deals: int, seed: int = 5
) -> tuple[int, list[int], int]:
    """(team id, manager ids, owner id)"""
    rng = random.Random(seed)
    async with engine.begin() as conn:
        team_id = (
            await conn.execute(
                insert(Team).returning(Team.id),
                {
                    "name": "Bench Co",
                    "timezone": "Europe/Moscow",
                    "currency": "RUB",
                    "followup_hot_days": 3,
                    "followup_warm_days": 14,
                    "followup_cold_days": 30,
                    "no_answer_retry_days": 1,
                    "created_at": NOW,
                },
            )
        ).scalar_one()
        member_rows = [
            {
                "team_id": team_id,
                "telegram_id": 50_000 + n,
                "role": "owner" if n == 0 else "manager",
                "full_name": f"{rng.choice(FIRST)} {rng.choice(SURNAMES)} {n}",
                "username": None,
                "language": "ru",
                "telegram_language": "ru",
                "timezone": "Europe/Moscow",
                "work_start": clock_time(9),
                "work_end": clock_time(18),
                "is_active": True,
                "created_at": NOW,
            }
            for n in range(managers + 1)
        ]
        member_ids = list(
            (await conn.execute(insert(Member).returning(Member.id), member_rows)).scalars()
        )
    owner_id, manager_ids = member_ids[0], member_ids[1:]
    client_rows = []
    for n in range(clients):
        created = NOW - timedelta(days=rng.randint(1, 900))
        client_rows.append(
            {
                "team_id": team_id,
                "manager_id": manager_ids[n % len(manager_ids)],
                "name": client_name(rng, n),
                "city": rng.choice(CITIES),
                "segment": rng.choice(("retail", "wholesale", "horeca", None)),
                "potential": Decimal(rng.randint(1, 50) * 100_000) if n % 2 else None,
                "temperature": rng.choice(("hot", "warm", "cold")),
                "stage": "won",
                "stage_changed_at": created,
                "consent": "unknown",
                "last_contact_at": NOW - timedelta(days=rng.randint(0, 800)) if n % 10 else None,
                "created_at": created,
                "updated_at": created,
            }
        )
    for start in range(0, len(client_rows), 5000):
        async with engine.begin() as conn:
            await conn.execute(insert(Client), client_rows[start : start + 5000])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Client.id, Client.manager_id).where(Client.team_id == team_id)
            )
        ).all()
    client_ids = [r.id for r in rows]
    owner_of = {r.id: r.manager_id for r in rows}
    # A few clients buy a lot and often, most rarely: a realistic ABC spread.
    weights = [1.0 / (1 + i) ** 0.8 for i in range(len(client_ids))]
    span = 730 * 24 * 60
    activity_rows = []
    for _ in range(activities):
        cid = rng.choice(client_ids)
        kind = rng.choice(KINDS)
        activity_rows.append(
            (
                team_id,
                cid,
                owner_of[cid],
                kind,
                "done" if kind == "call" else None,
                None,
                _moment(engine, NOW - timedelta(minutes=rng.randint(1, span))),
            )
        )
    await _copy_or_insert(
        engine,
        "activities",
        ["team_id", "client_id", "author_id", "kind", "outcome", "text", "occurred_at"],
        activity_rows,
    )
    del activity_rows
    deal_rows = []
    buyers = rng.choices(client_ids, weights=weights, k=deals)
    for cid in buyers:
        amount = rng.randint(5, 2000) * 1000
        margin = rng.randint(-10, 45)
        deal_rows.append(
            (
                team_id,
                cid,
                owner_of[cid],
                amount * 100,  # kopecks
                margin * 100,  # basis points
                amount * margin,  # profit in kopecks: amount × margin% × 100
                "RUB",
                _day(engine, (NOW - timedelta(days=rng.randint(0, 729))).date()),
                _moment(engine, NOW),
            )
        )
    await _copy_or_insert(
        engine,
        "deals",
        [
            "team_id",
            "client_id",
            "manager_id",
            "amount",
            "margin_percent",
            "profit",
            "currency",
            "closed_on",
            "created_at",
        ],
        deal_rows,
    )
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))  # fresh statistics, as a live base would have
    return team_id, manager_ids, owner_id


async def hand_sql(
    engine: AsyncEngine,
    team_id: int,
    manager_id: int | None,
    period: Period,
    authors: list[int],
) -> int:
    """The core numbers in plain SQL, the way one would write them by hand over the roll-ups
    (`sales_months`, `activity_days`) the service reads: sales per client and closing manager
    in the period and the previous one, revenue per client and month over both XYZ windows
    (twelve months to each period's last), activity counts per author and kind in the team's
    local period (whole UTC days from the roll-up, the cut hours at both ends from
    `activities`), base health per manager."""
    previous = period.previous()
    first_month = month_index(previous.end) - 11
    scope_sales = "" if manager_id is None else " AND c.manager_id = :m"
    join_clients = "" if manager_id is None else " JOIN clients c ON c.id = s.client_id"
    who = [manager_id] if manager_id is not None else authors
    author = f"author_id IN ({', '.join(str(int(a)) for a in who)})"
    kinds = "kind IN ('call', 'meeting', 'proposal')"
    zone = ZoneInfo("Europe/Moscow")
    start = datetime.combine(period.start, clock_time(0), zone).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), clock_time(0), zone).astimezone(UTC)
    first_day = start.date()
    if start != datetime.combine(first_day, clock_time(0), UTC):
        first_day += timedelta(days=1)  # Moscow's midnight is 21:00 UTC the day before
    last_day = end.date()
    rows = 0
    async with engine.connect() as conn:
        for p in (period, previous):
            result = await conn.execute(
                text(
                    "SELECT client_id, manager_id, SUM(revenue), SUM(profit), SUM(profit_base), "
                    "SUM(deals) FROM sales_months WHERE team_id = :t AND currency = 'RUB' "
                    "AND month BETWEEN :a AND :b GROUP BY client_id, manager_id"
                ),
                {"t": team_id, "a": month_index(p.start), "b": month_index(p.end)},
            )
            rows += len(result.all())
        result = await conn.execute(
            text(
                f"SELECT s.client_id, s.month, SUM(s.revenue) FROM sales_months s{join_clients} "
                "WHERE s.team_id = :t AND s.currency = 'RUB' AND s.month BETWEEN :a AND :b"
                f"{scope_sales} GROUP BY s.client_id, s.month"
            ),
            {"t": team_id, "a": first_month, "b": month_index(period.end), "m": manager_id},
        )
        rows += len(result.all())
        result = await conn.execute(
            text(
                f"SELECT author_id, kind, SUM(count) FROM activity_days WHERE {author} "
                f"AND {kinds} AND day >= :a AND day < :b GROUP BY author_id, kind"
            ),
            {"a": _day(engine, first_day), "b": _day(engine, last_day)},
        )
        rows += len(result.all())
        for low, high in (
            (start, datetime.combine(first_day, clock_time(0), UTC)),
            (datetime.combine(last_day, clock_time(0), UTC), end),
        ):
            result = await conn.execute(
                text(
                    f"SELECT author_id, kind, COUNT(*) FROM activities WHERE {author} "
                    f"AND {kinds} AND occurred_at >= :a AND occurred_at < :b "
                    "GROUP BY author_id, kind"
                ),
                {"a": _moment(engine, low), "b": _moment(engine, high)},
            )
            rows += len(result.all())
        month_ago = _moment(engine, NOW - timedelta(days=30))
        result = await conn.execute(
            text(
                "SELECT manager_id, SUM(CASE WHEN last_contact_at >= :a THEN 1 ELSE 0 END), "
                "COUNT(*) FROM clients WHERE team_id = :t AND archived_at IS NULL"
                + ("" if manager_id is None else " AND manager_id = :m")
                + " GROUP BY manager_id"
            ),
            {"t": team_id, "m": manager_id, "a": month_ago},
        )
        rows += len(result.all())
    return rows


def _load() -> str:
    """The 1-minute load average: figures from a loaded machine are not the quiet ones."""
    try:
        return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def _pcts(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


# Marks a kept base as fully generated (roll-ups included): a run killed halfway leaves none.
DONE_MARK = "bench_portfolio_done"


async def _kept_ids(engine: AsyncEngine) -> tuple[int, list[int], int] | None:
    """(team, managers, owner) of a kept base that was generated to the end, else None."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        if DONE_MARK not in names:
            return None
        team_id = (await conn.execute(select(Team.id).where(Team.name == "Bench Co"))).scalar_one()
        rows = (
            await conn.execute(
                select(Member.id, Member.role).where(Member.team_id == team_id).order_by(Member.id)
            )
        ).all()
    owner_id = next(r.id for r in rows if r.role == "owner")
    return team_id, [r.id for r in rows if r.role != "owner"], owner_id


@asynccontextmanager
async def _engine(args: argparse.Namespace) -> AsyncIterator[AsyncEngine]:
    extra = {"command_timeout": GENERATION_TIMEOUT} if args.backend == "postgres" else {}
    if not args.keep:
        async with scratch_engine(args.backend, "portfolio", **extra) as engine:
            yield engine
        return
    name = f"portfolio_s{args.scale:g}_m{args.managers}".replace(".", "_")
    async with kept_engine(args.backend, name, **extra) as engine:
        if await _kept_ids(engine) is not None:
            yield engine
            return
    # Missing or half-generated: from scratch.
    await drop_kept(args.backend, name)
    async with kept_engine(args.backend, name, **extra) as engine:
        yield engine


async def _fill(engine: AsyncEngine, args: argparse.Namespace) -> tuple[int, list[int], int]:
    scale = args.scale
    t0 = time.perf_counter()
    team_id, manager_ids, owner_id = await generate(
        engine,
        managers=args.managers,
        clients=max(int(10_000 * scale), 50),
        activities=int(1_000_000 * scale),
        deals=int(100_000 * scale),
    )
    fill = time.perf_counter() - t0
    print(
        f"[{args.backend}] base: {args.managers} managers, {max(int(10_000 * scale), 50)} "
        f"clients, {int(1_000_000 * scale)} activities, {int(100_000 * scale)} deals over "
        f"2 years (filled in {fill:.1f} s)"
    )
    uows = UnitOfWorkFactory(create_session_factory(engine))
    # The base was written around the repositories (COPY): the roll-ups are built the way
    # `python -m bot rollups rebuild` builds them, which is also what a migration's fill costs.
    t0 = time.perf_counter()
    async with uows() as uow:
        sales_rows, day_rows = await uow.rollups.rebuild()
        await uow.commit()
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.execute(text(f"CREATE TABLE {DONE_MARK} (done INTEGER)"))
    print(
        f"[{args.backend}] roll-ups rebuilt in {time.perf_counter() - t0:.1f} s: "
        f"{sales_rows} client-months, {day_rows} member-days"
    )
    return team_id, manager_ids, owner_id


async def main(args: argparse.Namespace) -> None:
    scale = args.scale
    async with _engine(args) as engine:
        kept = await _kept_ids(engine) if args.keep else None
        if kept is not None:
            team_id, manager_ids, owner_id = kept
            print(f"[{args.backend}] base: kept from an earlier run (--keep), scale {scale:g}")
        else:
            team_id, manager_ids, owner_id = await _fill(engine, args)
        uows = UnitOfWorkFactory(create_session_factory(engine))
        clock = FrozenClock(NOW)
        manager = manager_ids[0]
        async with uows() as uow:
            members = await uow.members.of_team(team_id)
            found_owner = await uow.members.with_team(members[owner_id].telegram_id)
            assert found_owner is not None
        actor = Actor(*found_owner)
        today = NOW.date()
        cache_off = ReportCache(0)
        cache_on = ReportCache(600)

        async def once(scope: int | None, period: Period, cache: ReportCache) -> float:
            async with uows() as uow:
                ctx = ServiceContext(uow, clock, Limits(), RuleDefaults(), reports=cache)
                service = PortfolioService(ctx, AnalyticsSettings())
                t = time.perf_counter()
                report = await service.report(actor, period, scope)
                elapsed = time.perf_counter() - t
            assert report.period == period
            return elapsed

        async def sql_once(scope: int | None, period: Period) -> float:
            t = time.perf_counter()
            await hand_sql(engine, team_id, scope, period, [owner_id, *manager_ids])
            return time.perf_counter() - t

        targets = {("manager", "M"): 0.1, ("team", "M"): 0.2, ("team", "Y"): 0.3}
        summary: list[str] = []
        for label, scope in (("manager", manager), ("team", None)):
            for kind in ("M", "Q", "Y"):
                period = current(kind, today)
                await once(scope, period, cache_off)  # warm-up: connections, plans
                await sql_once(scope, period)
                # Alternated, so a burst of load on a shared machine hits both alike.
                samples: list[float] = []
                sql: list[float] = []
                for _ in range(args.repeats):
                    samples.append(await once(scope, period, cache_off))
                    sql.append(await sql_once(scope, period))
                p50, p95 = _pcts(samples)
                s50, s95 = _pcts(sql)
                target = targets.get((label, kind))
                verdict = ""
                if target is not None:
                    verdict = f" | target p95 <= {target * 1000:.0f} ms: " + (
                        "OK" if p95 <= target else "MISSED"
                    )
                line = (
                    f"[{args.backend}] {label:7} {period.key:8} service p50 {p50 * 1000:7.1f} ms "
                    f"p95 {p95 * 1000:7.1f} ms | hand SQL p50 {s50 * 1000:6.1f} ms "
                    f"p95 {s95 * 1000:6.1f} ms | ratio p50 {p50 / s50:4.1f}x "
                    f"p95 {p95 / s95:4.1f}x{verdict}"
                )
                print(line)
                if target is not None:
                    summary.append(line)

        async def chart_once(scope: int | None, period: Period, which: str) -> float:
            async with uows() as uow:
                ctx = ServiceContext(uow, clock, Limits(), RuleDefaults(), reports=cache_off)
                service = PortfolioService(ctx, AnalyticsSettings())
                t = time.perf_counter()
                if which == "quality":
                    await service.quality_series(actor, period, scope)
                else:
                    await service.activity_weeks(actor, period, scope)
                return time.perf_counter() - t

        # A section's chart is read after the report: its own reads are the "more" of the
        # target (<= 150 ms), drawing excluded (bench/charts.py times that).
        for label, scope in (("manager", manager), ("team", None)):
            for kind in ("M", "Y"):
                period = current(kind, today)
                for which in ("quality", "weeks"):
                    await chart_once(scope, period, which)
                    times = [await chart_once(scope, period, which) for _ in range(args.repeats)]
                    c50, c95 = _pcts(times)
                    line = (
                        f"[{args.backend}] {label:7} {period.key:8} chart data {which:7} p50 "
                        f"{c50 * 1000:7.1f} ms p95 {c95 * 1000:7.1f} ms | target p95 <= 150 ms: "
                        + ("OK" if c95 <= 0.15 else "MISSED")
                    )
                    print(line)
                    if label == "team":
                        summary.append(line)
        print(f"[{args.backend}] targets (issue 13), load {_load()}:")
        for line in summary:
            print("  " + line)
        ended = current("Y", today).previous()
        await once(None, ended, cache_on)
        hits = [await once(None, ended, cache_on) for _ in range(args.repeats)]
        h50, h95 = _pcts(hits)
        print(
            f"[{args.backend}] team    {ended.key:8} ended, from the cache: p50 "
            f"{h50 * 1000:.1f} ms p95 {h95 * 1000:.1f} ms (data-version check only)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated base under a stable name and reuse it on the next run "
        "(same backend, scale and managers); bench.scratch_db.drop_kept removes it",
    )
    asyncio.run(main(parser.parse_args()))
