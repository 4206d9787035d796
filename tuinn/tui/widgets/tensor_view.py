"""Provides TensorInspector: heatmaps, numbers and statistics of a value, gradient or
parameter (with the optimizer's state on update steps)."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuinn import fmt
from tuinn.tui.present_net import TensorView
from tuinn.tui.render.heatmap import Heatmap

KIND_STYLE = {"value": "green", "grad": "red", "state": "yellow"}


def stats_line(a: np.ndarray) -> Text:
    s = fmt.stats(a)
    text = Text(f"{fmt.shape(a)}  mean {fmt.num(s['mean'], 3)}  std {fmt.num(s['std'], 3)}  "
                f"min {fmt.num(s['min'], 3)}  max {fmt.num(s['max'], 3)}  "
                f"zeros {100 * s['zeros']:.0f}%", style="dim")
    if s["nan"] or s["inf"]:
        text.append(f"  NaN {int(s['nan'])}  Inf {int(s['inf'])}", style="bold red reverse")
    return text


def render_tensor(view: TensorView, max_cols: int = 32) -> Group:
    parts = [Text(view.title, style="bold")]
    if view.note:
        parts.append(Text(view.note, style="italic"))
    for label, arr, kind in view.arrays:
        arr = np.asarray(arr, dtype=np.float64)
        parts.append(Text.assemble((label, f"bold {KIND_STYLE.get(kind, '')}"), "  ", stats_line(arr)))
        if arr.size <= 12:
            parts.append(Text(fmt.array_text(arr, 4), style=KIND_STYLE.get(kind, "")))
        elif arr.ndim == 1 and arr.size > max_cols:
            # a long vector wraps into rows (a bias, a batch's losses) instead of striding
            width = max(w for w in range(1, max_cols + 1) if arr.size % w == 0)
            if width >= max_cols // 2:
                parts.append(Text(f"{fmt.shape(arr)} in rows of {width}", style="dim italic"))
                parts.append(Heatmap(arr.reshape(-1, width), max_rows=12, max_cols=max_cols))
            else:
                parts.append(Heatmap(arr, max_rows=12, max_cols=max_cols))
        else:
            parts.append(Heatmap(arr, max_rows=12, max_cols=max_cols))
    return Group(*parts)


class TensorInspector(VerticalScroll):
    DEFAULT_CSS = """
    TensorInspector { border: round $primary-darken-2; padding: 0 1; }
    TensorInspector:focus { border: round $accent; }
    """

    def compose(self):
        yield Static(id="tensor")

    def show(self, view: TensorView | None) -> None:
        self.border_title = "tensor" if view is None else f"tensor: {view.node}"
        cols = max(4, (self.size.width - 8) // 2) if self.size.width else 24
        self.query_one("#tensor", Static).update("" if view is None else render_tensor(view, min(cols, 32)))
