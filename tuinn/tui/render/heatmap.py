"""Provides Heatmap: a Rich renderable showing a tensor as a grid of coloured, shaded cells.

Conventions, which the tests rely on:
- Shape: a 0-d or 1-d array is one row; a 2-d array is itself; a higher one is reshaped to
  (product of the leading dims, last dim). More rows/cols than `max_rows`/`max_cols` (or than
  the console width allows) are strided: every k-th row/col is shown, the marked one always
  among them, and a note says so ("showing 16 of 64 rows (every 4th)").
- A cell is `cell_width` characters. Its background carries the colour; its glyph carries
  the magnitude, so it reads without colour: " ", "░", "▒", "▓", "█" for |x|/scale in
  [0, 1/8), [1/8, 3/8), [3/8, 5/8), [5/8, 7/8), [7/8, 1] (GLYPHS).
- Sign without colour (center_zero): a negative cell starts with a "-" mark, e.g. "-▓" at
  cell_width 2 (at cell_width 1 negatives use the lower blocks NEG_GLYPHS "▂▄▆▇").
  Near-zero cells are blank whatever their sign.
- Colour: diverging (blue < 0, dark neutral at 0, red > 0) scaled by max |x| when
  `center_zero`; else sequential (dark violet -> yellow) over [min, max], glyphs by
  (x - min) / (max - min), and no sign mark. Scales use finite values only.
- NaN cells are "!!" in WARN_STYLE; +Inf "∞∞" and -Inf "-∞" in bold on the extreme colour.
- `marker_col` puts "▼" above that column; `marker_row` puts "▶" left of that row.
- Lines: title (if any), column marker line (if any), the rows, an axis line (if
  `col_label`), a note line (if strided), the legend
  "min -1.23 ▐-█▓▒░ ░▒▓█+▌ max 4.56  (±4.56)"; narrower than that, two lines:
  "▐-█▓▒░ ░▒▓█+▌ ±4.56" (the ± when it fits) and "-1.23 … 4.56"; and the note, when it
  does not fit, shortens to "rows 8/64 cols 16/32" (on two lines if need be).
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from tuinn.tui.render.plot import compact

GLYPHS = (" ", "░", "▒", "▓", "█")
NEG_GLYPHS = (" ", "▂", "▄", "▆", "▇")      # negatives at cell_width 1
WARN_STYLE = Style(color=Color.from_rgb(0, 0, 0), bgcolor=Color.from_rgb(250, 204, 21),
                   bold=True)
MARKER_STYLE = Style(color=Color.from_rgb(250, 204, 21), bold=True)
_NEG, _ZERO, _POS = (59, 130, 246), (38, 38, 38), (239, 68, 68)
_SEQ = ((40, 11, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
RGB = tuple[int, int, int]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _pick(n: int, limit: int, marker: int | None) -> tuple[list[int], int]:
    """Indices to show out of n (every step-th, marker included) and the step."""
    limit = max(1, limit)
    step = -(-n // limit)
    idx = list(range(0, n, step))
    if marker is not None and 0 <= marker < n and marker not in idx:
        j = min(range(len(idx)), key=lambda i: (abs(idx[i] - marker), i))
        idx[j] = marker
    return idx, step


class Heatmap:
    """A 2-D view of a tensor: colour and glyph per value, optional row/column markers."""

    def __init__(self, array: np.ndarray, *, title: str = "", max_rows: int = 16,
                 max_cols: int = 32, cell_width: int = 2, center_zero: bool = True,
                 marker_col: int | None = None, marker_row: int | None = None,
                 row_labels: list[str] | None = None, col_label: str = ""):
        a = np.asarray(array, dtype=np.float64)
        if a.ndim <= 1:
            a = a.reshape(1, -1)
        elif a.ndim > 2:
            a = a.reshape(-1, a.shape[-1])
        if row_labels is not None and len(row_labels) != a.shape[0]:
            raise ValueError(f"heatmap: {len(row_labels)} row labels for {a.shape[0]} rows")
        self.array, self.title = a, title
        self.max_rows, self.max_cols = max_rows, max_cols
        self.cell_width = max(1, int(cell_width))
        self.center_zero = center_zero
        self.marker_col, self.marker_row = marker_col, marker_row
        self.row_labels, self.col_label = row_labels, col_label
        fin = a[np.isfinite(a)]
        self.lo = float(fin.min()) if fin.size else 0.0
        self.hi = float(fin.max()) if fin.size else 0.0
        self.scale = max(abs(self.lo), abs(self.hi))
        self.n_nan, self.n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
        self._styles: dict[tuple[RGB, bool], Style] = {}

    # ---- colour and glyph of one value ----------------------------------------------------
    def _level(self, x: float) -> tuple[int, float]:
        """Glyph level 0..4 and colour position (-1..1 diverging, 0..1 sequential)."""
        if self.center_zero:
            t = x / self.scale if self.scale > 0 else 0.0
            q = abs(t)
        else:
            span = self.hi / 2 - self.lo / 2                   # halves: no overflow
            t = q = (x / 2 - self.lo / 2) / span if span > 0 else 0.0
        return min(4, int(q * 4 + 0.5)), t

    def _rgb(self, t: float) -> RGB:
        if self.center_zero:
            return _mix(_ZERO, _NEG if t < 0 else _POS, abs(t))
        pos = min(1.0, max(0.0, t)) * (len(_SEQ) - 1)
        i = min(int(pos), len(_SEQ) - 2)
        return _mix(_SEQ[i], _SEQ[i + 1], pos - i)

    def _style(self, rgb: RGB, bold: bool = False) -> Style:
        key = (rgb, bold)
        if key not in self._styles:
            fg = _mix(rgb, (255, 255, 255), 0.25)
            self._styles[key] = Style(color=Color.from_rgb(*fg), bgcolor=Color.from_rgb(*rgb),
                                      bold=bold)
        return self._styles[key]

    def cell(self, x: float) -> tuple[str, Style]:
        """The text (cell_width characters) and style of one value."""
        w = self.cell_width
        if np.isnan(x):
            return "!" * w, WARN_STYLE
        if np.isinf(x):
            rgb = (_NEG if x < 0 else _POS) if self.center_zero else _SEQ[0 if x < 0 else -1]
            text = ("-" + "∞" * (w - 1) if w > 1 else "-") if x < 0 else "∞" * w
            return text, self._style(rgb, bold=True)
        level, t = self._level(x)
        style = self._style(self._rgb(t))
        if not self.center_zero or x >= 0 or level == 0:
            return GLYPHS[level] * w, style
        return ("-" + GLYPHS[level] * (w - 1) if w > 1 else NEG_GLYPHS[level]), style

    # ---- Rich protocol --------------------------------------------------------------------
    def _gutter(self) -> int:
        lab = max((len(s) for s in self.row_labels), default=0) if self.row_labels else 0
        lab = min(lab, 12)
        return (lab + 1 if lab else 0) + (1 if self.marker_row is not None else 0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lines = self._lines(options.max_width)
        w = max((line.cell_len for line in lines), default=1)
        return Measurement(min(w, options.max_width), min(w, options.max_width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self._lines(options.max_width):
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def _lines(self, max_width: int) -> list[Text]:
        a, w = self.array, self.cell_width
        lines: list[Text] = [Text(self.title, style="bold")] if self.title else []
        if a.size == 0:
            return lines + [Text(f"(empty {a.shape[0]}×{a.shape[1]})", style="dim")]
        gutter = self._gutter()
        fit = max(1, (max_width - gutter) // w)
        rows, rstep = _pick(a.shape[0], self.max_rows, self.marker_row)
        cols, cstep = _pick(a.shape[1], min(self.max_cols, fit), self.marker_col)
        if self.marker_col is not None and self.marker_col in cols:
            j = cols.index(self.marker_col)
            lines.append(Text(" " * (gutter + j * w + (w - 1) // 2) + "▼", style=MARKER_STYLE))
        lab_w = gutter - (1 if self.marker_row is not None else 0)
        for r in rows:
            line = Text()
            if lab_w:
                lab = self.row_labels[r][:lab_w - 1] if self.row_labels else ""
                line.append(lab.rjust(lab_w - 1) + " ", style="dim")
            if self.marker_row is not None:
                line.append("▶" if r == self.marker_row else " ", MARKER_STYLE)
            for c in cols:
                line.append(*self.cell(a[r, c]))
            lines.append(line)
        if self.col_label:
            lines.append(self._axis(gutter, cols))
        notes = []
        if rstep > 1:
            notes.append(f"{len(rows)} of {a.shape[0]} rows (every {_ordinal(rstep)})")
        if cstep > 1:
            notes.append(f"{len(cols)} of {a.shape[1]} cols (every {_ordinal(cstep)})")
        if notes:
            note = "showing " + ", ".join(notes)
            if len(note) > max_width:          # narrow: "rows 8/64 cols 16/32"
                note = " ".join(f"{what} {len(kept)}/{n}" for what, kept, n, step in
                                (("rows", rows, a.shape[0], rstep), ("cols", cols, a.shape[1], cstep))
                                if step > 1)
            parts = note.split(" cols ") if len(note) > max_width else [note]
            lines += [Text(("cols " if i else "") + part, style="dim italic")
                      for i, part in enumerate(parts)]
        legend = self._legend()
        if legend.cell_len <= max_width:
            lines.append(legend)
        else:                       # a narrow slot: the colour bar, then the numbers
            lines += self._legend_narrow(max_width)
        return lines

    def _axis(self, gutter: int, cols: list[int]) -> Text:
        width = len(cols) * self.cell_width
        chars = [" "] * width
        first, last = str(cols[0]), str(cols[-1])
        chars[:len(first)] = first
        if len(cols) > 1 and width - len(last) > len(first):
            chars[width - len(last):] = last
        label = self.col_label + " →"
        start = (width - len(label)) // 2
        if start > len(first) and start + len(label) < width - len(last):
            chars[start:start + len(label)] = label
        elif width < len(label) + len(first) + len(last) + 2:
            chars += "  " + label
        return Text(" " * gutter + "".join(chars), style="dim")

    def _legend_narrow(self, max_width: int) -> list[Text]:
        """The legend on two lines: "▐-█▓▒░ ░▒▓█+▌ ±4.56" and "-1.23 … 4.56"."""
        full = self._legend()
        plain = full.plain
        start, end = plain.index("▐"), plain.index("▌") + 1
        bar = full[start:end]
        scale = f" ±{compact(self.scale)}"
        if self.center_zero and bar.cell_len + len(scale) <= max_width:
            bar.append(scale, style="dim")
        lo, hi = compact(self.lo), compact(self.hi)
        text = next((t for t in (f"{lo} … {hi}", f"{lo}…{hi}", f"±{compact(self.scale)}")
                     if len(t) <= max_width), f"{lo}…{hi}")
        span = Text(text, style="dim")
        if self.n_nan:
            span.append(f" nan×{self.n_nan}", style="dim")
        if self.n_inf:
            span.append(f" inf×{self.n_inf}", style="dim")
        return [bar, span]

    def _legend(self) -> Text:
        line = Text(f"min {compact(self.lo)} ", style="dim")
        line.append("▐", "dim")
        if self.center_zero:
            s = self.scale
            line.append("-", self._style(self._rgb(-1.0)))
            for lv in (4, 3, 2, 1):
                line.append(GLYPHS[lv], self._style(self._rgb(-lv / 4)))
            line.append(" ", self._style(self._rgb(0.0)))
            for lv in (1, 2, 3, 4):
                line.append(GLYPHS[lv], self._style(self._rgb(lv / 4)))
            line.append("+", self._style(self._rgb(1.0)))
            line.append("▌", "dim")
            line.append(f" max {compact(self.hi)}  (±{compact(s)})", style="dim")
        else:
            for lv in range(5):
                line.append(GLYPHS[lv], self._style(self._rgb(lv / 4)))
            line.append("▌", "dim")
            line.append(f" max {compact(self.hi)}", style="dim")
        if self.n_nan:
            line.append("  ")
            line.append("!!", WARN_STYLE)
            line.append(f" nan ×{self.n_nan}", style="dim")
        if self.n_inf:
            line.append(f"  ∞ inf ×{self.n_inf}", style="dim")
        return line
