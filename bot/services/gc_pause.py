"""Defer full garbage collections while a long job builds many objects on the event loop.

A full (oldest-generation) collection scans every tracked object at once and stops the event
loop meanwhile: during a 50,000-row import it was the longest stall left, over 500 ms on a busy
machine (bench/loop_stall.py), and during an export of 20,000 clients 100-250 ms. Young
collections still run, so garbage keeps being freed; the full one runs after the job, when its
objects are gone and the scan is short. The runtime also freezes what exists at start-up
(`gc.freeze()`), so full collections never rescan the application itself.

Process-wide by nature (the collector is): a counter lets overlapping jobs nest, and the
thresholds come back when the last one ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A threshold for the oldest generation no job reaches: full collections wait.
_DEFERRED = 1_000_000
_state = {"depth": 0, "saved": 10}


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    young, middle, old = gc.get_threshold()
    if _state["depth"] == 0:
        _state["saved"] = old
        gc.set_threshold(young, middle, _DEFERRED)
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, _state["saved"])
