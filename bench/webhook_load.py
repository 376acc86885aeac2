"""Sustained webhook load: N updates/s for a while through real bot processes, loopback only.

    .venv/bin/python -m bench.webhook_load --backend postgres --duration 600 --rate 50
    .venv/bin/python -m bench.webhook_load --backend sqlite --duration 120
    .venv/bin/python -m bench.webhook_load --backend both --duration 120

PostgreSQL: two instances (`python -m bot run`, webhook mode, Redis for FSM and locks) on one
throw-away database, the load split between them; SQLite: the default single instance. Both reply to
a fake Bot API (tests/support/telegram_api.py) that timestamps every sendMessage.

Updates come from seeded members (so handlers do real work: reads, searches, notes written),
each with a unique update id; a share of them (`--redeliver`) is posted a second time to the
other instance, as Telegram does when it retries. Printed:
- lost: update ids posted and answered 200 but absent from processed_updates;
- duplicated: updates handled successfully more than once (handled counter minus the ids in
  processed_updates; a redelivery of an update whose first handling failed is handled afresh);
- replies: updates without any reply at the fake Bot API;
- latency p50/p99 from posting the update to the bot's first reply reaching the fake;
- RSS (VmRSS) of each instance at start and end, sampled every few seconds, with the slope
  of a least-squares line over the run after the warm-up cut (`--warmup`, MB/min; ~0 means no
  growth trend), and the slope over successive windows after it (`--window`): a slope that falls
  window after window is warm-up still settling, a steady one is a leak.

`--tracemalloc 60` also traces allocations in every bot process (bench/tracemalloc_hook, put on
their PYTHONPATH: the bot itself is untouched) with a snapshot every 60 s, and prints the traced
Python heap's slope (same windows) and the allocation sites that grew most between the first
snapshot after the warm-up cut and the last. Tracing slows the bot: use a modest `--rate`.

    .venv/bin/python -m bench.webhook_load --backend postgres --rate 15 --duration 900 \\
        --tracemalloc 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from storage.db import create_engine
from storage.models import ProcessedUpdate
from tests.support.processes import SECRET, SECRET_HEADER, WEBHOOK_PATH, BotProcess
from tests.support.seed import seed_team
from tests.support.services import create_database, drop_database, unique, wipe_redis
from tests.support.telegram_api import FakeBotApi

RSS_EVERY_SECONDS = 5.0
HOOK = Path(__file__).resolve().parent / "tracemalloc_hook"


@dataclass
class Instance:
    process: BotProcess
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds from start, MB)


# Like Telegram, a refused (non-200) update is posted again, with backoff, this many times.
REDELIVERIES = 8


@dataclass
class Posted:
    update_id: int
    chat_id: int
    at: float
    status: int = 0
    # Non-200 answers (503 when an instance is saturated) that were posted again, as Telegram
    # does: it redelivers until it gets 200.
    refused: int = 0


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs = [p[0] / 60 for p in points]
    ys = [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def trend(points: list[tuple[float, float]], warmup: float, window: float) -> dict[str, Any]:
    """Slope after the warm-up cut, and per successive window after it (MB/min)."""
    kept = [p for p in points if p[0] >= warmup]
    windows = []
    if kept and window > 0:
        start = warmup
        while start < kept[-1][0]:
            part = [p for p in kept if start <= p[0] < start + window]
            if len(part) >= 3:
                label = f"{start:.0f}-{min(start + window, kept[-1][0]):.0f}s"
                windows.append({label: round(slope_per_minute(part), 3)})
            start += window
    slopes = [next(iter(w.values())) for w in windows]
    half = len(slopes) // 2
    overall = slope_per_minute(kept)
    if overall <= 0.1:
        reading = "flat after the warm-up cut (no growth trend)"
    elif half < 1:
        reading = "too short for windows"
    # Halves, not single windows: one window's slope is noisy (a burst of in-flight updates).
    elif statistics.fmean(slopes[-half:]) <= max(0.1, 0.5 * statistics.fmean(slopes[:half])):
        reading = "settling: the slope falls window after window (warm-up, not a leak)"
    else:
        reading = "steady growth: look at the growing allocation sites (--tracemalloc)"
    return {
        f"slope_mb_per_min_after_{warmup:g}s": round(overall, 3),
        "slope_by_window": windows,
        "reading": reading,
    }


# Where a leak would be suspected: caches per member or statement, the FSM, metrics, logging.
PACKAGES = (
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "aiogram",
    "redis",
    "prometheus",
    "pydantic",
    "aiohttp",
    "linecache",
    "logging",
    "asyncio",
    "apscheduler",
    "/bot/",
    "/storage/",
)


def by_package(stats: list[tracemalloc.StatisticDiff]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for stat in stats:
        filename = stat.traceback[0].filename
        name = next((p.strip("/") for p in PACKAGES if p in filename), "other")
        totals[name] = totals.get(name, 0.0) + stat.size_diff / 1024
    return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[-1]
    return filename.removeprefix(str(HOOK.parent.parent) + "/")


def _trace_report(folder: Path, warmup: float, window: float, top: int) -> dict[str, Any]:
    """Traced Python heap over the run, and the sites that grew after the warm-up cut."""
    samples = (
        [json.loads(line) for line in (folder / "traced.jsonl").read_text().splitlines() if line]
        if (folder / "traced.jsonl").exists()
        else []
    )
    snaps = sorted(folder.glob("snap-*.bin"))
    if len(snaps) < 2:
        return {"error": f"fewer than two snapshots in {folder}"}
    after = [s for s in snaps if int(s.stem.split("-")[1]) >= warmup] or snaps[-2:]
    first, last = after[0], snaps[-1]
    if first == last:
        first = snaps[-2]
    ignore = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    )
    old = tracemalloc.Snapshot.load(str(first)).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(str(last)).filter_traces(ignore)
    minutes = (int(last.stem.split("-")[1]) - int(first.stem.split("-")[1])) / 60

    def site(stat: tracemalloc.StatisticDiff) -> str:
        # Frames come oldest first: show the allocating line and its three callers.
        frames = [f"{_short(f.filename)}:{f.lineno}" for f in reversed(stat.traceback)]
        return " <- ".join(frames[:4])

    def grown(key: str) -> list[dict[str, Any]]:
        stats = new.compare_to(old, key)
        stats.sort(key=lambda st: st.size_diff, reverse=True)
        return [
            {
                "kb": round(st.size_diff / 1024, 1),
                "kb_per_min": round(st.size_diff / 1024 / max(minutes, 1e-9), 1),
                "blocks": st.count_diff,
                "at": site(st),
            }
            for st in stats[:top]
            if st.size_diff > 0
        ]

    points = [(float(s["s"]), float(s["traced_mb"])) for s in samples]
    return {
        "compared": f"{first.name} -> {last.name} ({minutes:.1f} min)",
        "traced_mb_start_end": [round(points[0][1], 2), round(points[-1][1], 2)] if points else [],
        # Snapshots are sparser than RSS samples: a window needs three of them.
        "traced": trend(
            points, warmup, max(window, 3 * (points[1][0] - points[0][0]) if len(points) > 1 else 0)
        ),
        "total_growth_kb": round(
            (sum(t.size for t in new.traces) - sum(t.size for t in old.traces)) / 1024, 1
        ),
        "growth_kb_by_package": by_package(new.compare_to(old, "filename")),
        "top_lines": grown("lineno"),
        "top_tracebacks": grown("traceback"),
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def update_body(update_id: int, user_id: int, text: str) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"},
                "text": text,
            },
        }
    ).encode()


def command_for(rng: random.Random, user_id: int, serial: int) -> str:
    client = f"Client {user_id}-0"
    roll = rng.random()
    if roll < 0.35:
        return "/today"
    if roll < 0.55:
        return f"/find Client {user_id}"
    if roll < 0.70:
        return "/list"
    if roll < 0.90:
        return f"/note {client} — bench note {serial}"
    return "/help"


async def run_backend(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"webhook-load-{backend}-"))
    api = FakeBotApi(enforce_limits=False)
    api_url = await api.start()
    database: str | None = None
    if backend == "postgres":
        database_url = database = await create_database("bench")
        count = args.instances
        redis_prefix: str | None = unique("bench")
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
        count = 1
        redis_prefix = None
    instances = [
        Instance(
            BotProcess(
                f"{backend}-{i}",
                workdir,
                api_url=api_url,
                database_url=database_url,
                bot_id=5000 + i,
                redis_prefix=redis_prefix,
                extra_env={"LOG_LEVEL": "WARNING", "DELIVERY__SWEEP_INTERVAL_SECONDS": "5"},
            )
        )
        for i in range(count)
    ]
    if args.tracemalloc:
        for inst in instances:
            env = inst.process.env
            env["PYTHONPATH"] = f"{HOOK}{':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else ''}"
            env["BENCH_TRACEMALLOC_DIR"] = str(workdir / f"trace-{inst.process.name}")
            env["BENCH_TRACEMALLOC_EVERY"] = str(args.tracemalloc)
    engine = create_engine(database_url)
    try:
        for inst in instances:
            inst.process.start()
        await asyncio.gather(*(_wait_healthy(inst.process) for inst in instances))
        seeded = await seed_team(
            engine,
            members=args.users,
            followups_per_member=1,
            # Far ahead: no reminder push mixes with the replies being timed.
            due_at=datetime.now(UTC) + timedelta(days=30),
        )
        result = await _drive(args, instances, api, seeded.telegram_ids)
        result["processed_updates"] = await _processed(engine, result.pop("_ids"))
    finally:
        for inst in instances:
            inst.process.stop()
        await engine.dispose()
        await api.stop()
        if database is not None:
            await drop_database(database)
        if redis_prefix:
            await wipe_redis(redis_prefix)
    result["backend"] = backend
    result["instances"] = count
    result["logs"] = str(workdir)
    result["warmup_s"] = args.warmup
    result["window_s"] = args.window
    summary = _summarise(result)
    if args.tracemalloc:
        summary["tracemalloc"] = {
            inst.process.name: _trace_report(
                workdir / f"trace-{inst.process.name}", args.warmup, args.window, args.top
            )
            for inst in instances
        }
    return summary


async def _wait_healthy(process: BotProcess) -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, process.wait_healthy, 180.0)


async def _processed(engine: Any, ids: set[int]) -> dict[str, int]:
    found: set[int] = set()
    async with engine.connect() as conn:
        ordered = sorted(ids)
        for start in range(0, len(ordered), 5000):
            chunk = ordered[start : start + 5000]
            rows = await conn.execute(
                select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id.in_(chunk))
            )
            found.update(rows.scalars())
    return {"expected": len(ids), "found": len(found), "missing": len(ids - found)}


def _start_tracing(folder: Path) -> None:
    # The hook in the bot process polls for this file (see bench/tracemalloc_hook).
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "start").write_text("0")


async def _drive(
    args: argparse.Namespace, instances: list[Instance], api: FakeBotApi, users: list[int]
) -> dict[str, Any]:
    rng = random.Random(7)
    posted: list[Posted] = []
    redelivered = 0
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=200)
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    started = time.monotonic()
    stop_sampling = asyncio.Event()

    async def sample() -> None:
        while not stop_sampling.is_set():
            for inst in instances:
                mb = rss_mb(inst.process.pid)
                if mb is not None:
                    inst.rss.append((time.monotonic() - started, mb))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_sampling.wait(), RSS_EVERY_SECONDS)

    sampler = asyncio.create_task(sample())
    if args.tracemalloc:
        for inst in instances:
            _start_tracing(Path(inst.process.env["BENCH_TRACEMALLOC_DIR"]))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(item: Posted | None, url: str, body: bytes) -> None:
            for attempt in range(REDELIVERIES + 1):
                try:
                    async with http.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    # Telegram retries a webhook that failed or timed out, and so do we.
                    status = -1
                if item is not None:
                    item.status = status
                if status == 200 or item is None or attempt == REDELIVERIES:
                    return
                item.refused += 1
                await asyncio.sleep(min(2.0**attempt, 16.0))

        total = int(args.rate * args.duration)
        # Users take turns so that one user's updates are seconds apart, like a person's.
        order = list(users)
        for serial in range(total):
            due = started + serial / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            user = order[serial % len(order)]
            update_id = 10_000_000 + serial
            body = update_body(update_id, user, command_for(rng, user, serial))
            target = instances[serial % len(instances)].process
            item = Posted(update_id, user, time.monotonic())
            posted.append(item)
            task = asyncio.create_task(post(item, target.url + WEBHOOK_PATH, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if args.redeliver and rng.random() < args.redeliver:
                other = instances[(serial + 1) % len(instances)].process
                redelivered += 1
                again = asyncio.create_task(post(None, other.url + WEBHOOK_PATH, body))
                tasks.add(again)
                again.add_done_callback(tasks.discard)
        load_seconds = time.monotonic() - started
        load_ended = time.monotonic()
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        # Posts still retrying after that would outlive the HTTP session: their updates count
        # as unanswered or lost below, as they should.
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Drain: every update handled (or the deadline).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = await _totals(http, instances)
            handled = counts["updates_handled_total"] + counts["updates_failed_total"]
            if handled >= len(posted):
                break
            await asyncio.sleep(0.5)
        drain_seconds = time.monotonic() - load_ended
        # Replies may still be on their way to the fake.
        await asyncio.sleep(1.0)
        metrics = await _totals(http, instances)
    stop_sampling.set()
    await sampler
    return {
        "_ids": {p.update_id for p in posted},
        "posted": posted,
        "redelivered": redelivered,
        "load_seconds": load_seconds,
        "drain_seconds": drain_seconds,
        "metrics": metrics,
        "sent": list(api.sent),
        "rss": {inst.process.name: inst.rss for inst in instances},
    }


COUNTERS = (
    "updates_handled_total",
    "updates_failed_total",
    "updates_duplicate_total",
    "webhook_requests_rejected_total",
)


async def _totals(http: aiohttp.ClientSession, instances: list[Instance]) -> dict[str, float]:
    totals = dict.fromkeys(COUNTERS, 0.0)
    for inst in instances:
        body = await _get(http, inst.process.url + "/metrics")
        for name in COUNTERS:
            totals[name] += _metric(body, name)
    return totals


async def _get(http: aiohttp.ClientSession, url: str) -> str:
    # A saturated instance may answer /metrics late; the run's figures must still be printed.
    for attempt in range(5):
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as response:
                return await response.text()
        except (aiohttp.ClientError, TimeoutError):
            if attempt == 4:
                raise
            await asyncio.sleep(2.0)
    raise AssertionError("unreachable")


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _summarise(result: dict[str, Any]) -> dict[str, Any]:
    posted: list[Posted] = result.pop("posted")
    sent = result.pop("sent")
    replies_by_chat: dict[int, list[float]] = {}
    for message in sent:
        replies_by_chat.setdefault(message.chat_id, []).append(message.at)
    for times in replies_by_chat.values():
        times.sort()
    by_chat: dict[int, list[Posted]] = {}
    for item in posted:
        by_chat.setdefault(item.chat_id, []).append(item)
    latencies: list[float] = []
    unanswered = 0
    for chat_id, items in by_chat.items():
        # Every command in the mix answers with one message, and one member's updates are
        # seconds apart: the k-th reply to a chat answers the k-th update posted for it.
        times = replies_by_chat.get(chat_id, [])
        for item, at in zip(items, times, strict=False):
            latencies.append((at - item.at) * 1000)
        unanswered += max(0, len(items) - len(times))
    metrics = result["metrics"]
    unique_ids = len(posted)
    processed = result["processed_updates"]
    warmup, window = result["warmup_s"], result["window_s"]
    rss = {
        name: {
            "start_mb": round(points[0][1], 1) if points else None,
            "end_mb": round(points[-1][1], 1) if points else None,
            "max_mb": round(max(p[1] for p in points), 1) if points else None,
            "samples": len(points),
            **trend(points, warmup, window),
        }
        for name, points in result.pop("rss").items()
    }
    return {
        "backend": result["backend"],
        "instances": result["instances"],
        "updates_posted": unique_ids,
        "achieved_rate_per_s": round(unique_ids / result["load_seconds"], 1),
        "drain_after_load_s": round(result["drain_seconds"], 1),
        "http_not_200": sum(1 for p in posted if p.status != 200),
        "refused_then_redelivered": sum(p.refused for p in posted),
        "redelivered_copies": result["redelivered"],
        "lost": processed["missing"],
        # Each successful handling records its id in processed_updates in the same
        # transaction; more successes than recorded ids would be an update handled twice.
        "duplicated": max(0, int(metrics["updates_handled_total"]) - processed["found"]),
        "duplicates_ignored": int(metrics["updates_duplicate_total"]),
        "failed": int(metrics["updates_failed_total"]),
        "unanswered": unanswered,
        "replies": len(sent),
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p90": round(percentile(latencies, 90), 1),
        "latency_ms_p99": round(percentile(latencies, 99), 1),
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
        "rss": rss,
        "logs": result["logs"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sustained webhook load through bot processes")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=50.0, help="updates per second")
    parser.add_argument("--instances", type=int, default=2, help="PostgreSQL instances")
    parser.add_argument("--users", type=int, default=200, help="members sending updates")
    parser.add_argument(
        "--redeliver", type=float, default=0.01, help="share of updates posted twice"
    )
    parser.add_argument(
        "--warmup", type=float, default=120.0, help="seconds left out of the RSS trend"
    )
    parser.add_argument(
        "--window", type=float, default=180.0, help="seconds per window of the trend (0: none)"
    )
    parser.add_argument(
        "--tracemalloc",
        type=float,
        default=0.0,
        help="trace allocations in the bot processes, a snapshot every this many seconds",
    )
    parser.add_argument("--top", type=int, default=12, help="growing allocation sites shown")
    args = parser.parse_args(argv)
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        summary = asyncio.run(run_backend(args, backend))
        print(json.dumps(summary, indent=2, ensure_ascii=False), flush=True)
        ok = ok and summary["lost"] == 0 and summary["duplicated"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
