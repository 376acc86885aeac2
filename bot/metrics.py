"""A few counters and gauges in the Prometheus text format (version 0.0.4), written by hand.

Counters live in this process (each instance is scraped on its own); the outbox gauges are read
from the database at scrape time, so every instance reports the same shared backlog.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metrics:
    updates_handled: int = 0
    updates_failed: int = 0
    updates_duplicate: int = 0
    updates_rejected: int = 0  # webhook requests refused: wrong secret or malformed body
    reminders_sent: int = 0
    sweep_ticks: int = 0
    sweep_failures: int = 0
    in_flight: int = 0
    # Webhook requests answered 503 because every slot stayed taken (Telegram redelivers them).
    updates_overloaded: int = 0
    # Updates retried in-process after a transient database error.
    updates_retried: int = 0
    webhook_waiting: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    def count_update(self, outcome: str) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1
        if outcome == "duplicate":
            self.updates_duplicate += 1
        elif outcome == "error":
            self.updates_failed += 1
        else:
            # "ok" and "refused" (a polite answer to bad input) were both handled.
            self.updates_handled += 1

    def render(self, backlog: int | None, oldest_due: datetime | None, now: datetime) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, value: float) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name} {_number(value)}")

        metric(
            "updates_handled_total",
            "counter",
            "Telegram updates handled to the end (including polite refusals of bad input).",
            self.updates_handled,
        )
        metric(
            "updates_failed_total",
            "counter",
            "Telegram updates whose handling raised an unexpected error.",
            self.updates_failed,
        )
        metric(
            "updates_duplicate_total",
            "counter",
            "Telegram updates ignored because their update id was already taken.",
            self.updates_duplicate,
        )
        metric(
            "webhook_requests_rejected_total",
            "counter",
            "Webhook requests refused for a wrong secret or a malformed body.",
            self.updates_rejected,
        )
        metric(
            "updates_in_flight",
            "gauge",
            "Telegram updates being handled right now.",
            self.in_flight,
        )
        metric(
            "webhook_requests_overloaded_total",
            "counter",
            "Webhook requests answered 503 because no slot freed in time (Telegram redelivers).",
            self.updates_overloaded,
        )
        metric(
            "webhook_requests_waiting",
            "gauge",
            "Webhook requests waiting for a free slot right now.",
            self.webhook_waiting,
        )
        metric(
            "updates_retried_total",
            "counter",
            "Update attempts repeated after a transient database error.",
            self.updates_retried,
        )
        metric(
            "reminders_sent_total",
            "counter",
            "Outbox messages (reminders, digests, nudges, alerts) delivered by this instance.",
            self.reminders_sent,
        )
        metric(
            "sweep_ticks_failed_total",
            "counter",
            "Delivery sweep ticks that ended with an error (retried on the next tick).",
            self.sweep_failures,
        )
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of this instance since the Unix epoch, in seconds.",
            round(self.started_at, 3),
        )
        rss = resident_memory_bytes()
        if rss is not None:
            metric(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory of this instance in bytes.",
                rss,
            )
        if backlog is not None:
            metric(
                "outbox_backlog",
                "gauge",
                "Pending outbox rows whose next attempt is due now.",
                backlog,
            )
            age = max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0
            metric(
                "outbox_oldest_due_seconds",
                "gauge",
                "Seconds since the oldest pending outbox row came due (0 when none is due).",
                age,
            )
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}"


def resident_memory_bytes() -> int | None:
    """From /proc on Linux (the containers'); None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
