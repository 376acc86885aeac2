"""Export 100,000 clients to XLSX and CSV through the real export service.

    python -m bench.export_clients [--backend sqlite|postgres|both] [--clients 100000]

Each export runs in a fresh child process, so its peak memory (ru_maxrss) is the export's own and
not the generator's. Prints rows, file size, seconds and peak memory per format. Target: <= 30 s
per export of 100,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.generate import generate
from bot.clock import SystemClock
from bot.config import Limits, RuleDefaults
from bot.i18n import use_locale
from bot.services.context import Actor, ServiceContext
from bot.services.export import ExportRequest, ExportService
from bot.telegram.views.data_rights import export_labels
from storage.db import create_engine, create_session_factory
from storage.dto import MemberDTO, TeamDTO, to_dto
from storage.migrate import upgrade
from storage.models import Member, Team
from storage.uow import UnitOfWorkFactory
from tests.support.services import create_database, drop_database

RUNS = (("xlsx", False), ("csv", False), ("xlsx", True))


def _rss_mb() -> float:
    """Peak resident memory of this process so far. VmHWM starts afresh at exec; ru_maxrss
    would carry over the parent's peak (the generator's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(url: str, fmt: str, activities: bool) -> dict[str, object]:
    engine = create_engine(url)
    uows = UnitOfWorkFactory(create_session_factory(engine))
    try:
        async with uows() as uow:
            member = await uow.session.scalar(select(Member).where(Member.role == "owner"))
            assert member is not None
            team = await uow.session.get(Team, member.team_id)
            actor = Actor(to_dto(MemberDTO, member), to_dto(TeamDTO, team))
        baseline = _rss_mb()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        async with uows() as uow:
            ctx = ServiceContext(uow, SystemClock(), Limits(), RuleDefaults())
            with use_locale("ru"):
                result = await ExportService(ctx).export(
                    actor, ExportRequest(fmt=fmt, activities=activities), export_labels()
                )
            await uow.commit()
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0  # all threads: what the export costs on an idle box
        return {
            "rows": result.clients,
            "activities": result.activities,
            "bytes": sum(len(f.data) for f in result.files),
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "baseline_mb": round(baseline, 1),
            "peak_mb": round(_rss_mb(), 1),
        }
    finally:
        await engine.dispose()


async def prepare(backend: str, args: argparse.Namespace) -> tuple[str, str | None, float]:
    """The database's URL, and again when it is a throw-away PostgreSQL one to drop after."""
    database = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'export.sqlite3'}"
    else:
        url = database = await create_database("bench")
    engine = create_engine(url)
    try:
        await upgrade(engine)
        t0 = time.perf_counter()
        await generate(
            engine,
            managers=20,
            clients=args.clients,
            activities=args.activities,
            deals=args.clients // 10,
        )
        return url, database, time.perf_counter() - t0
    finally:
        await engine.dispose()


async def drop(database: str | None) -> None:
    if database:
        await drop_database(database)


def main(args: argparse.Namespace) -> None:
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        url, database, fill = asyncio.run(prepare(backend, args))
        print(
            f"[{backend}] base: {args.clients} clients, {args.activities} activities "
            f"(filled in {fill:.1f} s)",
            flush=True,
        )
        try:
            for fmt, with_activities in RUNS:
                command = [sys.executable, "-m", "bench.export_clients", "--child", url]
                command += ["--format", fmt]
                if with_activities:
                    command.append("--with-activities")
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                label = fmt.upper() + (" + activities" if with_activities else "")
                verdict = "ok" if float(r["seconds"]) <= 30 else "OVER TARGET"
                print(
                    f"[{backend}] {label}: {r['rows']} clients"
                    + (f", {r['activities']} activities" if with_activities else "")
                    + f", {int(r['bytes']) / 1e6:.1f} MB file in {r['seconds']} s "
                    f"(target <= 30 s: {verdict}; CPU {r['cpu_seconds']} s, load average "
                    f"{os.getloadavg()[0]:.1f}); peak RSS {r['peak_mb']} MB "
                    f"(before the export {r['baseline_mb']} MB)",
                    flush=True,
                )
        finally:
            asyncio.run(drop(database))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--child", metavar="URL")
    parser.add_argument("--format", default="xlsx", choices=["xlsx", "csv"])
    parser.add_argument("--with-activities", action="store_true")
    parsed = parser.parse_args()
    if parsed.child:
        report = asyncio.run(child(parsed.child, parsed.format, parsed.with_activities))
        print(json.dumps(report))
    else:
        main(parsed)
