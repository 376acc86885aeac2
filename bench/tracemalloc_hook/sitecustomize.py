"""Allocation tracing for `bench.webhook_load --tracemalloc`; the bot itself knows nothing of it.

The bench puts this folder first on PYTHONPATH of the bot processes it starts, so Python imports
this file at start-up (the `site` hook). It does something only when BENCH_TRACEMALLOC_DIR is set:
a daemon thread waits for the bench to create `start` in that folder (once the bot answers
/health: tracing the imports would make start-up minutes long), starts tracemalloc, then dumps
a snapshot into that folder every BENCH_TRACEMALLOC_EVERY seconds (snap-<seconds>.bin), plus a
line with the traced total per sample in traced.jsonl, so the bench can tell Python-heap growth
(a leak) from RSS that only reflects the allocator keeping freed arenas.
"""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from pathlib import Path


def _start(folder: Path, every: float, frames: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def loop() -> None:
        while not (folder / "start").exists():
            time.sleep(0.5)
        tracemalloc.start(frames)
        # Seconds on the bench's clock: it wrote when its run started into `start`.
        started = time.monotonic() - float((folder / "start").read_text() or 0)
        while True:
            time.sleep(every)
            at = round(time.monotonic() - started)
            current, _peak = tracemalloc.get_traced_memory()
            snapshot = tracemalloc.take_snapshot()
            # Written aside then renamed: the process may be stopped in the middle of a dump.
            partial = folder / f"snap-{at:06d}.part"
            snapshot.dump(str(partial))
            os.replace(partial, folder / f"snap-{at:06d}.bin")
            with (folder / "traced.jsonl").open("a") as out:
                out.write(json.dumps({"s": at, "traced_mb": current / 2**20}) + "\n")

    threading.Thread(target=loop, name="bench-tracemalloc", daemon=True).start()


# Popped: the bot's worker processes (exports, charts) must not trace into the same folder.
_folder = os.environ.pop("BENCH_TRACEMALLOC_DIR", None)
if _folder:
    _start(
        Path(_folder),
        float(os.environ.get("BENCH_TRACEMALLOC_EVERY", "60")),
        int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "8")),
    )
