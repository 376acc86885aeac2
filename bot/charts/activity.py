"""Activity per week: one small bar chart per kind (calls, meetings, ...) stacked down the page.

Small multiples rather than grouped or stacked bars in one frame: calls outnumber deals tenfold
or more, so on a shared scale the deals would be a sliver nobody can read on a phone. Each kind
gets its own scale and its numbers over the bars; the weeks line up down the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib import colormaps

from bot.charts._base import (
    LABEL_PT,
    MARGIN,
    MUTED,
    TEXT_PT,
    TITLE_PT,
    WIDTH_PT,
    Canvas,
    CategoryLabels,
    fit_size,
    fit_width,
    text_width,
    wrap_lines,
)

_BARS = 78.0  # height of the tallest bar
_NAME_ROW = LABEL_PT * 1.5
_PANEL_GAP = 14.0
_EMPTY_PLOT = 160.0
_TITLE_GAP = 8.0
_WIDEST_BAR = 44.0  # a few weeks do not make slabs
_BAR_SHARE = 0.72  # of a week's slot; the rest is the gap between bars
_NUMBERS_UP_TO = 16  # more weeks: numbers too small to read, only the peak is labelled
_NUMBER_FLOOR_PT = 9.0


def _counts(values: Sequence[int], weeks: int) -> list[int]:
    """Exactly one count per week: a short sequence is padded with zeros, a long one cut."""
    counts = [max(int(value or 0), 0) for value in list(values)[:weeks]]
    return counts + [0] * (weeks - len(counts))


def _weeks_row(
    weeks: Sequence[str], left: float, right: float
) -> tuple[float, list[float], CategoryLabels]:
    slot = (right - left) / max(len(weeks), 1)
    centres = [left + (index + 0.5) * slot for index in range(len(weeks))]
    return slot, centres, CategoryLabels([str(week) for week in weeks], centres)


def draw_activity_per_week(
    weeks: Sequence[str], per_kind: Mapping[str, Sequence[int]], *, title: str
) -> Canvas:
    left, right = MARGIN, WIDTH_PT - MARGIN
    slot, centres, week_labels = _weeks_row(weeks, left, right)
    # A slanted first label reaches left of its bar: move the bars right until it fits.
    overrun = week_labels.overhang + 2 - centres[0] if centres else 0
    if overrun > 0:
        left += overrun
        slot, centres, week_labels = _weeks_row(weeks, left, right)
    kinds = list(per_kind) if weeks else []
    numbers_room = TEXT_PT * 1.4
    panel = _NAME_ROW + numbers_room + _BARS + _PANEL_GAP
    plots = len(kinds) * panel if kinds else _EMPTY_PLOT
    heading = wrap_lines(title, WIDTH_PT - 2 * MARGIN, TITLE_PT, bold=True, max_lines=3)
    bottom = MARGIN + week_labels.height + 4
    height = bottom + plots + _TITLE_GAP + len(heading) * TITLE_PT * 1.25 + MARGIN
    canvas = Canvas(height)
    canvas.title(heading, height - MARGIN)

    if not kinds:
        canvas.segments(
            [((left, bottom), (right, bottom)), ((left, bottom), (left, bottom + _EMPTY_PLOT))],
            color=MUTED,
            width=1.2,
        )
        week_labels.draw(canvas, bottom - 2)
        return canvas

    palette = colormaps["tab10"]
    show_all = len(weeks) <= _NUMBERS_UP_TO
    baselines = []
    for index, kind in enumerate(kinds):
        counts = _counts(per_kind[kind], len(weeks))
        base = bottom + (len(kinds) - 1 - index) * panel + _PANEL_GAP
        baselines.append(((left, base), (right, base)))
        name_y = base + _BARS + numbers_room + 6
        canvas.text(
            left,
            name_y,
            fit_width(kind, right - left, LABEL_PT, bold=True),
            size=LABEL_PT,
            bold=True,
        )
        peak = max(counts)
        if peak == 0:
            continue
        scale = _BARS / peak
        bar = min(slot * _BAR_SHARE, _WIDEST_BAR)
        canvas.boxes(
            [
                (x - bar / 2, base, bar, count * scale)
                for x, count in zip(centres, counts, strict=True)
                if count
            ],
            palette(index % 10),
        )
        texts = [str(count) if count else "" for count in counts]
        if not show_all:
            # Only the first peak keeps its number: the scale of this kind in one glance.
            texts = ["" if i != counts.index(peak) else text for i, text in enumerate(texts)]
        size = (
            TEXT_PT
            if not show_all
            else fit_size(max(texts, key=len), slot * 0.95, start=TEXT_PT, floor=_NUMBER_FLOOR_PT)
        )
        for x, count, text in zip(centres, counts, texts, strict=True):
            if text:
                # A number wider than its bar, over the first or last bar, stays on the page.
                half = text_width(text, size) / 2
                centre = min(max(x, MARGIN + half), WIDTH_PT - MARGIN - half)
                canvas.text(centre, base + count * scale + 5, text, size=size, ha="center")
    canvas.segments(baselines, color=MUTED, width=1.2)
    week_labels.draw(canvas, bottom + _PANEL_GAP - 2)
    return canvas


def activity_per_week(
    weeks: Sequence[str], per_kind: Mapping[str, Sequence[int]], *, title: str
) -> bytes:
    """PNG of each kind's count per week (`per_kind` values align with `weeks`)."""
    return draw_activity_per_week(weeks, per_kind, title=title).png()
