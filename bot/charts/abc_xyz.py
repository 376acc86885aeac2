"""ABC-XYZ matrix as a 3×3 heat map: A/B/C rows, X/Y/Z columns, count and revenue per cell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Literal

from matplotlib import colormaps
from matplotlib.typing import ColorType

from bot.charts._base import (
    INK,
    MARGIN,
    MUTED,
    TITLE_PT,
    WIDTH_PT,
    Canvas,
    fit_size,
    one_line,
    to_float,
    wrap_lines,
)

ROWS = ("A", "B", "C")
COLUMNS = ("X", "Y", "Z")

_HEADER_PT = 22.0
_COUNT_PT = 26.0
_MONEY_PT = 15.0
_MONEY_FLOOR_PT = 9.0
_ROW_HEADER = 40.0  # room left of the grid for "A", "B", "C"
_COLUMN_HEADER = 36.0
_GAP = 4.0  # white line between cells
# Where the grid sits, in points from the bottom-left corner (tests sample the cells' colours).
GRID_LEFT = MARGIN + _ROW_HEADER
GRID_BOTTOM = MARGIN
CELL = (WIDTH_PT - GRID_LEFT - MARGIN) / 3
_EMPTY_CELL = "#eeeeee"
# The palette's lightest end is nearly white; starting further in keeps a count of 1 visibly
# coloured next to an empty cell, and the darkest end still takes white text.
_CMAP_FROM = 0.15
_CMAP_TO = 0.9


def _luminance(rgba: tuple[float, float, float, float]) -> float:
    red, green, blue, _alpha = rgba
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def draw_abc_xyz_heatmap(
    counts: Mapping[tuple[str, str], int],
    revenue: Mapping[tuple[str, str], Decimal],
    *,
    title: str,
    format_money: Callable[[Decimal], str],
    color_by: Literal["count", "revenue"] = "count",
) -> Canvas:
    heading = wrap_lines(title, WIDTH_PT - 2 * MARGIN, TITLE_PT, bold=True, max_lines=3)
    grid_top = GRID_BOTTOM + 3 * CELL
    height = grid_top + _COLUMN_HEADER + len(heading) * TITLE_PT * 1.25 + MARGIN + 6
    canvas = Canvas(height)
    canvas.title(heading, height - MARGIN)

    cells = [(row, column) for row in ROWS for column in COLUMNS]
    count_of = {cell: int(counts.get(cell, 0) or 0) for cell in cells}
    money_of = {cell: revenue.get(cell) or Decimal(0) for cell in cells}
    if color_by == "revenue":
        weights = [max(to_float(money_of[cell]), 0.0) for cell in cells]
        weights = [0.0 if weight != weight else weight for weight in weights]  # NaN
    else:
        weights = [float(max(count_of[cell], 0)) for cell in cells]
    top = max(weights)
    cmap = colormaps["Blues"]

    left = GRID_LEFT
    for index, column in enumerate(COLUMNS):
        x = left + (index + 0.5) * CELL
        canvas.text(x, grid_top + 10, column, size=_HEADER_PT, bold=True, ha="center")
    boxes = []
    faces = []
    for row_index, row in enumerate(ROWS):
        y = grid_top - (row_index + 1) * CELL
        canvas.text(
            MARGIN + _ROW_HEADER / 2,
            y + CELL / 2,
            row,
            size=_HEADER_PT,
            bold=True,
            ha="center",
            va="center",
        )
        for column_index, column in enumerate(COLUMNS):
            cell = (row, column)
            weight = weights[row_index * 3 + column_index]
            face: ColorType
            if weight > 0:
                face = cmap(_CMAP_FROM + (_CMAP_TO - _CMAP_FROM) * weight / top)
                ink = "white" if _luminance(face) < 0.5 else INK
            else:
                face = _EMPTY_CELL
                ink = MUTED
            x = left + column_index * CELL
            boxes.append((x + _GAP / 2, y + _GAP / 2, CELL - _GAP, CELL - _GAP))
            faces.append(face)
            centre = x + CELL / 2
            count = str(count_of[cell])
            count_size = fit_size(
                count, CELL - 3 * _GAP, start=_COUNT_PT, floor=_MONEY_PT, bold=True
            )
            canvas.text(
                centre,
                y + CELL * 0.5 + 4,
                count,
                size=count_size,
                bold=True,
                color=ink,
                ha="center",
            )
            money = one_line(format_money(money_of[cell]))
            # Huge sums shrink to fit the cell rather than spill into the neighbour.
            size = fit_size(money, CELL - 3 * _GAP, start=_MONEY_PT, floor=_MONEY_FLOOR_PT)
            canvas.text(
                centre, y + CELL * 0.5 - 10, money, size=size, color=ink, ha="center", va="top"
            )
    canvas.boxes(boxes, faces)
    return canvas


def abc_xyz_heatmap(
    counts: Mapping[tuple[str, str], int],
    revenue: Mapping[tuple[str, str], Decimal],
    *,
    title: str,
    format_money: Callable[[Decimal], str],
    color_by: Literal["count", "revenue"] = "count",
) -> bytes:
    """PNG of the matrix; a missing key is a zero cell, colour follows `color_by`."""
    canvas = draw_abc_xyz_heatmap(
        counts, revenue, title=title, format_money=format_money, color_by=color_by
    )
    return canvas.png()
