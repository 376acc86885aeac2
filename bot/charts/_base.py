"""What every chart shares: a phone-sized canvas, text, deterministic PNG bytes.

Charts are drawn straight onto a `matplotlib.figure.Figure` with an Agg canvas, in points
from the bottom-left corner: no pyplot, no Axes, no matplotlib Text.
- No pyplot: no global figure registry or backend switch, so renders in several threads do not
  step on each other (rcParams are only read).
- No Axes: the layout is computed here from measured text. An Axes' tick machinery and the
  constrained layout engine cost several times the drawing itself.
- No Text artists: matplotlib loads and rasterises every glyph of every label on every draw
  (twice: once to measure), about 0.1 ms a glyph, which made text most of a render. Here each
  glyph's outline is loaded once per process and kept; a chart's text becomes one filled path
  per colour. Kerning is not applied (invisible at these sizes). A side effect: no TeX parsing,
  so a name with "$" in it prints as typed.

Size: 6 in at 180 dpi = 1080 px, the width of a phone screen, so Telegram shows the picture
1:1 and one point is 2.5 px: 14 pt text is 35 px tall, about the size of the chat's own text.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font, LoadFlags
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.transforms import Affine2D
from matplotlib.typing import ColorType, LineStyleType
from PIL import Image

DPI = 180
WIDTH_PT = 432.0  # 6 in
WIDTH_PX = round(WIDTH_PT / 72 * DPI)
MARGIN = 14.0

# DejaVu Sans ships inside matplotlib and has Cyrillic, ₽, €, the no-break spaces Babel puts
# in numbers and "…": naming it keeps a system font without Cyrillic from being picked.
FONT_FAMILY = "DejaVu Sans"
TITLE_PT = 18.0
LABEL_PT = 15.0
TEXT_PT = 14.0
INK = "#1a1a1a"
MUTED = "#555555"
GRID = "#d4d4d4"
# Antialiased edges make thousands of colours; reduced to a 256-colour palette (no dithering,
# so flat areas stay flat) the PNG is a third of the RGB size and no slower to encode: twenty
# crossing lines weigh about 120 KB instead of 300 KB. The difference is invisible at 1:1.
_PALETTE_COLOURS = 256
# zlib level 3 instead of the default 6: 15% larger, less than half the time (measured here).
_COMPRESS_LEVEL = 3


def one_line(text: str) -> str:
    """Caller's text as one line: any run of whitespace (newlines, tabs) is one space, and
    letters typed as a base and a combining mark ("й" from some keyboards) are one glyph."""
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut with "…" (names can be any length)."""
    line = one_line(text)
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 1)].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class _Glyph:
    vertices: np.ndarray  # outline in points at _OUTLINE_PT, origin on the baseline
    codes: np.ndarray
    advance: float  # at _OUTLINE_PT
    missing: bool


_OUTLINE_PT = 64.0


class _Face:
    """One font file's glyph outlines, loaded on first use and kept for the process.

    FT2Font is not safe to share between threads; loading happens under a lock, and a loaded
    glyph is immutable, so reads need none.
    """

    def __init__(self, *, bold: bool) -> None:
        properties = FontProperties(family=FONT_FAMILY, weight="bold" if bold else "normal")
        self._font = FT2Font(findfont(properties, fallback_to_default=False))
        self._font.set_size(_OUTLINE_PT, 72)  # 72 dpi: outline units are points
        self._glyphs: dict[str, _Glyph] = {}
        self._lock = threading.Lock()
        self.cap_height = self.glyph("H").vertices[:, 1].max() / _OUTLINE_PT

    def glyph(self, char: str) -> _Glyph:
        glyph = self._glyphs.get(char)
        if glyph is None:
            with self._lock:
                glyph = self._glyphs.get(char) or self._load(char)
                self._glyphs[char] = glyph
        return glyph

    def _load(self, char: str) -> _Glyph:
        index = self._font.get_char_index(ord(char))
        # Index 0 is the font's "missing" box: drawn, and reported each time it is used.
        loaded = self._font.load_glyph(index, flags=LoadFlags.NO_HINTING)
        vertices, codes = self._font.get_path()
        vertices.setflags(write=False)
        codes.setflags(write=False)
        return _Glyph(vertices, codes, loaded.linearHoriAdvance / 65536, missing=index == 0)


_faces: dict[bool, _Face] = {}
_faces_lock = threading.Lock()


def _face(bold: bool) -> _Face:
    face = _faces.get(bold)
    if face is None:
        with _faces_lock:
            face = _faces.get(bold) or _Face(bold=bold)
            _faces[bold] = face
    return face


def _glyphs(text: str, bold: bool, *, drawn: bool = False) -> list[_Glyph]:
    glyphs = [_face(bold).glyph(char) for char in text]
    for char, glyph in zip(text, glyphs, strict=True):
        if glyph.missing and drawn:
            # The wording of matplotlib's own warning, so that the usual filters catch it.
            warnings.warn(
                f"Glyph {ord(char)} ({char!r}) missing from font(s) {FONT_FAMILY}.",
                UserWarning,
                stacklevel=3,
            )
    return glyphs


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Width of one line of text in points, as it will be drawn."""
    return sum(glyph.advance for glyph in _glyphs(text, bold)) * size / _OUTLINE_PT


def fit_width(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """`text` cut with "…" until it fits `width` points at `size`."""
    line = one_line(text)
    if text_width(line, size, bold=bold) <= width:
        return line
    # Start from the proportional guess, then step down: a few measurements at most.
    limit = max(1, int(len(line) * width / text_width(line, size, bold=bold)) + 1)
    while limit > 1 and text_width(shorten(line, limit), size, bold=bold) > width:
        limit -= 1
    return shorten(line, limit)


def fit_size(text: str, width: float, *, start: float, floor: float, bold: bool = False) -> float:
    """The largest font size from `start` down to `floor` at which `text` fits `width` points."""
    measured = text_width(text, start, bold=bold)
    if measured <= width:
        return start
    # Width grows linearly with the size: one division, then rounded down to half points.
    return max(math.floor(start * width / measured * 2) / 2, floor)


def wrap_lines(text: str, width: float, size: float, *, bold: bool, max_lines: int) -> list[str]:
    """A caller's title as lines that fit `width` points, at most `max_lines` of them."""
    line = one_line(text)
    if not line:
        return []
    # Characters per line from the average glyph width of this very text.
    per_char = text_width(line, size, bold=bold) / len(line)
    lines = textwrap.wrap(line, width=max(int(width / per_char), 8))
    while any(text_width(part, size, bold=bold) > width for part in lines):
        chars = max(len(part) for part in lines) - 1
        lines = textwrap.wrap(line, width=max(chars, 1))
        if chars <= 1:
            break
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], fit_width(rest, width, size, bold=bold)]
    return lines


def to_float(value: Decimal | float | None) -> float:
    """Decimal to float for drawing only; NaN, infinities and None draw as nothing."""
    if value is None:
        return math.nan
    result = float(value)
    return result if math.isfinite(result) else math.nan


class Canvas:
    """A white page `WIDTH_PT` wide and `height` points tall; (0, 0) is the bottom-left."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.figure = Figure(figsize=(WIDTH_PT / 72, height / 72), dpi=DPI, facecolor="white")
        self._agg = FigureCanvasAgg(self.figure)  # the figure's canvas from now on
        self._points = Affine2D().scale(1 / 72) + self.figure.dpi_scale_trans
        # All text of one colour, as glyph outlines, drawn as one path over everything else.
        self._ink: dict[tuple[float, ...], tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = TEXT_PT,
        bold: bool = False,
        color: object = INK,
        ha: str = "left",
        va: str = "baseline",
        rotation: float = 0,
    ) -> None:
        """One line of text anchored at (x, y), turned `rotation` degrees about that anchor.

        `ha`: left, center, right; `va`: baseline, center (of capitals), top (of capitals).
        """
        glyphs = _glyphs(one_line(text), bold, drawn=True)
        scale = size / _OUTLINE_PT
        width = sum(glyph.advance for glyph in glyphs) * scale
        cap = _face(bold).cap_height * size
        dx = {"left": 0.0, "center": -width / 2, "right": -width}[ha]
        dy = {"baseline": 0.0, "center": -cap / 2, "top": -cap}[va]
        pieces = []
        codes = []
        pen = 0.0
        for glyph in glyphs:
            if len(glyph.codes):
                pieces.append(glyph.vertices * scale + (pen + dx, dy))
                codes.append(glyph.codes)
            pen += glyph.advance * scale
        if not pieces:
            return
        vertices = np.concatenate(pieces)
        if rotation:
            angle = math.radians(rotation)
            cos, sin = math.cos(angle), math.sin(angle)
            vertices = vertices @ np.array([[cos, sin], [-sin, cos]])
        key = to_rgba(color)  # type: ignore[arg-type]
        bucket = self._ink.setdefault(key, ([], []))
        bucket[0].append(vertices + np.array((x, y)))
        bucket[1].append(np.concatenate(codes))

    def title(self, lines: Sequence[str], top: float) -> float:
        """Centred bold title lines from `top` down; returns the y under the last one."""
        y = top
        for line in lines:
            y -= TITLE_PT * 1.25
            self.text(
                WIDTH_PT / 2, y + TITLE_PT * 0.25, line, size=TITLE_PT, bold=True, ha="center"
            )
        return y

    def boxes(
        self,
        boxes: Sequence[tuple[float, float, float, float]],
        colors: Sequence[object] | object,
        *,
        edge: object = "none",
        edge_width: float = 0,
    ) -> None:
        """Filled rectangles given as (x, y, width, height), one artist for all of them."""
        if not boxes:
            return
        polygons = [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)] for x, y, w, h in boxes]
        collection = PolyCollection(
            polygons,
            facecolors=colors,
            edgecolors=edge,
            linewidths=edge_width,
            transform=self._points,
        )
        self.figure.add_artist(collection)

    def segments(
        self,
        segments: Sequence[tuple[tuple[float, float], tuple[float, float]]],
        *,
        color: object,
        width: float,
    ) -> None:
        if segments:
            self.figure.add_artist(
                LineCollection(segments, colors=color, linewidths=width, transform=self._points)
            )

    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        *,
        color: ColorType,
        width: float,
        style: LineStyleType = "-",
        marker: str = "None",
        marker_size: float = 0,
    ) -> Line2D:
        """A polyline; NaN in `ys` leaves a gap."""
        line = Line2D(
            xs,
            ys,
            color=color,
            linewidth=width,
            linestyle=style,
            marker=marker,
            markersize=marker_size,
            transform=self._points,
            solid_capstyle="round",
            solid_joinstyle="round",
        )
        self.figure.add_artist(line)
        return line

    def _add_text_paths(self) -> None:
        for colour, (vertices, codes) in self._ink.items():
            path = Path(np.concatenate(vertices), np.concatenate(codes))
            self.figure.add_artist(
                PathPatch(
                    path, facecolor=colour, edgecolor="none", transform=self._points, zorder=5
                )
            )
        self._ink = {}

    def png(self) -> bytes:
        """PNG bytes that depend only on the drawing: no software, time or dpi chunks."""
        self._add_text_paths()
        self.figure.canvas.draw()
        width, height = self.figure.canvas.get_width_height()
        rgba = Image.frombuffer(
            "RGBA", (width, height), self._agg.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        palette = rgba.convert("RGB").quantize(
            _PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        palette.save(buffer, format="PNG", compress_level=_COMPRESS_LEVEL)
        return buffer.getvalue()


class CategoryLabels:
    """Labels under a row of categories (periods, weeks), planned before the page is sized.

    Horizontal when they fit their slot, else slanted; when even slanted labels would touch,
    every n-th is shown, and always the last one: the latest period is the one the reader wants.
    """

    _ANGLE = 40.0
    _LONGEST = 120.0  # points; a longer label is cut with "…"

    def __init__(self, labels: Sequence[str], centres: Sequence[float], size: float = TEXT_PT):
        self.lines = [fit_width(label, self._LONGEST, size) for label in labels]
        self.centres = list(centres)
        self.size = size
        count = len(centres)
        slot = (centres[-1] - centres[0]) / (count - 1) if count > 1 else WIDTH_PT
        widths = [text_width(line, size) for line in self.lines]
        widest = max(widths, default=0.0)
        self.slanted = widest + size * 0.5 > slot
        self.keep = max(1, math.ceil(size * 1.4 / slot)) if self.slanted else 1
        angle = math.radians(self._ANGLE)
        if not self.lines:
            self.height = 0.0
            self.overhang = 0.0
        elif self.slanted:
            self.height = widest * math.sin(angle) + size * math.cos(angle) + 10
            # How far the first label reaches left of its category's centre.
            self.overhang = widths[0] * math.cos(angle) + size * 0.3
        else:
            self.height = size * 1.6
            self.overhang = widths[0] / 2

    def shown(self) -> list[int]:
        last = len(self.lines) - 1
        return [
            index
            for index in range(len(self.lines))
            if index == last or (index % self.keep == 0 and last - index >= self.keep)
        ]

    def draw(self, canvas: Canvas, top: float) -> None:
        for index in self.shown():
            line, x = self.lines[index], self.centres[index]
            if self.slanted:
                canvas.text(
                    x + self.size * 0.3,
                    top - 6,
                    line,
                    size=self.size,
                    ha="right",
                    va="top",
                    rotation=self._ANGLE,
                )
            else:
                canvas.text(x, top - self.size * 1.2, line, size=self.size, ha="center")
