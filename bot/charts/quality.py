"""Portfolio quality over time: one line per manager, a share in percent on a fixed 0..100 scale."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

from matplotlib import colormaps
from matplotlib.typing import ColorType, LineStyleType

from bot.charts._base import (
    GRID,
    LABEL_PT,
    MARGIN,
    MUTED,
    TEXT_PT,
    TITLE_PT,
    WIDTH_PT,
    Canvas,
    CategoryLabels,
    fit_width,
    text_width,
    to_float,
    wrap_lines,
)

_PLOT_HEIGHT = 300.0
_PLOT_GROWTH = 6.0  # points per manager past four: more lines need more room apart
_TICKS = (0, 20, 40, 60, 80, 100)
_ONE_COLUMN_UP_TO = 4
_ANNOTATE_UP_TO = 4
_LEGEND_ROW = 24.0
_HANDLE = 28.0
_LINE_WIDTH = 3.0
_MARKER_SIZE = 9.0
_POINT_PAD = 14.0  # the first and last points stay a marker's width inside the frame
# Ten strong colours, then the same ten dashed with other markers: twenty managers stay apart.
_MARKERS = ("o", "s", "^", "D")


def _periods(series: Mapping[str, Sequence[tuple[str, Decimal]]]) -> list[str]:
    """Every period label once, in an order that keeps each manager's own order.

    A manager who joined later starts at a later period: first-seen order alone would put the
    earlier periods of the next manager after his. So this is a topological order of "comes
    after" over every manager's sequence, ties broken by first appearance; should two managers
    disagree (a caller's bug), the rest follows first appearance.
    """
    first_seen: dict[str, int] = {}
    after: dict[str, set[str]] = {}
    waiting_for: dict[str, int] = {}
    for points in series.values():
        previous: str | None = None
        for raw, _share in points:
            label = str(raw)
            if label not in first_seen:
                first_seen[label] = len(first_seen)
                after[label] = set()
                waiting_for[label] = 0
            if previous is not None and previous != label and label not in after[previous]:
                after[previous].add(label)
                waiting_for[label] += 1
            previous = label
    order: list[str] = []
    ready = [label for label, count in waiting_for.items() if count == 0]
    while len(order) < len(first_seen):
        if not ready:  # a cycle: take the earliest-seen remaining label
            placed = set(order)
            ready = [min((lb for lb in first_seen if lb not in placed), key=first_seen.__getitem__)]
        label = min(ready, key=first_seen.__getitem__)
        ready.remove(label)
        if label in order:
            continue
        order.append(label)
        for successor in after[label]:
            waiting_for[successor] -= 1
            if waiting_for[successor] == 0:
                ready.append(successor)
    return order


def _style(index: int) -> tuple[ColorType, LineStyleType, str]:
    colour = colormaps["tab10"](index % 10)
    cycle = index // 10
    return colour, "-" if cycle % 2 == 0 else "--", _MARKERS[cycle % len(_MARKERS)]


def _spread(ys: list[float], gap: float) -> list[float]:
    """Value labels at the lines' ends moved apart vertically so that none overlaps another."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = list(ys)
    for previous, current in itertools.pairwise(order):
        placed[current] = max(placed[current], placed[previous] + gap)
    return placed


def _periods_row(
    periods: list[str], first: float, last: float
) -> tuple[list[float], CategoryLabels]:
    if len(periods) > 1:
        step = (last - first) / (len(periods) - 1)
        xs = [first + index * step for index in range(len(periods))]
    else:
        xs = [(first + last) / 2] * len(periods)
    return xs, CategoryLabels(periods, xs)


def draw_quality_trend(
    series: Mapping[str, Sequence[tuple[str, Decimal]]], *, title: str, y_label: str
) -> Canvas:
    periods = _periods(series)
    position = {label: index for index, label in enumerate(periods)}
    names = list(series)
    annotate = 0 < len(names) <= _ANNOTATE_UP_TO
    columns = 1 if len(names) <= _ONE_COLUMN_UP_TO else 2
    legend_height = math.ceil(len(names) / columns) * _LEGEND_ROW

    heading = wrap_lines(title, WIDTH_PT - 2 * MARGIN, TITLE_PT, bold=True, max_lines=3)
    left = MARGIN + LABEL_PT * 1.4 + text_width("100", TEXT_PT) + 10
    right = WIDTH_PT - MARGIN - (text_width("100", TEXT_PT, bold=True) + 14 if annotate else 4)
    xs, period_labels = _periods_row(periods, left + _POINT_PAD, right - _POINT_PAD)
    # A long slanted first label reaches left of its point: move the points right until it fits.
    if xs and period_labels.overhang + 2 > xs[0]:
        first = period_labels.overhang + 2
        xs, period_labels = _periods_row(periods, first, max(right - _POINT_PAD, first))

    bottom = MARGIN + legend_height + (12 if names else 0) + period_labels.height + 6
    plot_height = _PLOT_HEIGHT + _PLOT_GROWTH * min(max(len(names) - 4, 0), 20)
    height = bottom + plot_height + 20 + len(heading) * TITLE_PT * 1.25 + MARGIN
    canvas = Canvas(height)
    canvas.title(heading, height - MARGIN)

    def y_of(share: float) -> float:
        return bottom + share / 100 * plot_height

    canvas.segments([((left, y_of(t)), (right, y_of(t))) for t in _TICKS[1:]], color=GRID, width=1)
    canvas.segments(
        [((left, bottom), (right, bottom)), ((left, bottom), (left, y_of(100)))],
        color=MUTED,
        width=1.2,
    )
    for tick in _TICKS:
        canvas.text(left - 8, y_of(tick), str(tick), ha="right", va="center")
    label = fit_width(y_label, plot_height, LABEL_PT)
    canvas.text(MARGIN, y_of(50), label, size=LABEL_PT, rotation=90, ha="center", va="top")
    period_labels.draw(canvas, bottom - 2)

    ends: list[tuple[float, float, ColorType]] = []
    column_width = (WIDTH_PT - 2 * MARGIN) / columns
    for index, name in enumerate(names):
        values = [math.nan] * len(periods)
        for period, share in series[name]:
            value = to_float(share)
            # A share outside 0..100 is a caller's rounding slip: pin it to the frame.
            values[position[str(period)]] = value if math.isnan(value) else min(max(value, 0), 100)
        colour, style, marker = _style(index)
        canvas.line(
            xs,
            [y_of(value) for value in values],
            color=colour,
            width=_LINE_WIDTH,
            style=style,
            marker=marker,
            marker_size=_MARKER_SIZE,
        )
        finite = [(x, value) for x, value in zip(xs, values, strict=True) if not math.isnan(value)]
        if annotate and finite:
            ends.append((*finite[-1], colour))

        row, column = divmod(index, columns)
        x0 = MARGIN + column * column_width
        y = MARGIN + legend_height - (row + 0.5) * _LEGEND_ROW
        canvas.line(
            [x0, x0 + _HANDLE / 2, x0 + _HANDLE],
            [y, y, y],
            color=colour,
            width=_LINE_WIDTH,
            style=style,
            marker=marker,
            marker_size=_MARKER_SIZE,
        ).set_markevery([1])
        space = column_width - _HANDLE - 14
        canvas.text(x0 + _HANDLE + 8, y, fit_width(name, space, TEXT_PT), va="center")

    placed = _spread([y_of(value) for _x, value, _c in ends], TEXT_PT * 1.1)
    for (x, value, colour), y in zip(ends, placed, strict=True):
        canvas.text(x + 12, y, f"{value:.0f}", bold=True, color=colour, va="center")
    return canvas


def quality_trend(
    series: Mapping[str, Sequence[tuple[str, Decimal]]], *, title: str, y_label: str
) -> bytes:
    """PNG of each manager's share (0..100) per period; gaps where a period has no value."""
    return draw_quality_trend(series, title=title, y_label=y_label).png()
