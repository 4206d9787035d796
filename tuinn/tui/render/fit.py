"""Provides FitPlot: a Rich renderable of a 1-D regression, the data points and the
model's prediction curve over them.

Conventions, which the tests rely on:
- `width` x `height` cells in all: the plot rows (y tick labels and an axis on the left),
  one x-axis line ("└" then the x range), one legend line ("• data  ━ model").
- The curve is drawn in braille (2 x 4 dots a cell), its points joined by straight pixel
  lines; a data point is a "•" in the cell it falls in, drawn over the curve, in the
  curve's colour where the curve passes through its cell (a point the model fits).
- The y range is the data's, widened by a tenth (a curve that stays near the data is
  never cut). Curve values beyond half a data span outside it, or NaN/Inf, are not drawn,
  and the legend says so: "━ model: off the chart" (a diverging fit), or
  "12/160 off chart".
- Without colour the glyphs alone tell points ("•") from the curve (braille).
"""

from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from tuinn.tui.render.plot import _BITS, _segment, compact

POINT_STYLE = Style(color="magenta", bold=True)
CURVE_STYLE = Style(color="cyan")
ON_CURVE_STYLE = Style(color="cyan", bold=True)
AXIS_STYLE = Style(dim=True)


class FitPlot:
    """Data points (x, y) and a model's curve (xs, ys sorted by x) in one braille plot."""

    def __init__(self, x, y, curve_x, curve_y, *, width: int, height: int):
        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.cx = np.asarray(curve_x, dtype=np.float64).reshape(-1)
        self.cy = np.asarray(curve_y, dtype=np.float64).reshape(-1)
        self.width, self.height = max(8, int(width)), max(4, int(height))
        self.off_chart = 0

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.width, options.max_width)
        return Measurement(w, w)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        for line in self.lines(width):
            line.truncate(width, pad=True)
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def _ranges(self) -> tuple[float, float, float, float]:
        ok = np.isfinite(self.x) & np.isfinite(self.y)
        xs = np.concatenate([self.x[ok], self.cx[np.isfinite(self.cx)]])
        x0, x1 = (float(xs.min()), float(xs.max())) if xs.size else (0.0, 1.0)
        ys = self.y[ok]
        y0, y1 = (float(ys.min()), float(ys.max())) if ys.size else (-1.0, 1.0)
        span = y1 - y0 if y1 > y0 else max(1.0, abs(y0))
        if x1 <= x0:
            x0, x1 = x0 - 1.0, x1 + 1.0
        return x0, x1, y0 - span / 10, y1 + span / 10

    def lines(self, width: int) -> list[Text]:
        x0, x1, y0, y1 = self._ranges()
        plot_h = self.height - 2
        labels = {0: compact(y1), plot_h - 1: compact(y0)}
        if plot_h >= 5:
            labels[(plot_h - 1) // 2] = compact(y0 / 2 + y1 / 2)
        lw = max(len(s) for s in labels.values())
        plot_w = max(2, width - lw - 1)
        wpx, hpx = 2 * plot_w, 4 * plot_h

        def px(x: float) -> int:
            return min(wpx - 1, max(0, round((x - x0) / (x1 - x0) * (wpx - 1))))

        def py(y: float) -> int:
            return min(hpx - 1, max(0, round((y1 - y) / (y1 - y0) * (hpx - 1))))

        span = y1 - y0
        bits = np.zeros((plot_h, plot_w), dtype=np.int64)
        drawable = np.isfinite(self.cy) & (self.cy > y0 - span / 2) & (self.cy < y1 + span / 2)
        self.off_chart = int((~drawable).sum())
        prev = None
        for x, y, ok in zip(self.cx, self.cy, drawable):
            if not ok or not np.isfinite(x):
                prev = None
                continue
            here = (px(x), py(min(max(y, y0), y1)))
            for ax, ay in (_segment(*prev, *here) if prev else [here]):
                bits[ay // 4, ax // 2] |= _BITS[ay % 4][ax % 2]
            prev = here
        points = {(py(y) // 4, px(x) // 2) for x, y in zip(self.x, self.y)
                  if np.isfinite(x) and np.isfinite(y) and y0 <= y <= y1}
        out = []
        for r in range(plot_h):
            line = Text(labels.get(r, "").rjust(lw), style=AXIS_STYLE)
            line.append("┤" if r in labels else "│", AXIS_STYLE)
            for c in range(plot_w):
                if (r, c) in points:        # on the curve: a point in the curve's colour
                    line.append("•", ON_CURVE_STYLE if bits[r, c] else POINT_STYLE)
                elif bits[r, c]:
                    line.append(chr(0x2800 + int(bits[r, c])), CURVE_STYLE)
                else:
                    line.append(" ")
            out.append(line)
        axis = Text(" " * lw + "└", style=AXIS_STYLE)
        left, right = f"x {compact(x0)}", compact(x1)
        axis.append(left + right.rjust(max(1, plot_w - len(left))), AXIS_STYLE)
        out.append(axis)
        legend = Text()
        legend.append("• data", POINT_STYLE)
        legend.append("  ")
        legend.append("━ model", CURVE_STYLE)
        if self.off_chart:
            legend.append(": off the chart" if self.off_chart == len(self.cy)
                          else f"  {self.off_chart}/{len(self.cy)} off chart",
                          Style(bold=True, color="red"))
        out.append(legend)
        return out
