"""Provides DepthTable: one row per layer, a small histogram of its activations and one of
its gradients with their spread, so activations and gradients dying or exploding with
depth can be read down the rows.

    layer    activations            std     ∇ (dL/d output)        std
    dense1   ▁▂▅█▅▂▁     0.98   ▁▁▃█▃▁▁  2.1e-03
    relu1      █▁▂▃▂▁    0.57   ...
    every row ±2.6 · ∇ ±0.034

A histogram is drawn with the eight block heights ▁..█ (an empty bin is a space), bins
resampled to the width there is; "·" marks the bin of 0. The std is in the format that
keeps its magnitude (1.2e-05), and a layer whose values are all 0 says so.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from tuinn import fmt

BLOCKS = " ▁▂▃▄▅▆▇█"
NAME_W, STD_W = 9, 8


def bars(counts: np.ndarray, width: int) -> str:
    """The histogram as `width` block characters (heights relative to its largest bin)."""
    c = np.asarray(counts, dtype=np.float64)
    if width <= 0 or c.size == 0:
        return ""
    edges = np.linspace(0, c.size, width + 1)
    cols = np.array([c[int(a):max(int(a) + 1, int(b))].sum() for a, b in zip(edges[:-1], edges[1:])])
    top = cols.max()
    if top <= 0:
        return " " * width
    levels = np.where(cols > 0, np.maximum(1, np.round(cols / top * 8)), 0).astype(int)
    return "".join(BLOCKS[k] for k in levels)


def _std(v: float) -> str:
    return "nan" if v != v else fmt.num(v, 2) if 0.01 <= abs(v) < 1000 or v == 0 else f"{v:.1e}"


class DepthTable:
    """The rows that fit `height` (None: all): every layer, or when they do not fit the
    layers with parameters only (the activations then read between them)."""

    def __init__(self, stats, *, width: int, height: int | None = None, mono: bool = False):
        self.stats, self.width, self.mono = stats, max(24, int(width)), mono
        self.height = height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines():
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def rows(self):
        rows = self.stats.layers
        if self.height is not None and len(rows) + 2 > self.height:
            rows = [r for r in rows if r.params] or rows
        return rows

    def lines(self) -> list[Text]:
        s = self.stats
        rows = self.rows()
        name_w = min(NAME_W, max(len(r.name) for r in rows) + 1) if rows else NAME_W
        hist_w = max(3, (self.width - name_w - 2 * STD_W - 2) // 2)
        wide = hist_w >= 12
        head = Text(no_wrap=True)
        head.append("layer".ljust(name_w), "bold")
        head.append(("activations" if wide else "act").ljust(hist_w), "bold")
        head.append(" " + "std".rjust(STD_W - 1) + " ", "bold")
        head.append(("∇ dL/d output" if wide else "∇").ljust(hist_w), "bold")
        head.append(" " + "std".rjust(STD_W - 1), "bold")
        out = [head]
        for row in rows:
            line = Text(no_wrap=True)
            line.append(fmt.safe(row.name, limit=name_w - 1).ljust(name_w))
            for k, (counts, std, zero, style) in enumerate(
                    ((row.act, row.act_std, row.act_zero, "cyan"),
                     (row.grad, row.grad_std, row.grad_zero, "magenta"))):
                if zero >= 1.0:
                    line.append("all 0".center(hist_w)[:hist_w], "bold reverse")
                else:
                    line.append(bars(counts, hist_w), None if self.mono else style)
                line.append(" " + _std(std).rjust(STD_W - 1) + (" " if k == 0 else ""))
            out.append(line)
        note = f"every row ±{_std(s.act_range)} · ∇ ±{_std(s.grad_range)}"
        if len(rows) < len(s.layers):
            note += " · weighted layers"
        out.append(Text(note, style="dim"))
        return out
