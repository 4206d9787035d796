"""Provides LinePlot: a Rich renderable drawing one or more series as a braille line plot.

Conventions, which the tests rely on:
- `width` x `height` is the whole drawing in cells: an optional title line, the plot rows
  (y tick labels and an axis on the left), one x-axis line, one legend line. Every line is
  exactly `width` cells (less only when the console is narrower).
- Braille: each cell holds 2 x 4 dots (U+2800 + dot bits). A series' points are joined by
  straight pixel lines; a NaN/Inf (or, for `log_y`, a non-positive value) breaks the line.
- More points than pixel columns: each pixel column draws the span from the minimum to the
  maximum of the points that fall in it (joined to its neighbours), so spikes stay visible.
- A single point is one dot; a constant series is a flat line in the middle (the y range is
  widened around it).
- `marker_x` (e.g. the current iteration) draws "│" in `marker_style` in every cell of its
  column that holds no dots; the x range always reaches `marker_x`.
- `x_scale`: x units per point (a summary of a long run: a bucket's min and max share
  its iterations); the axis labels and `marker_x` are in x units, the points evenly spaced.
- Without colour (`mono`, or a console with `no_color`/no colour system) the legend names each
  series with its own line glyph and series k >= 1 are drawn dashed: series 1 in every other
  cell column ("╍"), series 2 and on in every third ("┅"). With colour all lines are solid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))   # [dot row][dot col]
_LEGEND_GLYPHS = ("━", "╍", "┅")


def compact(x: float) -> str:
    """A short number for labels: 0, 0.0123, 1.23, 456, 1234, 1.2e5, 3e-5, nan, -inf."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if a == 0:
        return "0"
    if 1000 <= a < 1e5:
        return f"{x:.0f}"
    if 1e-3 <= a < 1000:
        return f"{x:.3g}"
    mant, exp = f"{x:.1e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


def _as_style(s: str | Style | None) -> Style:
    if isinstance(s, Style):
        return s
    return Style.parse(s) if s else Style()


def _mono(console: Console, mono: bool | None) -> bool:
    if mono is not None:
        return mono
    return bool(console.no_color) or console.color_system is None


class LinePlot:
    """Series of numbers over their index as braille lines, with ticks, legend and a marker."""

    def __init__(self, series: list[tuple[str, Sequence[float], str | Style]], *, width: int,
                 height: int, log_y: bool = False, marker_x: int | None = None,
                 x_label: str = "iteration", title: str = "",
                 marker_style: str | Style = "bold yellow", axis_style: str | Style = "dim",
                 mono: bool | None = None, x_scale: float = 1.0, x_last: int | None = None):
        self.series = [(name, np.asarray(vals, dtype=np.float64).reshape(-1), _as_style(st))
                       for name, vals, st in series]
        self.width, self.height = max(1, int(width)), max(1, int(height))
        self.x_scale = float(x_scale) if x_scale and x_scale > 0 else 1.0
        self.x_last, self.marker_label = x_last, marker_x
        self.log_y = log_y                    # marker_x: in points from here on
        self.marker_x = None if marker_x is None else int(marker_x // self.x_scale)
        self.x_label, self.title = x_label, title
        self.marker_style, self.axis_style = _as_style(marker_style), _as_style(axis_style)
        self.mono = mono

    # ---- geometry shared with tests and callers -------------------------------------------
    def _x_count(self) -> int:
        n = max((len(v) for _, v, _ in self.series), default=0)
        if self.marker_x is not None and self.marker_x >= 0:
            n = max(n, self.marker_x + 1)
        return n

    def _px(self, i: int, n: int, wpx: int) -> int:
        """Pixel column of index i when n indices share wpx pixel columns."""
        if n > wpx:
            return i * wpx // n
        return round(i * (wpx - 1) / (n - 1)) if n > 1 else 0

    def _yvals(self, v: np.ndarray) -> np.ndarray:
        """Values in plot units (log10 for log_y); NaN where not drawable."""
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan) if self.log_y else v
        return np.where(np.isfinite(y), y, np.nan)

    # ---- Rich protocol --------------------------------------------------------------------
    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.width, options.max_width)
        return Measurement(w, w)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        for line in self._lines(width, _mono(console, self.mono)):
            line.truncate(width, pad=True)
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    # ---- drawing --------------------------------------------------------------------------
    def _lines(self, width: int, mono: bool) -> list[Text]:
        lines: list[Text] = []
        if self.title:
            lines.append(Text(self.title, style="bold"))
        plot_h = max(1, self.height - len(lines) - 2)
        ys = [self._yvals(v) for _, v, _ in self.series]
        finite = np.concatenate([y[~np.isnan(y)] for y in ys]) if ys else np.zeros(0)
        n = self._x_count()
        if finite.size == 0:
            lines += self._empty(width, plot_h)
        else:
            lo, hi = float(finite.min()), float(finite.max())
            if hi - lo < 1e-12 * max(1.0, abs(lo)):
                pad = 0.5 if self.log_y else (abs(lo) * 0.1 or 1.0)
                lo, hi = lo - pad, hi + pad
            ticks = {plot_h - 1: lo, 0: hi}             # one row: the max wins
            if plot_h >= 3:                        # the row where the middle value is drawn
                ticks[min(plot_h - 2, max(1, round((4 * plot_h - 1) / 2) // 4))] = lo / 2 + hi / 2
            labels = {r: compact(10 ** v if self.log_y else v) for r, v in ticks.items()}
            lw = min(max(len(s) for s in labels.values()), max(0, width - 4))
            plot_w = max(2, width - lw - 1)
            rows = self._canvas(ys, lo, hi, plot_h, plot_w, n, mono)
            for r, row in enumerate(rows):
                line = Text(labels.get(r, "")[:lw].rjust(lw), style=self.axis_style)
                line.append("┤" if r in labels else "│", self.axis_style)
                lines.append(line + row)
            lines.append(self._x_axis(width, lw + 1, plot_w, n))
        lines.append(self._legend(mono))
        return lines

    def _empty(self, width: int, plot_h: int) -> list[Text]:
        rows = [Text("│", style=self.axis_style) for _ in range(plot_h)]
        msg = "no data yet"
        rows[plot_h // 2].append(msg.center(max(len(msg), width - 1)), style="italic")
        return rows + [Text("└" + "─" * (width - 1), style=self.axis_style)]

    def _canvas(self, ys: list[np.ndarray], lo: float, hi: float, plot_h: int, plot_w: int,
                n: int, mono: bool) -> list[Text]:
        wpx, hpx = 2 * plot_w, 4 * plot_h
        bits = np.zeros((len(ys), plot_h, plot_w), dtype=np.int64)

        def py(y: float) -> int:
            frac = (hi / 2 - y / 2) / (hi / 2 - lo / 2)     # halves: no overflow at 1e308
            return min(hpx - 1, max(0, round(frac * (hpx - 1))))

        for k, y in enumerate(ys):
            every = 1 if (not mono or k == 0) else (2 if k == 1 else 3)

            def dot(x: int, yy: int, k=k, every=every) -> None:
                if (x // 2) % every == 0:
                    bits[k, yy // 4, x // 2] |= _BITS[yy % 4][x % 2]

            for path in self._paths(y, n, wpx):
                pts = [(x, py(v)) for x, v in path]
                if len(pts) == 1:
                    dot(*pts[0])
                for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                    for x, yy in _segment(x0, y0, x1, y1):
                        dot(x, yy)
        total = np.bitwise_or.reduce(bits, axis=0)
        counts = np.array([[[bin(int(b)).count("1") for b in row] for row in s] for s in bits])
        mcol = None
        if self.marker_x is not None and 0 <= self.marker_x < n:
            mcol = self._px(self.marker_x, n, wpx) // 2
        rows = []
        for r in range(plot_h):
            line = Text()
            for c in range(plot_w):
                if total[r, c]:
                    k = len(ys) - 1 - int(np.argmax(counts[::-1, r, c]))   # ties: later series
                    line.append(chr(0x2800 + int(total[r, c])), self.series[k][2])
                elif c == mcol:
                    line.append("│", self.marker_style)
                else:
                    line.append(" ")
            rows.append(line)
        return rows

    def _paths(self, y: np.ndarray, n: int, wpx: int) -> list[list[tuple[int, float]]]:
        """Runs of (pixel x, value) to join with lines; a gap (NaN) starts a new run."""
        paths: list[list[tuple[int, float]]] = []
        cur: list[tuple[int, float]] = []
        if n <= wpx:
            for i, v in enumerate(y):
                if np.isnan(v):
                    if cur:
                        paths.append(cur)
                    cur = []
                else:
                    cur.append((self._px(i, n, wpx), float(v)))
        else:
            for x in range(wpx):
                a, b = -(-x * n // wpx), -(-(x + 1) * n // wpx)    # indices i with px(i) == x
                seg = y[a:b]
                ok = np.flatnonzero(~np.isnan(seg))
                if ok.size == 0:
                    if a < len(y) and cur:
                        paths.append(cur)
                        cur = []
                    continue
                vals = seg[ok]
                i_lo, i_hi = int(np.argmin(vals)), int(np.argmax(vals))
                order = sorted({0, i_lo, i_hi, len(vals) - 1})        # first, extremes, last
                cur += [(x, float(vals[j])) for j in order]
        if cur:
            paths.append(cur)
        return paths

    def _x_axis(self, width: int, gutter: int, plot_w: int, n: int) -> Text:
        chars = [" "] * width
        chars[gutter - 1] = "└"

        def put(x: int, s: str) -> None:
            x = max(gutter, min(x, width - len(s)))
            if x >= gutter and all(c == " " for c in chars[max(gutter, x - 1):x + len(s) + 1]):
                chars[x:x + len(s)] = s

        last = str(self.x_last if self.x_last is not None
                   else max(0, round((n - 1) * self.x_scale)))
        put(gutter, "0")
        if n > 1:
            put(gutter + plot_w - len(last), last)
        if self.marker_x is not None and 0 < self.marker_x < n - 1:
            col = gutter + self._px(self.marker_x, n, 2 * plot_w) // 2
            put(col, "↑" + str(self.marker_label))
        if self.x_label:
            put(gutter + (plot_w - len(self.x_label)) // 2, self.x_label)
        return Text("".join(chars), style=self.axis_style)

    def _legend(self, mono: bool) -> Text:
        line = Text()
        for k, (name, _, style) in enumerate(self.series):
            if k:
                line.append("  ")
            glyph = _LEGEND_GLYPHS[min(k, 2)] if mono else "━"
            line.append(f"{glyph} {name}", style)
        return line


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """Pixels of a straight line (Bresenham), both ends included."""
    pts = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x1 > x0 else -1), (1 if y1 > y0 else -1)
    err = dx + dy
    while True:
        pts.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return pts
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy
