"""The /portfolio charts: valid phone-sized PNGs, Cyrillic without missing glyphs, the same bytes
for the same data, and no failure on empty or extreme input."""

from __future__ import annotations

import io
import math
import os
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from matplotlib import colormaps
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from PIL import Image

from bot.charts import abc_xyz_heatmap, activity_per_week, class_shares, quality_trend
from bot.charts._base import (
    DPI,
    INK,
    WIDTH_PX,
    Canvas,
    fit_width,
    shorten,
    text_width,
    wrap_lines,
)
from bot.charts.abc_xyz import CELL, COLUMNS, GRID_BOTTOM, GRID_LEFT, ROWS
from bot.charts.activity import draw_activity_per_week
from bot.charts.quality import (
    MAX_PANELS,
    SHARE_COLOURS,
    _periods,
    draw_class_shares,
    draw_quality_trend,
)
from bot.i18n import fmt_money, use_locale

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MONTHS = ["июн", "июл", "авг", "сен", "окт", "ноя"]
WEEKS = ["05.10", "12.10", "19.10", "26.10", "02.11", "09.11", "16.11", "23.11"]


def rub(amount: Decimal) -> str:
    with use_locale("ru"):
        return fmt_money(amount, "RUB")  # "12 345 678 ₽": no-break spaces and the rouble sign


def heatmap() -> bytes:
    return abc_xyz_heatmap(
        {("A", "X"): 12, ("B", "Z"): 17, ("C", "Z"): 41},
        {("A", "X"): Decimal("12345678"), ("B", "Z"): Decimal("990000.50")},
        title="Матрица ABC-XYZ: вся команда, ноябрь 2026 — «ёлки»",
        format_money=rub,
    )


def trend() -> bytes:
    return quality_trend(
        {
            "Иванов Иван": [(m, Decimal(30 - 2 * i)) for i, m in enumerate(MONTHS)],
            "Петров Пётр": [(m, Decimal("10.5") + 4 * i) for i, m in enumerate(MONTHS)],
            "Щукина Юлия Эдуардовна": [(m, Decimal(50)) for m in MONTHS[2:]],
        },
        title="Доля клиентов A по менеджерам",
        y_label="Доля, %",
    )


def activity() -> bytes:
    return activity_per_week(
        WEEKS,
        {
            "Звонки": [42, 55, 38, 61, 47, 52, 70, 33],
            "Встречи": [5, 3, 6, 4, 7, 2, 5, 1],
            "КП": [3, 2, 4, 1, 0, 3, 2, 1],
            "Сделки": [1, 0, 2, 1, 1, 0, 3, 0],
        },
        title="Активность по неделям: Иванов Иван",
    )


GROUPS = (("A", "B", "C"), ("X", "Y", "Z"))


def _shares(a: int, b: int, x: int, y: int) -> dict[str, Decimal | None]:
    return {
        "A": Decimal(a),
        "B": Decimal(b),
        "C": Decimal(100 - a - b),
        "X": Decimal(x),
        "Y": Decimal(y),
        "Z": Decimal(100 - x - y),
    }


NO_CLASS: dict[str, Decimal | None] = dict.fromkeys("ABCXYZ")


def shares() -> bytes:
    growing = [(m, _shares(20 + 10 * i, 30, 10, 40)) for i, m in enumerate(MONTHS)]
    later = [(m, NO_CLASS if i < 2 else _shares(50, 25, 0, 0)) for i, m in enumerate(MONTHS)]
    return class_shares(
        [
            ("Иванов Иван", growing),
            ("Иванов Иван (2)", later),
            ("Щукина Юлия Эдуардовна", [(m, _shares(100, 0, 100, 0)) for m in MONTHS[2:]]),
        ],
        groups=GROUPS,
        title="Качество портфеля: доли классов по периодам",
        caption="Левый столбец A/B/C, правый X/Y/Z",
    )


CHARTS: dict[str, Callable[[], bytes]] = {
    "heatmap": heatmap,
    "trend": trend,
    "activity": activity,
    "shares": shares,
}


def chunk_types(data: bytes) -> set[bytes]:
    types = set()
    offset = len(PNG_MAGIC)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        types.add(data[offset + 4 : offset + 8])
        offset += 12 + length  # length, type, data, CRC
    return types


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every row: a truncated or corrupt stream fails here
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize("name", list(CHARTS))
def test_each_chart_is_a_small_png_as_wide_as_a_phone_screen(name: str) -> None:
    data = CHARTS[name]()
    image = open_png(data)
    assert image.width == WIDTH_PX == 1080
    assert 700 < image.height < 2200  # readable without scrolling through a poster
    assert len(data) < 200 * 1024
    # Pixels and palette only: no tEXt "Software", no tIME that would change the bytes.
    assert chunk_types(data) == {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
    # Not a blank page: the drawing uses the palette, dark text included.
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 5
    assert min(sum(rgb) for _count, rgb in colours) < 3 * 60


def rgb255(colour: object) -> tuple[int, int, int]:
    red, green, blue = to_rgb(colour)  # type: ignore[arg-type]
    return round(red * 255), round(green * 255), round(blue * 255)


def series_colour(index: int) -> tuple[int, int, int]:
    """The colour of the index-th manager or kind (tab10, as the charts pick them)."""
    return rgb255(colormaps["tab10"](index % 10))


def pixels_of(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels are this colour, give or take the palette's rounding."""
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None
    return sum(
        count
        for count, pixel in colours
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True))
    )


def lines_of(canvas: Canvas, index: int) -> list[Line2D]:
    """The index-th series' lines, plot line first, then its legend handle."""
    wanted = colormaps["tab10"](index % 10)
    found = [a for a in canvas.figure.artists if isinstance(a, Line2D)]
    return [line for line in found if line.get_color() == wanted]


def finite_ys(line: Line2D) -> list[float]:
    return [float(y) for y in line.get_ydata() if math.isfinite(y)]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", list(CHARTS))
def test_cyrillic_money_and_dashes_render_without_any_warning(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would raise here
        image = open_png(CHARTS[name]())
    # The title, names and numbers are there: thousands of pixels of the text colour.
    assert pixels_of(image, rgb255(INK), tolerance=8) > 2000


def test_a_glyph_the_font_lacks_is_reported_so_the_cyrillic_check_can_fail() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quality_trend({"漢字": [("ноя", Decimal(10))]}, title="Доля", y_label="%")
    messages = {str(warning.message) for warning in caught}
    assert messages == {
        "Glyph 28450 ('漢') missing from font(s) DejaVu Sans.",
        "Glyph 23383 ('字') missing from font(s) DejaVu Sans.",
    }


@pytest.mark.parametrize("name", list(CHARTS))
def test_the_same_data_gives_the_same_bytes(name: str) -> None:
    assert CHARTS[name]() == CHARTS[name]()


def test_different_data_gives_different_bytes() -> None:
    other = activity_per_week(WEEKS, {"Звонки": [1] * 8}, title="Активность по неделям")
    assert activity() != other
    assert heatmap() != abc_xyz_heatmap({}, {}, title="Матрица", format_money=rub)


def test_renders_in_threads_match_serial_renders() -> None:
    """No shared mutable state: eight charts drawn at once come out as when drawn one by one."""
    serial = {name: render() for name, render in CHARTS.items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [(name, pool.submit(render)) for name, render in list(CHARTS.items()) * 3]
        for name, future in futures:
            assert future.result() == serial[name]


def test_bytes_do_not_depend_on_the_process() -> None:
    """No time stamp, software version or hash-seed order in the file."""
    script = (
        "import sys; from tests.test_charts import CHARTS; "
        "sys.stdout.buffer.write(CHARTS['trend']())"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=120,
    )
    assert done.stdout == trend()


def cell_colour(image: Image.Image, row: str, column: str) -> tuple[int, int, int]:
    """Colour near a cell's top-left corner, clear of the centred numbers."""
    scale = DPI / 72
    x = (GRID_LEFT + COLUMNS.index(column) * CELL + 10) * scale
    y_from_bottom = (GRID_BOTTOM + (3 - ROWS.index(row)) * CELL - 10) * scale
    pixel = image.convert("RGB").getpixel((round(x), round(image.height - y_from_bottom)))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def brightness(rgb: tuple[int, int, int]) -> int:
    return sum(rgb)


def test_heatmap_colour_follows_the_count_and_missing_cells_are_zero() -> None:
    seen: list[Decimal] = []

    def money(amount: Decimal) -> str:
        seen.append(amount)
        return rub(amount)

    data = abc_xyz_heatmap(
        {("A", "X"): 40, ("C", "Z"): 2},
        {("A", "X"): Decimal(100), ("C", "Z"): Decimal("99999999")},
        title="Матрица",
        format_money=money,
    )
    image = open_png(data)
    # Every cell's revenue is printed once, row by row; the keys not given print as zero.
    assert seen == [Decimal(100), *[Decimal(0)] * 7, Decimal("99999999")]
    ax, cz, by = (cell_colour(image, *cell) for cell in (("A", "X"), ("C", "Z"), ("B", "Y")))
    assert brightness(ax) < brightness(cz) < brightness(by)  # more clients: darker
    empty = [(row, column) for row in ROWS for column in COLUMNS if row + column not in "AXCZ"]
    for cell in empty:  # plain light grey (#eeeeee, give or take the palette's rounding)
        assert all(abs(channel - 0xEE) <= 2 for channel in cell_colour(image, *cell))


def test_heatmap_can_colour_by_revenue_instead() -> None:
    image = open_png(
        abc_xyz_heatmap(
            {("A", "X"): 40, ("C", "Z"): 2},
            {("A", "X"): Decimal(100), ("C", "Z"): Decimal("99999999")},
            title="Матрица",
            format_money=rub,
            color_by="revenue",
        )
    )
    assert brightness(cell_colour(image, "C", "Z")) < brightness(cell_colour(image, "A", "X"))


def test_heatmap_takes_huge_negative_and_odd_values() -> None:
    image = open_png(
        abc_xyz_heatmap(
            {("A", "X"): 123_456_789, ("C", "Z"): -3, ("Q", "W"): 5},
            {
                ("A", "X"): Decimal("123456789012345678.99"),
                ("B", "Y"): Decimal("-5000"),
                ("C", "Y"): Decimal("NaN"),
            },
            title="$ABC$ " * 40,  # TeX markers print as typed; a long title is wrapped and cut
            format_money=lambda amount: f"{amount} RUB" if amount.is_finite() else "—",
        )
    )
    assert image.width == WIDTH_PX and image.height < 2200  # the long title is cut, not grown
    # The one positive count takes the darkest blue; a negative count is an empty cell, and
    # ("Q", "W"), no cell of the matrix, colours nothing.
    assert brightness(cell_colour(image, "A", "X")) < 3 * 100
    for row in ROWS:
        for column in COLUMNS:
            if (row, column) != ("A", "X"):
                assert all(abs(c - 0xEE) <= 2 for c in cell_colour(image, row, column))


def test_everything_empty_still_draws_the_frame_and_title() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (
            abc_xyz_heatmap({}, {}, title="Матрица", format_money=rub),
            quality_trend({}, title="Доля A", y_label="%"),
            quality_trend({"Иванов": []}, title="Доля A", y_label="%"),
            activity_per_week([], {}, title="Активность"),
            activity_per_week([], {"Звонки": [1, 2]}, title="Активность"),
            activity_per_week(WEEKS, {}, title="Активность"),
            activity_per_week(WEEKS, {"Звонки": [0] * 8}, title=""),
        ):
            assert open_png(data).width == WIDTH_PX


def test_quality_trend_with_one_manager_and_one_period() -> None:
    canvas = draw_quality_trend({"Иванов": [("ноя", Decimal("42.5"))]}, title="Доля", y_label="%")
    plot, legend = lines_of(canvas, 0)
    assert len(finite_ys(plot)) == 1 and plot.get_marker() == "o"  # one point, as a marker
    assert len(legend.get_xdata()) == 3  # type: ignore[arg-type]
    image = open_png(canvas.png())
    # The marker (9 pt across) and the legend handle, in the manager's colour.
    assert pixels_of(image, series_colour(0)) > 400


def test_quality_trend_with_twenty_managers_grows_the_legend_not_the_width() -> None:
    months = [f"{m} 2026" for m in ("янв", "фев", "мар", "апр", "май", "июн")] * 2
    months = [f"{m} {i}" for i, m in enumerate(months)]
    series = {
        f"Менеджер номер {i} с очень длинным именем и фамилией": [
            (m, Decimal((i * 13 + j * 5) % 101)) for j, m in enumerate(months)
        ]
        for i in range(20)
    }
    many = open_png(quality_trend(series, title="Доля A", y_label="%"))
    few = open_png(quality_trend(dict(list(series.items())[:3]), title="Доля A", y_label="%"))
    assert many.width == few.width == WIDTH_PX
    assert many.height > few.height + 200  # ten legend rows instead of three


def test_periods_keep_every_managers_order_when_one_starts_later() -> None:
    late = {"Новичок": [("авг", Decimal(1)), ("сен", Decimal(2))]}
    full = {"Старожил": [(m, Decimal(3)) for m in ("июл", "авг", "сен")]}
    assert _periods({**late, **full}) == ["июл", "авг", "сен"]
    one = Decimal(1)
    assert _periods({"a": [("1", one), ("3", one)], "b": [("2", one), ("3", one)]}) == [
        "1",
        "2",
        "3",
    ]
    # Contradicting orders do not hang or drop a period.
    assert sorted(_periods({"a": [("x", one), ("y", one)], "b": [("y", one), ("x", one)]})) == [
        "x",
        "y",
    ]
    assert _periods({"a": [("x", one), ("x", one)]}) == ["x"]


def test_quality_trend_takes_gaps_odd_names_and_out_of_range_shares() -> None:
    series = {
        "_underscore": [("a", Decimal(10)), ("c", Decimal(20))],  # gap at "b"
        "Cost $5 $6": [("b", Decimal(150)), ("c", Decimal(-5))],  # pinned to 0..100
        "NaN": [("a", Decimal("NaN")), ("b", Decimal("Infinity"))],
        "Многострочное\nимя\tс табуляцией": [("a", Decimal(1))],
        "Андрии\u0306 Ёлкин": [("b", Decimal(1))],  # "й" as "и" and a combining breve
        "": [("a", Decimal(1))],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        canvas = draw_quality_trend(series, title="Доля\nA", y_label="Доля, %" * 30)
        image = open_png(canvas.png())
    plots = {name: lines_of(canvas, index)[0] for index, name in enumerate(series)}
    # Periods a, b, c: a gap stays a gap, NaN and infinity are not drawn at all.
    assert [math.isfinite(y) for y in plots["_underscore"].get_ydata()] == [True, False, True]  # type: ignore[union-attr]
    assert finite_ys(plots["NaN"]) == []
    # 150 and -5 are pinned to the frame's top and bottom: no point is higher or lower.
    every_y = [y for line in plots.values() for y in finite_ys(line)]
    _, top, bottom = plots["Cost $5 $6"].get_ydata()  # type: ignore[misc]
    assert top == max(every_y) and bottom == min(every_y) and top > bottom
    for index in range(len(series)):  # each manager's colour is on the page
        assert pixels_of(image, series_colour(index)) > 300, index


def test_activity_aligns_counts_with_weeks_and_takes_a_year() -> None:
    weeks = [f"неделя {i}" for i in range(52)]
    canvas = draw_activity_per_week(
        weeks,
        {
            "Звонки": list(range(60)),  # longer than the weeks: cut
            "Встречи": [3],  # shorter: zeros
            "Очень длинное название вида активности, которое не помещается": [0] * 52,
            "Сделки": [10**9] * 52,
        },
        title="Активность по неделям",
    )
    bars = [a for a in canvas.figure.artists if isinstance(a, PolyCollection)]
    # One bar per week with a count: 51 calls (week 0 has none; 52..59 are cut), one meeting,
    # nothing for the all-zero kind, 52 deals; each kind in its own colour.
    assert [len(b.get_paths()) for b in bars] == [51, 1, 52]
    colours = [rgb255(b.get_facecolor()[0]) for b in bars]
    assert colours == [series_colour(0), series_colour(1), series_colour(3)]
    image = open_png(canvas.png())
    assert image.width == WIDTH_PX
    for colour in colours:
        assert pixels_of(image, colour) > 500


def test_activity_grows_with_the_number_of_kinds() -> None:
    one = open_png(activity_per_week(WEEKS, {"Звонки": [1] * 8}, title="Активность"))
    four = open_png(activity())
    assert four.height > one.height + 300


def test_text_helpers_cut_long_names_with_an_ellipsis() -> None:
    assert shorten("Иванов", 10) == "Иванов"
    assert shorten("Константинопольский  Александр", 12) == "Константино…"
    cut = fit_width("Константинопольский Александр Владимирович", 100, 14)
    assert cut.endswith("…") and text_width(cut, 14) <= 100
    assert fit_width("Иванов", 100, 14) == "Иванов"
    lines = wrap_lines("слово " * 100, 400, 18, bold=True, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(text_width(line, 18, bold=True) <= 400 for line in lines)
    assert wrap_lines("   ", 400, 18, bold=True, max_lines=3) == []


def test_class_shares_draw_one_panel_per_entry_namesakes_included() -> None:
    one = [("Иванов", [("ноя", _shares(50, 30, 10, 40))])]
    two = [*one, ("Иванов", [("ноя", _shares(10, 30, 10, 40))])]
    three = [*two, ("Петров", [("ноя", _shares(10, 30, 10, 40))])]

    def height(panels):  # type: ignore[no-untyped-def]
        return draw_class_shares(panels, groups=GROUPS, title="Доли", caption="").height

    # One and two panels share a row (two columns from two on); a third starts a new row.
    assert height(one) == height(two) < height(three)
    many = [("Менеджер", [("ноя", _shares(50, 30, 10, 40))])] * (MAX_PANELS + 6)
    assert height(many) == height(many[:MAX_PANELS])


def test_class_shares_colour_what_is_there_and_outline_what_is_not() -> None:
    def drawn(values: dict[str, Decimal | None]) -> Image.Image:
        return open_png(class_shares([("И", [("ноя", values)])], groups=GROUPS, title="Доли"))

    green = rgb255(SHARE_COLOURS["A"])
    legend = pixels_of(drawn(NO_CLASS), green)  # the legend's swatch only
    assert pixels_of(drawn(_shares(60, 20, 10, 40)), green) > legend + 1000
    assert pixels_of(drawn(_shares(0, 20, 10, 40)), green) == legend
