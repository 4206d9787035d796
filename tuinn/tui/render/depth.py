"""Provides DepthTable: one row per layer, a small histogram of its activations and one of
its gradients with their spread, so activations and gradients dying or exploding with
depth can be read down the rows.

    layer    activations            std     ∇ (dL/d output)        std
    dense1   ▁▂▅█▅▂▁               0.98    ▁▁▃█▃▁▁               2.1e-03
    relu1    █▁▂▃▂▁                 0.57    ...

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
    def __init__(self, stats, *, width: int, mono: bool = False):
        self.stats, self.width, self.mono = stats, max(30, int(width)), mono

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines():
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def lines(self) -> list[Text]:
        s = self.stats
        hist_w = max(4, (self.width - NAME_W - 2 * STD_W - 4) // 2)
        head = Text(no_wrap=True)
        head.append("layer".ljust(NAME_W) + " ", "bold")
        head.append("activations".ljust(hist_w) + " ", "bold")
        head.append("std".rjust(STD_W - 1) + " ", "bold")
        head.append("∇ dL/d output".ljust(hist_w) + " ", "bold")
        head.append("std".rjust(STD_W - 1), "bold")
        out = [head]
        for row in s.layers:
            line = Text(no_wrap=True)
            line.append(fmt.safe(row.name, limit=NAME_W - 1).ljust(NAME_W) + " ")
            for counts, std, zero, style in ((row.act, row.act_std, row.act_zero, "cyan"),
                                             (row.grad, row.grad_std, row.grad_zero, "magenta")):
                if zero >= 1.0:
                    line.append("all 0".center(hist_w), "bold reverse")
                else:
                    line.append(bars(counts, hist_w), None if self.mono else style)
                line.append(" " + _std(std).rjust(STD_W - 1) + " ")
            out.append(line)
        out.append(Text(f"histograms over ±{_std(s.act_range)} (activations) and "
                        f"±{_std(s.grad_range)} (∇), shared by every layer; batch of "
                        f"{s.samples}, iteration {s.iteration}", style="dim"))
        return out
