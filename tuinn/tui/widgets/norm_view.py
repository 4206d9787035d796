"""Provides NormView: a layernorm or batchnorm layer's statistics, the distribution before
and after (small histograms), gamma and beta, and batchnorm's running statistics and
mode. It only renders a NormData."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuinn import fmt
from tuinn.tui.widgets.pick_view import PickView, pick_bindings
from tuinn.tui.present_norm import Histogram, NormData
from tuinn.tui.render.depth import bars
from tuinn.tui.render.plot import compact

MAX_TABLE_ROWS = 32


def _header(d: NormData) -> Text:
    text = Text(fmt.safe(d.layer, 24), style="bold")
    text.append(f"  {d.kind} · ")
    if d.kind == "batchnorm":
        mode = "training: the batch's statistics" if d.mode == "train" else \
            "evaluation: the running statistics"
        text.append(f"mode {mode}", style="bold yellow")
    else:
        text.append("each position over its own features (same in training and evaluation)",
                    style="bold yellow")
    text.append(f" · {d.phase}", style="bold green" if d.phase == "forward" else "bold red")
    return text


def _hist(title: str, h: Histogram, width: int, style: str) -> Group:
    w = max(8, min(32, width))
    span = "none" if h.lo != h.lo else f"{compact(h.lo)} … {compact(h.hi)}"
    return Group(Text(title, style="bold"), Text(bars(h.counts, w), style=style),
                 Text(span, style="dim"), Text(f"n = {int(h.counts.sum())}", style="dim"))


def _table(d: NormData, width: int) -> Table:
    t = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    batch = d.kind == "batchnorm"
    t.add_column("feature" if batch else "unit", justify="right")
    if batch:
        t.add_column("mean", justify="right")
        t.add_column("var", justify="right")
    t.add_column("γ", justify="right")
    t.add_column("β", justify="right")
    if batch and width >= 60:
        t.add_column("run mean", justify="right")
        t.add_column("run var", justify="right")
    n = len(d.gamma)
    for i in range(min(n, MAX_TABLE_ROWS)):
        row = [("▶" if batch and i == d.selected else "") + str(i)]
        if batch:
            row += [compact(d.means[i]), compact(d.vars[i])]
        row += [compact(d.gamma[i]), compact(d.beta[i])]
        if batch and width >= 60:
            row += [compact(d.running_mean[i]), compact(d.running_var[i])]
        t.add_row(*row, style="bold" if batch and i == d.selected else "")
    return t


def render_norm(d: NormData | None, width: int = 80) -> Group:
    """The whole view as one Rich renderable, `width` cells wide."""
    if d is None:
        return Group(Text("the normalisation layer has not run yet in this pass "
                          "(step forward to reach it)", style="italic dim"))
    parts: list[RenderableType] = [_header(d)]
    for text, kind in d.lines:
        parts.append(Text(text, style="green" if kind == "value" else "red"))
    half = max(10, (width - 4) // 2)
    grid = Table.grid(padding=(0, 3, 0, 0))
    grid.add_column(width=min(half, 34))
    grid.add_column(width=min(half, 34))
    grid.add_row(_hist(f"before: {d.where}", d.before, min(half, 34), "cyan"),
                 _hist("after: γ·x̂ + β", d.after, min(half, 34), "green"))
    parts.append(grid)
    if d.kind == "batchnorm":
        parts.append(Text(f"running = (1 - {d.momentum:g})·running + {d.momentum:g}·batch "
                          f"(unbiased var); every step that is not training uses them",
                          style="dim"))
    if d.kind == "batchnorm":
        parts.append(_table(d, width))
    else:
        if d.sample_means is not None:       # one sample's statistics, timestep by timestep
            for name, vals in (("mean", d.sample_means), ("var", d.sample_vars)):
                line = Text(f"{name} at t = 0..{len(vals) - 1}: ", style="bold")
                line.append("  ".join(compact(float(x)) for x in vals))
                line.truncate(width, overflow="ellipsis")
                parts.append(line)
        for name, vals in (("γ", d.gamma), ("β", d.beta)):
            line = Text(f"{name} per unit ({len(vals)}): ", style="bold")
            line.append("  ".join(compact(float(x)) for x in vals[:MAX_TABLE_ROWS]))
            line.truncate(width, overflow="ellipsis")
            parts.append(line)
    what = "feature" if d.kind == "batchnorm" else "position (sample, t)"
    parts.append(Text(f"↑↓ select the {what}: {d.selected + 1} of {d.count}", style="dim"))
    return Group(*parts)


class NormView(PickView):
    """↑/↓ (k/j) choose the feature (batchnorm) or position (layernorm); Shift+↑/↓ scroll."""
    BINDINGS = pick_bindings("feature")

    class Changed(PickView.Changed):
        pass

    def count(self, data) -> int:
        return data.count

    def title(self, data) -> str:
        return "normalisation" if data is None else f"{fmt.safe(data.layer, 24)}: {data.where}"

    def draw(self, data, width: int, height: int):
        return render_norm(data, width)
