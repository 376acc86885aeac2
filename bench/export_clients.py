"""Export 100,000 clients to XLSX and CSV through the real export service, beside a floor.

    python -m bench.export_clients [--backend sqlite|postgres|both] [--clients 100000]
        [--activities 200000]

Each export runs in a fresh child process, so its peak memory (VmHWM) is the export's own and
not the generator's. Prints rows, file size, seconds, CPU and peak memory per format, and the
same for the floor of the same run: hand-written SQL through the bare driver (asyncpg, sqlite3;
phones and tags aggregated by the database), its rows handed straight to the same file writer
(bot/services/tabular.py) in the same thread: no service, no row conversion, no worker thread
(and no bounded memory: it fetches everything first). The ratio says what the service costs
over that floor. Target (issue 13): <= 15 s and <= 300 MB peak per export of 100,000 clients
with their activities, on a quiet 2-core machine; the load average is printed with each line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


# The floor's hand-written SQL. Columns as bot.fields.EXPORTED lists them, in its order.
def _floor_columns() -> str:
    from bot.fields import EXPORTED, Kind

    phones, tags = {
        "postgresql": (
            "(SELECT string_agg(p.raw, ', ' ORDER BY p.id) FROM client_phones p "
            "WHERE p.client_id = c.id)",
            "(SELECT string_agg('#' || t.tag, ' ' ORDER BY t.tag) FROM client_tags t "
            "WHERE t.client_id = c.id)",
        ),
        "sqlite": (
            "(SELECT group_concat(p.raw, ', ') FROM client_phones p WHERE p.client_id = c.id)",
            "(SELECT group_concat('#' || t.tag, ' ') FROM client_tags t WHERE t.client_id = c.id)",
        ),
    }[_DIALECT[0]]
    names = []
    for field in EXPORTED:
        if field.is_column:
            names.append(f"c.{field.name}")
        elif field.kind is Kind.MANAGER:
            names.append("m.full_name")
        elif field.kind is Kind.FOLLOWUP:
            names.append("f.due_at")
        elif field.kind is Kind.PHONES:
            names.append(phones)
        elif field.kind is Kind.TAGS:
            names.append(tags)
    return ", ".join(names)


_DIALECT = ["postgresql"]
_FLOOR_CLIENTS = (
    "SELECT {columns} FROM clients c JOIN members m ON m.id = c.manager_id "
    "LEFT JOIN followups f ON f.client_id = c.id AND f.state = 'pending' "
    "AND f.kind <> 'campaign' WHERE c.team_id = {team} AND c.erased_at IS NULL ORDER BY c.id"
)
_FLOOR_ACTIVITIES = (
    "SELECT a.id, a.client_id, c.name, a.occurred_at, a.kind, a.outcome, a.text, m.full_name "
    "FROM activities a JOIN clients c ON c.id = a.client_id JOIN members m ON m.id = "
    "a.author_id WHERE a.team_id = {team} AND c.erased_at IS NULL ORDER BY a.id"
)


async def floor(url: str, fmt: str, activities: bool) -> dict[str, object]:
    """The hand-written floor: one query per table through the bare driver, written as read."""
    import asyncpg

    from bot.services.tabular import Sheet, write_csv, write_xlsx

    postgres = not url.startswith("sqlite")
    _DIALECT[0] = "postgresql" if postgres else "sqlite"
    baseline = _rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    queries = [_FLOOR_CLIENTS.format(columns=_floor_columns(), team="{team}")]
    if activities:
        queries.append(_FLOOR_ACTIVITIES)
    tables: list[list[Any]] = []
    if postgres:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            team = await conn.fetchval("SELECT team_id FROM members WHERE role = 'owner'")
            for query in queries:
                tables.append(list(await conn.fetch(query.format(team=int(team)))))
        finally:
            await conn.close()
    else:
        db = sqlite3.connect(url.split(":///", 1)[1])
        try:
            team = db.execute("SELECT team_id FROM members WHERE role = 'owner'").fetchone()[0]
            for query in queries:
                tables.append(db.execute(query.format(team=int(team))).fetchall())
        finally:
            db.close()
    sheets = [Sheet(f"s{n}", [], rows) for n, rows in enumerate(tables)]
    if fmt == "csv":
        size = sum(len(write_csv(sheet)) for sheet in sheets)
    else:
        size = len(write_xlsx(sheets))
    seconds = time.perf_counter() - t0
    return {
        "rows": len(tables[0]),
        "activities": len(tables[1]) if activities else 0,
        "bytes": size,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu0, 2),
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(_rss_mb(), 1),
    }


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


TARGET_SECONDS = 15
TARGET_MB = 300


def _child_run(url: str, fmt: str, activities: bool, *, floor: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.export_clients", "--child", url, "--format", fmt]
    if activities:
        command.append("--with-activities")
    if floor:
        command.append("--floor")
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


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
                label = fmt.upper() + (" + activities" if with_activities else "")
                floor_run = _child_run(url, fmt, with_activities, floor=True)
                r = _child_run(url, fmt, with_activities, floor=False)
                verdict = "ok" if float(r["seconds"]) <= TARGET_SECONDS else "OVER TARGET"
                memory = "ok" if float(r["peak_mb"]) <= TARGET_MB else "OVER TARGET"
                ratio = float(r["seconds"]) / max(float(floor_run["seconds"]), 0.01)
                print(
                    f"[{backend}] {label}: {r['rows']} clients"
                    + (f", {r['activities']} activities" if with_activities else "")
                    + f", {int(r['bytes']) / 1e6:.1f} MB file in {r['seconds']} s "
                    f"(target <= {TARGET_SECONDS} s: {verdict}; CPU {r['cpu_seconds']} s); "
                    f"peak RSS {r['peak_mb']} MB (target <= {TARGET_MB} MB: {memory}; before "
                    f"the export {r['baseline_mb']} MB)\n"
                    f"[{backend}] {label} floor (hand-written SQL, bare driver, same writer): "
                    f"{floor_run['seconds']} s, CPU {floor_run['cpu_seconds']} s, peak RSS "
                    f"{floor_run['peak_mb']} MB; export / floor = {ratio:.2f}; "
                    f"load average {os.getloadavg()[0]:.1f}",
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
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.child:
        run = floor if parsed.floor else child
        report = asyncio.run(run(parsed.child, parsed.format, parsed.with_activities))
        print(json.dumps(report))
    else:
        main(parsed)
