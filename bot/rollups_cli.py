"""`python -m bot rollups rebuild|check [--team ID]`: the /portfolio roll-ups from scratch, or
compared with a recomputation from the raw rows (storage/repositories/rollups.py).

`rebuild` runs in one transaction: reports keep reading the old rows until it commits, and a
write that comes meanwhile waits for it (SQLite) or is serialised by the upserts' row locks
(PostgreSQL). `check` exits 1 when anything differs and names the first differing keys.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

SHOWN = 10


async def run(settings: Settings, action: str, team_id: int | None) -> int:
    from bot.app import build_engine
    from storage.db import create_session_factory
    from storage.uow import UnitOfWorkFactory

    engine = build_engine(settings)
    try:
        uows = UnitOfWorkFactory(create_session_factory(engine))
        started = time.perf_counter()
        async with uows() as uow:
            if action == "rebuild":
                sales, days = await uow.rollups.rebuild(team_id)
                await uow.commit()
                print(
                    f"roll-ups rebuilt in {time.perf_counter() - started:.1f} s: "
                    f"{sales} client-month rows, {days} member-day rows"
                )
                return 0
            found = await uow.rollups.check(team_id)
    finally:
        await engine.dispose()
    print(
        f"compared {found.sales_rows} client-month rows and {found.day_rows} member-day rows "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if found.ok:
        print("roll-ups match the raw rows")
        return 0
    for label, keys in (("sales_months", found.sales_wrong), ("activity_days", found.days_wrong)):
        if keys:
            print(f"{label}: {len(keys)} rows differ, e.g. {keys[:SHOWN]}", file=sys.stderr)
    print("run `python -m bot rollups rebuild` to recompute them", file=sys.stderr)
    return 1
