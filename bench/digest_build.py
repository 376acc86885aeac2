"""Plan and build every member's morning digest on a generated base.

    python -m bench.digest_build [--backend sqlite|postgres] [--members 1000] [--clients 100000]

Prints the time to plan (one outbox row per member) and the time to build every digest's content
and text, as the sweep does when it sends them. Target: both together <= 5 s for 1,000 members
and 100,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bench.generate import generate
from bench.scratch_db import scratch_engine
from bot.config import DeliverySettings
from bot.i18n import use_locale
from bot.services.digest import DigestBatch, load_digest, plan_digests
from bot.telegram.views.common import Viewer, digest_text
from storage.db import create_session_factory
from storage.models import OutboxMessage
from storage.repositories.outbox import _COLUMNS, OutboxRow
from storage.uow import UnitOfWorkFactory


async def main(args: argparse.Namespace) -> None:
    async with scratch_engine(args.backend, "digest") as engine:
        morning = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
        t0 = time.perf_counter()
        await generate(
            engine,
            managers=args.members,
            clients=args.clients,
            activities=args.activities,
            deals=args.deals,
            now=morning - timedelta(hours=12),
        )
        fill = time.perf_counter() - t0
        uows = UnitOfWorkFactory(create_session_factory(engine))

        t0 = time.perf_counter()
        async with uows() as uow:
            planned = await plan_digests(uow, morning, late_after=timedelta(minutes=5))
            await uow.commit()
        plan_s = time.perf_counter() - t0

        async with uows() as uow:
            rows = [
                OutboxRow(*row)
                for row in await uow.session.execute(
                    select(*_COLUMNS).where(OutboxMessage.kind == "digest")
                )
            ]
        t0 = time.perf_counter()
        sizes = []
        # As the sweep does: one snapshot of team figures, reused for its lifetime.
        assert DeliverySettings().digest_snapshot_seconds > 0
        batch = DigestBatch(morning)
        for row in rows:
            async with uows() as uow:
                digest = await load_digest(uow, row, morning, batch)
            assert digest is not None
            zone = ZoneInfo(digest.member.timezone)
            with use_locale("ru"):
                sizes.append(len(digest_text(digest, Viewer(zone, digest.day))))
        build_s = time.perf_counter() - t0
        print(
            f"[{args.backend}] base: {args.members} members, {args.clients} clients, "
            f"{args.activities} activities (filled in {fill:.1f} s)\n"
            f"[{args.backend}] planned {planned} digests in {plan_s:.2f} s; built all contents "
            f"and texts in {build_s:.2f} s ({build_s / max(len(rows), 1) * 1000:.1f} ms each); "
            f"total {plan_s + build_s:.2f} s (target <= 5 s); "
            f"average text {sum(sizes) // max(len(sizes), 1)} chars"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=20_000)
    asyncio.run(main(parser.parse_args()))
