"""Render time and PNG size of each `/portfolio` chart.

    python -m bench.charts [--renders 20]

Prints, per chart and data shape, the median (p50) and worst render time over `--renders`
renders after one warm-up (the first render of a process loads fonts), and the PNG size.
Targets: p50 < 300 ms and < 200 KB each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from bot.charts import abc_xyz_heatmap, activity_per_week, class_shares, quality_trend
from bot.i18n import fmt_money, use_locale

MONTHS = ["дек", "янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя"]
KINDS = ("Звонки", "Встречи", "КП", "Сделки")


def _rub(amount: Decimal) -> str:
    return fmt_money(amount, "RUB")


def _heatmap() -> bytes:
    counts = {(r, c): 7 * i + 3 for i, (r, c) in enumerate((r, c) for r in "ABC" for c in "XYZ")}
    revenue = {key: Decimal(count) * Decimal("123456.78") for key, count in counts.items()}
    return abc_xyz_heatmap(
        counts, revenue, title="Матрица ABC-XYZ: вся команда, ноябрь 2026", format_money=_rub
    )


def _trend(managers: int) -> Callable[[], bytes]:
    series = {
        f"Менеджер Номер {m + 1}": [
            (month, Decimal((m * 7 + i * 3) % 100)) for i, month in enumerate(MONTHS)
        ]
        for m in range(managers)
    }

    def render() -> bytes:
        return quality_trend(series, title="Доля клиентов A по менеджерам", y_label="Доля, %")

    return render


def _shares(managers: int) -> Callable[[], bytes]:
    """What the quality button draws: four periods of A/B/C and X/Y/Z shares per manager."""
    panels = [
        (
            f"Менеджер Номер {m + 1}",
            [
                (
                    month,
                    {
                        "A": Decimal((m * 7 + i * 3) % 60),
                        "B": Decimal(20),
                        "C": Decimal(80 - (m * 7 + i * 3) % 60),
                        "X": Decimal(10),
                        "Y": Decimal((m + i) % 50),
                        "Z": Decimal(90 - (m + i) % 50),
                    },
                )
                for i, month in enumerate(MONTHS[-4:])
            ],
        )
        for m in range(managers)
    ]

    def render() -> bytes:
        return class_shares(
            panels, groups=("ABC", "XYZ"), title="Качество портфеля: доли классов по периодам"
        )

    return render


def _activity(weeks: int) -> Callable[[], bytes]:
    labels = [f"{(i % 28) + 1:02d}.{(i // 4) % 12 + 1:02d}" for i in range(weeks)]
    per_kind = {
        kind: [(i * 37 // (k + 1)) % 60 for i in range(weeks)] for k, kind in enumerate(KINDS)
    }

    def render() -> bytes:
        return activity_per_week(labels, per_kind, title="Активность по неделям: вся команда")

    return render


def measure(render: Callable[[], bytes], renders: int) -> tuple[float, float, float, int]:
    """p50 and max wall time, p50 CPU time (less skewed by other processes), PNG size."""
    render()  # warm-up
    wall = []
    cpu = []
    size = 0
    for _ in range(renders):
        start, start_cpu = time.perf_counter(), time.process_time()
        size = len(render())
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (
        statistics.median(wall) * 1000,
        max(wall) * 1000,
        statistics.median(cpu) * 1000,
        size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[], bytes]]] = [
        ("abc_xyz_heatmap", _heatmap),
        ("quality_trend, 3 managers x 12 months", _trend(3)),
        ("quality_trend, 20 managers x 12 months", _trend(20)),
        ("class_shares, 3 managers x 4 periods", _shares(3)),
        ("class_shares, 24 managers x 4 periods", _shares(24)),
        ("activity_per_week, 4 kinds x 8 weeks", _activity(8)),
        ("activity_per_week, 4 kinds x 13 weeks", _activity(13)),
        ("activity_per_week, 4 kinds x 52 weeks", _activity(52)),
    ]
    print(f"{'chart':42} {'p50 ms':>7} {'max ms':>7} {'CPU p50':>8} {'PNG KB':>7}")
    with use_locale("ru"):
        for name, render in cases:
            p50, worst, cpu, size = measure(render, args.renders)
            print(f"{name:42} {p50:7.0f} {worst:7.0f} {cpu:8.0f} {size / 1024:7.1f}")


if __name__ == "__main__":
    main()
