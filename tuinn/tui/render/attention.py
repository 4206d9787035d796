"""Provides AttentionMap: a Rich renderable of one head's attention weights (or their
gradients) as a query-by-key grid, tokens on both axes, the selected cell marked.

Conventions, which the tests rely on:
- Line 1 is the title; line 2 the key axis (one character of each key's token, ▼ over
  the selected key); then one line per query: its label (▶ on the selected query) and
  one cell per key.
- A cell is `cell_width` characters; its glyph carries the size so it reads without
  colour: " ░▒▓█" for |x| / the map's largest |x| in [0, 1/8), [1/8, 3/8), [3/8, 5/8),
  [5/8, 7/8), [7/8, 1]; a negative gradient uses "▂▄▆▇"; a masked cell (a key in a
  causal query's future) is "·"; the selected cell is drawn in reverse video.
- Never wider than `width`: columns are dropped from the right; with `max_rows` only
  that many queries around the selected one are drawn (a note line says which).
"""

from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

GLYPHS = (" ", "░", "▒", "▓", "█")
NEG_GLYPHS = (" ", "▂", "▄", "▆", "▇")
POS_STYLE, NEG_STYLE, MASK_STYLE = "", "blue", "dim"   # the default colour reads on any theme


def glyph_level(x: float, scale: float) -> int:
    """0..4: the glyph of |x| / scale."""
    if not scale > 0 or not np.isfinite(x):
        return 0
    t = abs(x) / scale
    return 0 if t < 1 / 8 else 1 if t < 3 / 8 else 2 if t < 5 / 8 else 3 if t < 7 / 8 else 4


class AttentionMap:
    """One head's map: `values` (T, T) rows = queries, columns = keys."""

    def __init__(self, values: np.ndarray, tokens: list[str], *, title: str = "",
                 query: int = 0, key: int = 0, causal: bool = False, signed: bool = False,
                 cell_width: int = 2, label_width: int = 3, width: int = 80,
                 max_rows: int | None = None):
        self.values = np.asarray(values, dtype=np.float64)
        self.tokens, self.title = tokens, title
        self.query, self.key, self.causal, self.signed = query, key, causal, signed
        self.cell_width, self.label_width, self.width = max(1, cell_width), label_width, width
        self.max_rows = max_rows
        fin = self.values[np.isfinite(self.values)]
        self.scale = float(np.abs(fin).max()) if fin.size else 0.0

    def columns(self, width: int) -> int:
        """How many key columns fit in `width`."""
        return max(1, min(self.values.shape[1], (width - self.label_width - 1) // self.cell_width))

    def row_span(self) -> tuple[int, int]:
        """The queries shown [first, last): all, or `max_rows` around the selected one."""
        T = self.values.shape[0]
        n = T if self.max_rows is None else max(1, min(T, self.max_rows))
        first = min(max(0, self.query - n // 2), T - n)
        return first, first + n

    def size(self, width: int) -> int:
        return self.label_width + 1 + self.columns(width) * self.cell_width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.size(min(self.width, options.max_width)), options.max_width)
        return Measurement(w, w)

    def lines(self, width: int) -> list[Text]:
        T = self.values.shape[0]
        cols = self.columns(width)
        cw, lw = self.cell_width, self.label_width
        out = [Text(self.title, style="bold", overflow="ellipsis", no_wrap=True)]
        axis = Text(" " * (lw + 1))
        for j in range(cols):
            mark = "▼" if j == self.key else (self.tokens[j][:1] or " ")
            axis.append(mark.ljust(cw)[:cw], style="bold yellow" if j == self.key else "dim")
        out.append(axis)
        first, last = self.row_span()
        for i in range(first, last):
            label = self.tokens[i][:lw - 1].rjust(lw - 1)
            line = Text(label, style="bold" if i == self.query else "dim")
            line.append("▶ " if i == self.query else "  ", style="bold yellow")
            for j in range(cols):
                x = self.values[i, j]
                if self.causal and j > i:
                    cell, style = "·".ljust(cw), MASK_STYLE
                else:
                    lvl = glyph_level(x, self.scale)
                    neg = self.signed and x < 0
                    cell = ((NEG_GLYPHS if neg else GLYPHS)[lvl]) * cw
                    style = NEG_STYLE if neg else POS_STYLE
                if i == self.query and j == self.key:
                    style = f"{style} reverse".strip()
                    cell = cell if cell.strip() else "◦" * cw
                line.append(cell, style=style)
            out.append(line)
        notes = []
        if (first, last) != (0, T):
            notes.append(f"queries {first}..{last - 1} of {T}")
        if cols < self.values.shape[1]:
            notes.append(f"keys 0..{cols - 1} of {self.values.shape[1]}")
        if notes:
            out.append(Text(", ".join(notes), style="dim"))
        for t in out:
            t.truncate(width)
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        for line in self.lines(width):
            yield line
