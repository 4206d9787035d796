"""Provides TensorInspector: a value and its gradient side by side (statistics, then
numbers or small heatmaps), then the optimizer's state and the new value on update
steps; the statistics come computed from the presenter (present_tensor). The title
(what the node is, "just computed") goes to the border, so the numbers start at the top."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuinn import fmt
from tuinn.tui.present_net import TensorView
from tuinn.tui.present_tensor import STAT_ROWS
from tuinn.tui.render.heatmap import Heatmap

KIND_STYLE = {"value": "green", "grad": "red", "state": "yellow"}
GAP = 2                     # columns between the two sides
LABEL_W = 7                 # "nan/inf"
HEAT_ROWS = 8               # small heatmaps: at most this many rows each


def _picture(arr: np.ndarray, kind: str, width: int):
    """The numbers of a small tensor, else a heatmap at most `width` columns wide."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size <= 12:
        return Text(fmt.array_text(arr, 4), style=KIND_STYLE.get(kind, ""))
    cols = max(2, width // 2)
    if arr.ndim == 1 and arr.size > cols:
        # a long vector wraps into rows (a bias, a batch's losses) instead of striding
        fit = max(w for w in range(1, cols + 1) if arr.size % w == 0)
        if fit >= cols // 2:
            return Group(Text(f"in rows of {fit}", style="dim italic"),
                         Heatmap(arr.reshape(-1, fit), max_rows=HEAT_ROWS, max_cols=cols))
    return Heatmap(arr, max_rows=HEAT_ROWS, max_cols=cols)


def stats_table(columns: list[tuple[str, str, dict | None]], col_w: int) -> Table:
    """A label column and one column per tensor: (label, kind, stats or None = pending)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(width=LABEL_W, no_wrap=True, style="dim")
    for _ in columns:
        table.add_column(width=col_w, no_wrap=True, overflow="ellipsis")
    table.add_row("", *[Text(label, style=f"bold {KIND_STYLE.get(kind, '')}".strip())
                        for label, kind, _ in columns])
    scalars = all(st is None or st["size"] <= 1 for _, _, st in columns)
    rows = (("value", "mean"), ("nan/inf", "bad")) if scalars else STAT_ROWS
    if any(st is not None and (st["nan"] or st["inf"]) for _, _, st in columns):
        rows = (rows[-1],) + rows[:-1]          # NaN or Inf: said first, above the fold
    for name, key in rows:
        cells = []
        for _, _, st in columns:
            if st is None:
                cells.append(Text("—", style="dim"))
            elif key == "bad" and (st["nan"] or st["inf"]):
                cells.append(Text(st[key], style="bold red reverse"))
            else:
                cells.append(Text(str(st[key])))
        table.add_row(name, *cells)
    return table


def render_tensor(view: TensorView, width: int = 60) -> Group:
    """The whole panel laid out for `width` columns: arrays in pairs, side by side."""
    parts: list = []
    items = [(label, arr, kind, st) for (label, arr, kind), st in zip(view.arrays, view.stats)]
    groups = [items[i:i + 2] for i in range(0, len(items), 2)]
    col_w = max(8, (width - LABEL_W - 2) // 2)
    pic_w = max(4, (width - GAP) // 2)
    for n, group in enumerate(groups):
        columns = [(label, kind, st) for label, _, kind, st in group]
        if n == 0 and len(group) == 1 and view.pending:
            columns.append((view.pending.split(":")[0], "grad", None))
        parts.append(stats_table(columns, col_w))
        if n == 0 and view.note:                # the loss's sum, the update rule
            parts.append(Text(view.note, style="italic"))
        if all(np.size(arr) <= 1 for _, arr, _, _ in group):
            continue                            # a scalar: the table says it all
        pics = Table.grid(padding=(0, GAP, 0, 0))
        for _ in group:
            pics.add_column(width=pic_w, no_wrap=True)
        pics.add_row(*[_picture(arr, kind, pic_w) for _, arr, kind, _ in group])
        parts.append(pics)
    if view.pending and len(items) == 1:
        parts.append(Text(view.pending, style="dim italic"))
    if not items and view.note:
        parts.append(Text(view.note, style="italic"))
    return Group(*parts)


def border_title(view: TensorView | None) -> str:
    """"tensor: dense1.W  parameter of dense1": the node, and what its title adds."""
    if view is None:
        return "tensor"
    rest = view.title[len(view.node):].strip() if view.title.startswith(view.node) else view.title
    return f"tensor: {view.node}" + (f"  {rest}" if rest else "")


class TensorInspector(VerticalScroll):
    DEFAULT_CSS = """
    TensorInspector { border: round $primary-darken-2; padding: 0 1; }
    TensorInspector:focus { border: round $accent; }
    """

    def compose(self):
        yield Static(id="tensor")

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return max(24, width - 1) if width else 60

    def show(self, view: TensorView | None) -> None:
        self.view = view
        self.border_title = border_title(view)
        self.query_one("#tensor", Static).update("" if view is None else render_tensor(view, self._width()))

    def on_resize(self) -> None:
        if getattr(self, "view", None) is not None:
            self.query_one("#tensor", Static).update(render_tensor(self.view, self._width()))
