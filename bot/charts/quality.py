"""Portfolio quality over time: a share per manager as lines on a fixed 0..100 scale, or every
class share per manager as stacked bars, one small panel per manager."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

from matplotlib import colormaps
from matplotlib.typing import ColorType, LineStyleType

from bot.charts._base import (
    GRID,
    INK,
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


# -- class shares: one small panel per manager, two stacked bars (ABC, XYZ) per period ---------

SHARE_COLOURS = {
    "A": "#1b7f3b",
    "B": "#f0b429",
    "C": "#cfcfcf",
    "X": "#1f5fa8",
    "Y": "#7fb2e5",
    "Z": "#dde8f3",
}
_ON_DARK = {"A", "X"}  # a share written inside these segments is white
_PANEL_GAP = 14.0
_PANEL_NAME = 22.0
_PANEL_PLOT = 112.0
_PANEL_PERIODS = 18.0
_PERIOD_PT = 10.0
_VALUE_PT = 9.0
_SWATCH = 12.0
MAX_PANELS = 24  # a taller picture is one Telegram refuses or shrinks past reading


def draw_class_shares(
    panels: Sequence[tuple[str, Sequence[tuple[str, Mapping[str, Decimal | None]]]]],
    *,
    groups: Sequence[Sequence[str]],
    title: str,
    caption: str,
) -> Canvas:
    """Each panel (a manager, in the given order; two may carry the same name) shows, per
    period, one stacked bar per group of classes (A/B/C, X/Y/Z): the class shares in percent,
    bottom up, with the first class's share written in its segment when there is room; a
    period without a class is an empty outline."""
    shown = list(panels)[:MAX_PANELS]
    columns = 1 if len(shown) <= 1 else 2
    rows = math.ceil(len(shown) / columns)
    inner = WIDTH_PT - 2 * MARGIN
    panel_width = (inner - _PANEL_GAP * (columns - 1)) / columns
    panel_height = _PANEL_NAME + _PANEL_PLOT + _PANEL_PERIODS + _PANEL_GAP
    heading = wrap_lines(title, inner, TITLE_PT, bold=True, max_lines=3)
    notes = wrap_lines(caption, inner, _PERIOD_PT + 1, bold=False, max_lines=3) if caption else []
    legend = _SWATCH + 10 + len(notes) * (_PERIOD_PT + 4)
    height = MARGIN + legend + rows * panel_height + len(heading) * TITLE_PT * 1.25 + 10 + MARGIN
    canvas = Canvas(height)
    top = canvas.title(heading, height - MARGIN) - 10

    boxes: list[tuple[float, float, float, float]] = []
    colours: list[object] = []
    empty: list[tuple[float, float, float, float]] = []
    for index, (name, points) in enumerate(shown):
        row, column = divmod(index, columns)
        x0 = MARGIN + column * (panel_width + _PANEL_GAP)
        y_top = top - row * panel_height
        canvas.text(
            x0, y_top - TEXT_PT, fit_width(name, panel_width, TEXT_PT, bold=True), bold=True
        )
        base = y_top - _PANEL_NAME - _PANEL_PLOT
        canvas.segments([((x0, base), (x0 + panel_width, base))], color=MUTED, width=1.0)
        slot = panel_width / max(len(points), 1)
        bar = slot * 0.8 / max(len(groups), 1)
        for p_index, (label, shares) in enumerate(points):
            left = x0 + p_index * slot + slot * 0.1
            for g_index, classes in enumerate(groups):
                x = left + g_index * bar
                values = [shares.get(cls) for cls in classes]
                if all(value is None for value in values):
                    empty.append((x + 1, base, bar - 2, _PANEL_PLOT))
                    continue
                y = base
                for cls, value in zip(classes, values, strict=True):
                    share = min(max(to_float(value), 0.0), 100.0) if value is not None else 0.0
                    if math.isnan(share) or share <= 0:
                        continue
                    height_pt = share / 100 * _PANEL_PLOT
                    boxes.append((x + 1, y, bar - 2, height_pt))
                    colours.append(SHARE_COLOURS.get(cls, GRID))
                    number = f"{share:.0f}"
                    fits = text_width(number, _VALUE_PT, bold=True) <= bar - 4
                    if cls == classes[0] and height_pt >= _VALUE_PT * 1.5 and fits:
                        canvas.text(
                            x + bar / 2,
                            y + height_pt / 2,
                            number,
                            size=_VALUE_PT,
                            bold=True,
                            color="white" if cls in _ON_DARK else INK,
                            ha="center",
                            va="center",
                        )
                    y += height_pt
            canvas.text(
                left + slot * 0.4,
                base - _PERIOD_PT - 4,
                fit_width(label, slot, _PERIOD_PT),
                size=_PERIOD_PT,
                color=MUTED,
                ha="center",
            )
    canvas.boxes(boxes, colours)
    canvas.boxes(empty, "none", edge=MUTED, edge_width=0.8)

    x = MARGIN
    y = MARGIN + len(notes) * (_PERIOD_PT + 4) + 4
    swatches: list[tuple[float, float, float, float]] = []
    swatch_colours: list[object] = []
    for classes in groups:
        for cls in classes:
            swatches.append((x, y, _SWATCH, _SWATCH))
            swatch_colours.append(SHARE_COLOURS.get(cls, GRID))
            canvas.text(x + _SWATCH + 4, y + _SWATCH / 2, cls, size=TEXT_PT, va="center")
            x += _SWATCH + 4 + text_width(cls, TEXT_PT) + 12
        x += 12
    canvas.boxes(swatches, swatch_colours, edge=MUTED, edge_width=0.5)
    for n, line in enumerate(notes):
        canvas.text(
            MARGIN,
            MARGIN + (len(notes) - 1 - n) * (_PERIOD_PT + 4),
            line,
            size=_PERIOD_PT + 1,
            color=MUTED,
        )
    return canvas


def class_shares(
    panels: Sequence[tuple[str, Sequence[tuple[str, Mapping[str, Decimal | None]]]]],
    *,
    groups: Sequence[Sequence[str]],
    title: str,
    caption: str = "",
) -> bytes:
    """PNG of each manager's class shares per period (see `draw_class_shares`)."""
    return draw_class_shares(panels, groups=groups, title=title, caption=caption).png()
