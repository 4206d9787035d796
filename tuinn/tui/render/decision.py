"""Provides DecisionMap: a Rich renderable of a 2-D data set over a model's decision regions.

TensorFlow-Playground style. Conventions, which the tests rely on:
- `grid` is (GH, GW): predicted class ids (or real values when `regression`) sampled over
  `extent` = (x0, x1, y0, y1); row 0 is the top (y1), column 0 the left (x0). Ask
  `DecisionMap.grid_shape(width_cells, height_cells)` for the grid to evaluate: (2h, w).
- Each text cell shows two grid rows as "▀" (fg = upper row, bg = lower row) in a muted
  tint of the class colour (CLASS_RGB, class 0 orange, 1 blue, ...; ids beyond the palette
  wrap). Regression tints are diverging: orange below 0, blue above, scaled by max |value|.
- A point is drawn in the cell it falls in (x in [x0, x1], y in [y0, y1]; others are left
  out) as its class glyph (CLASS_GLYPHS: "●" 0, "▲" 1, "■" 2, "◆" 3, ...) in the bright
  class colour over the tint of its half of the cell. Several points in one cell: the most
  frequent class wins (ties: the smaller id). Regression points: "●" for a target > 0, "○"
  otherwise, coloured by value, the cell's mean target.
- Without colour (`mono`, or a console with `no_color`/no colour system) a region cell shows
  a texture of its upper row's class (MONO_TEXTURES: class 0 blank, 1 "·", 2 "∶", ...) or,
  for regression, of the sign and size ("=" "-" " " "+" "#").
- The last line is a footer: "x -6 … 6  y -6 … 6  ● 0  ▲ 1"; in a map narrower than that
  the legend comes first and keeps every class ("● 0  ▲ 1  ■ 2  x -6…6 y -6…6", then
  closer, "●0 ▲1 ■2"), the extent shortened or left out.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from tuinn.tui.render.plot import compact

CLASS_RGB = ((245, 147, 34), (8, 119, 189), (76, 175, 80), (171, 71, 188),
             (229, 57, 53), (0, 172, 193), (253, 216, 53), (141, 110, 99))
CLASS_GLYPHS = ("●", "▲", "■", "◆", "▼", "✚", "✖", "★")
MONO_TEXTURES = (" ", "·", "∶", "░", "+", "=", "~", "%")
_BASE = (28, 28, 28)        # what a tint is mixed with (a dark terminal background)
_TINT = 0.38                # share of the class colour in a region tint
RGB = tuple[int, int, int]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _mix_array(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """_mix over arrays: a and b (..., 3) colours, t (...) shares; float results, whole."""
    t = np.clip(t, 0.0, 1.0)[..., None]
    return np.rint(a + (b - a) * t)


def _rgb_color(rgb: RGB) -> Color:
    return Color.from_rgb(*rgb)


class DecisionMap:
    """Decision regions as half-block cells with the data points drawn over them."""

    def __init__(self, grid: np.ndarray, points_xy: np.ndarray, point_classes: np.ndarray, *,
                 extent: tuple[float, float, float, float], n_classes: int,
                 regression: bool = False, mono: bool | None = None):
        g = np.asarray(grid)
        if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
            raise ValueError(f"decision map: grid must be 2-D and non-empty, got {g.shape}")
        pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        cls = np.asarray(point_classes).reshape(-1)
        if len(cls) != len(pts):
            raise ValueError(f"decision map: {len(pts)} points but {len(cls)} classes")
        x0, x1, y0, y1 = (float(v) for v in extent)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"decision map: empty extent {extent}")
        self.grid, self.points, self.classes = g, pts, cls
        self.extent, self.n_classes = (x0, x1, y0, y1), int(n_classes)
        self.regression, self.mono = regression, mono
        if regression:
            vals = np.asarray(g, dtype=np.float64)
            fin = np.abs(vals[np.isfinite(vals)])
            self.scale = float(fin.max()) if fin.size and fin.max() > 0 else 1.0
            fin_t = np.abs(cls.astype(np.float64))
            fin_t = fin_t[np.isfinite(fin_t)]
            self.target_scale = float(fin_t.max()) if fin_t.size and fin_t.max() > 0 else 1.0

    @staticmethod
    def grid_shape(width_cells: int, height_cells: int) -> tuple[int, int]:
        """The (GH, GW) grid to evaluate the model on for a map of this many cells."""
        return 2 * max(1, int(height_cells)), max(1, int(width_cells))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in cells, the footer line included."""
        return self.grid.shape[1], (self.grid.shape[0] + 1) // 2 + 1

    def cell_of(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(column, text row, grid row) of a data point, or None when outside the extent."""
        x0, x1, y0, y1 = self.extent
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return None
        gh, gw = self.grid.shape
        col = min(gw - 1, int((x - x0) / (x1 - x0) * gw))
        grow = min(gh - 1, int((y1 - y) / (y1 - y0) * gh))
        return col, grow // 2, grow

    # ---- colours --------------------------------------------------------------------------
    def _class_rgb(self, k) -> RGB:
        try:
            return CLASS_RGB[int(k) % len(CLASS_RGB)]
        except (ValueError, OverflowError):         # NaN id
            return (120, 120, 120)

    def _value_rgb(self, v: float, scale: float) -> RGB:
        if not np.isfinite(v):
            return (200, 0, 200)
        t = v / scale
        return _mix((235, 235, 235), CLASS_RGB[1] if t > 0 else CLASS_RGB[0], abs(t))

    def _tint(self, v) -> RGB:
        if self.regression:
            return _mix(_BASE, self._value_rgb(float(v), self.scale), _TINT)
        return _mix(_BASE, self._class_rgb(v), _TINT)

    def _tint_grid(self) -> np.ndarray:
        """(GH, GW, 3) int: `_tint` of every grid value at once, the same numbers (the
        same float operations, rounded half to even as `round` does)."""
        g = np.asarray(self.grid, dtype=np.float64)
        finite = np.isfinite(g)
        if self.regression:
            t = np.where(finite, g, 0.0) / self.scale
            target = np.where((t > 0)[..., None], np.array(CLASS_RGB[1], float),
                              np.array(CLASS_RGB[0], float))
            rgb = _mix_array(np.full(3, 235.0), target, np.abs(t))
            rgb[~finite] = (200, 0, 200)
        else:
            ids = np.where(finite, g, 0.0)
            big = np.abs(ids) >= 2 ** 62                # int() works; % keeps it in range
            k = np.mod(np.trunc(np.where(big, 0.0, ids)).astype(np.int64), len(CLASS_RGB))
            rgb = np.array(CLASS_RGB, dtype=np.float64)[k]
            rgb[~finite] = (120, 120, 120)
            if big.any():                               # exact for ids beyond int64 too
                rgb[big & finite] = [self._class_rgb(v) for v in g[big & finite]]
        return _mix_array(np.array(_BASE, float), rgb, np.full(g.shape, _TINT)).astype(np.int64)

    def _texture(self, v) -> str:
        if self.regression:
            v = float(v)
            if not np.isfinite(v):
                return "?"
            t = v / self.scale
            return ("=" if t < -0.5 else "-" if t < -0.1 else " " if t <= 0.1
                    else "+" if t <= 0.5 else "#")
        try:
            return MONO_TEXTURES[int(v) % len(MONO_TEXTURES)]
        except (ValueError, OverflowError):
            return "?"

    # ---- Rich protocol --------------------------------------------------------------------
    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.grid.shape[1], options.max_width)
        return Measurement(w, w)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        mono = self.mono if self.mono is not None else (
            bool(console.no_color) or console.color_system is None)
        for line in self._lines(mono):
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def _points_by_cell(self) -> dict[tuple[int, int], tuple[str, RGB, int]]:
        """(text row, col) -> (glyph, bright colour, grid row of a representative point)."""
        bins: dict[tuple[int, int], list[tuple[float, int]]] = {}
        for (x, y), k in zip(self.points, self.classes):
            where = self.cell_of(x, y)
            if where is None:
                continue
            col, row, grow = where
            bins.setdefault((row, col), []).append((k, grow))
        out = {}
        for key, items in bins.items():
            if self.regression:
                v = float(np.nanmean([float(k) for k, _ in items])) if any(
                    np.isfinite(float(k)) for k, _ in items) else float("nan")
                glyph = "●" if v > 0 else "○"
                out[key] = (glyph, self._value_rgb(v, self.target_scale), items[-1][1])
                continue
            ids = [int(k) for k, _ in items]
            best = min(set(ids), key=lambda c: (-ids.count(c), c))
            grow = [g for k, g in zip(ids, (g for _, g in items)) if k == best][-1]
            out[key] = (CLASS_GLYPHS[best % len(CLASS_GLYPHS)], self._class_rgb(best), grow)
        return out

    def _lines(self, mono: bool) -> list[Text]:
        """One line per two grid rows ("▀": the upper row's tint over the lower's), the
        points over them, then the footer. A run of cells of one style is one append:
        a map redraws with every run-mode report, on the UI thread."""
        g = self.grid
        gh, gw = g.shape
        pts = self._points_by_cell()
        tints = None if mono else self._tint_grid()           # (GH, GW, 3)
        styles: dict[tuple, Style] = {}

        def half_block(up: tuple, lo: tuple) -> Style:
            style = styles.get((up, lo))
            if style is None:
                style = styles[(up, lo)] = Style(color=_rgb_color(up), bgcolor=_rgb_color(lo))
            return style

        lines = []
        for row in range((gh + 1) // 2):
            up, lo = g[2 * row], g[min(2 * row + 1, gh - 1)]
            if tints is not None:
                t_up = list(map(tuple, tints[2 * row].tolist()))
                t_lo = list(map(tuple, tints[min(2 * row + 1, gh - 1)].tolist()))
            line = Text()
            run, run_style = 0, None
            for c in range(gw):
                if (row, c) in pts or mono:
                    if run:
                        line.append("▀" * run, run_style)
                        run = 0
                    if (row, c) in pts:
                        glyph, rgb, grow = pts[(row, c)]
                        under = (tuple(tints[grow, c].tolist()) if tints is not None
                                 else self._tint(g[grow, c]))
                        line.append(glyph, Style(color=_rgb_color(rgb),
                                                 bgcolor=_rgb_color(under), bold=True))
                    else:
                        line.append(self._texture(up[c]))
                    continue
                style = half_block(t_up[c], t_lo[c])
                if run and style is not run_style:
                    line.append("▀" * run, run_style)
                    run = 0
                run, run_style = run + 1, style
            if run:
                line.append("▀" * run, run_style)
            lines.append(line)
        lines.append(self._footer())
        return lines

    def _footer(self) -> Text:
        """Extent, then the legend; when that is wider than the map, the legend first (every
        class, closer together if need be) and the extent only if it still fits."""
        x0, x1, y0, y1 = self.extent
        extent = f"x {compact(x0)} … {compact(x1)}  y {compact(y0)} … {compact(y1)}"
        width = self.grid.shape[1]
        for sep, gap in (("  ", " "), ("  ", ""), (" ", "")):
            legend = self._legend(sep, gap)
            if len(extent) + len(sep) + legend.cell_len <= width:
                return Text(extent, style="dim") + Text(sep) + legend
            if legend.cell_len <= width:
                short = f"x {compact(x0)}…{compact(x1)} y {compact(y0)}…{compact(y1)}"
                if legend.cell_len + len(sep) + len(short) <= width:
                    return legend + Text(sep) + Text(short, style="dim")
                return legend
        return self._legend(" ", "")

    def _legend(self, sep: str, gap: str) -> Text:
        """"● 0  ▲ 1  ■ 2" (sep between entries, gap between glyph and class)."""
        line = Text()
        if self.regression:
            entries = [("●", CLASS_RGB[1], ">0"), ("○", CLASS_RGB[0], "≤0")]
        else:
            entries = [(CLASS_GLYPHS[k % len(CLASS_GLYPHS)], self._class_rgb(k), str(k))
                       for k in range(self.n_classes)]
        for i, (glyph, rgb, label) in enumerate(entries):
            if i:
                line.append(sep)
            line.append(glyph, Style(color=_rgb_color(rgb), bold=True))
            line.append(gap + label)
        return line
