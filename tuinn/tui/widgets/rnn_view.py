"""Provides RecurrentView: an rnn/lstm/gru layer stepped through time: the selected unit's
equations first (on screen at 80x24), then, on the backward pass, the gradient norm
through time, gate heatmaps over time x units and gate saturation. It only renders a
RecurrentData (no math here)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tuinn.tui.present_rnn import GateMap, RecurrentData
from tuinn.tui.render.heatmap import Heatmap
from tuinn.tui.render.plot import LinePlot, compact

KIND_STYLE = {"value": "green", "input": "cyan", "grad": "red"}
WARN = "bold yellow"
MAP_GAP = 2                    # columns between two maps side by side


class _Map:
    """A Heatmap without its legend line and its "showing k of n rows" note (the view
    prints one legend for all maps; row labels say which units are shown), at most
    `width` cells wide. Relies on the documented line order of Heatmap."""

    def __init__(self, heatmap: Heatmap, width: int, rows: int):
        # the ▼ line, then one line per shown row (every step-th, as Heatmap picks them)
        step = -(-rows // max(1, heatmap.max_rows))
        self.heatmap, self.width, self.keep = heatmap, width, 1 + len(range(0, rows, step))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.width, options.max_width)
        return Measurement(w, w)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        opts = options.update(width=min(self.width, options.max_width), height=None)
        lines = console.render_lines(self.heatmap, opts, pad=False)
        for line in lines[:self.keep]:
            yield from line
            yield Segment.line()


def _title(m: GateMap, width: int) -> Text:
    """The map's symbol, then its saturation flag and its value range where they fit."""
    text = Text(m.symbol, style=f"bold {KIND_STYLE[m.kind]}")
    sat = " sat" if m.saturation is not None and m.saturation.saturated else ""
    span = f" {compact(m.lo)}‥{compact(m.hi)}" if m.lo == m.lo else ""    # NaN: none revealed
    if len(m.symbol) + len(span) + len(sat) <= width:
        text.append(span, style="dim")
    text.append(sat, style=WARN)
    text.truncate(width)
    return text


def _geometry(data: RecurrentData, width: int) -> tuple[int, int, int]:
    """(timestep columns, label gutter, maps per row): every map is a marker gutter and one
    cell per timestep; the first map of a grid row also carries the row labels."""
    label = max(len(str(data.H - 1)), max((len(f"x{m.values.shape[0] - 1}")
                                           for m in data.maps if m.kind == "input"), default=0)) + 1
    cols = max(1, min(data.T, width - 1 - label))
    return cols, label, max(1, (width - label + MAP_GAP) // (1 + cols + MAP_GAP))


def _maps(data: RecurrentData, width: int, max_rows: int) -> Table:
    """The maps side by side, as many to a row as fit; rows labelled in the first column."""
    cols, label, per_row = _geometry(data, width)
    grid = Table.grid(padding=(0, MAP_GAP, 0, 0))
    for k in range(min(per_row, len(data.maps))):
        grid.add_column(no_wrap=True, width=1 + cols + (label if k == 0 else 0))
    cells: list[RenderableType] = []
    for k, m in enumerate(data.maps):
        rows = m.values.shape[0]
        first = k % per_row == 0
        units = m.kind != "input"
        labels = None
        if first:
            labels = [str(u) for u in range(rows)] if units else [f"x{j}" for j in range(rows)]
        heat = Heatmap(m.values, max_rows=max_rows, max_cols=cols, cell_width=1,
                       marker_col=data.t - 1 if m.marker is None else m.marker,
                       row_labels=labels,
                       marker_row=data.unit if units else None)
        w = 1 + cols + (label if first else 0)
        cells.append(Group(_title(m, w), _Map(heat, w, rows)))
    for i in range(0, len(cells), per_row):
        row = cells[i:i + per_row]
        grid.add_row(*row, *[""] * (min(per_row, len(cells)) - len(row)))
    return grid


def _header(data: RecurrentData) -> Text:
    text = Text()
    text.append(f"{data.layer}", style="bold")
    text.append(f"  {data.cell} · {data.H} units · ")
    style = "bold green" if data.phase == "forward" else "bold red"
    arrow = "→" if data.phase == "forward" else "←"
    text.append(f"{data.phase} {arrow} t {data.t}/{data.T}", style=style)
    text.append(f"  sample {data.sample} of {data.batch} · unit {data.unit} (↑↓)", style="dim")
    return text


def _saturation(data: RecurrentData) -> Text:
    upto = data.T if data.phase == "backward" else data.t
    text = Text("saturated ", style="bold")
    for s in data.saturation:
        text.append(f"{s.gate} {100 * s.share:.0f}%", style=WARN if s.saturated else "")
        text.append("⚠  " if s.saturated else "  ", style=WARN)
    tails = {"sigmoid": "σ <.05 or >.95", "tanh": "tanh |x| >.95"}
    kinds = dict.fromkeys(s.activation for s in data.saturation)
    text.append(f"(share of batch × t≤{upto} × units with {', '.join(tails[k] for k in kinds)})",
                style="dim")
    return text


def _norm_plot(data: RecurrentData, width: int) -> list[RenderableType]:
    series = [("‖∇h_t‖", data.dh_norm, "red")]
    if data.dc_norm is not None:
        series.append(("‖∇c_t‖", data.dc_norm, "yellow"))
    plot = LinePlot(series, width=max(20, min(width, 72)), height=7, log_y=True,
                    marker_x=data.t, x_label="t",
                    title="gradient through time (mean over the batch, log scale)")
    parts: list[RenderableType] = [plot]
    if data.gradient_ratio is not None:
        ratio = data.gradient_ratio
        verdict = "vanishing" if ratio < 1e-2 else ("exploding" if ratio > 1e2 else "kept")
        parts.append(Text.assemble(("‖∇h₁‖ / ‖∇h_T‖ = ", "red"), (compact(ratio), "bold red"),
                                   (f"  ({verdict} over {data.T - 1} steps back)", "dim")))
    else:
        parts.append(Text(f"revealed from t = {data.T} down to t = {data.t}", style="dim"))
    return parts


def _legend(data: RecurrentData) -> Text:
    names = " · ".join(f"{m.symbol} {m.label}" for m in data.maps)
    blank = "left of" if data.phase == "backward" else "right of"
    both = any(m.symbol.startswith("←") for m in data.maps)
    rev = ("\n← the backward direction: it runs from t = T down to 1, right to left on the "
           "same time axis (blank on the other side of its ▼: not reached yet); the next layer "
           "sees both at each t") if both else ""
    return Text(f"{names}\ncells ░▒▓█ |x| / the map's largest, ▂▄▆▇ negative; ▼ t; ▶ unit; "
                f"blank {blank} ▼: not reached yet{rev}", style="dim")


def render_recurrent(data: RecurrentData | None, width: int = 80, height: int = 20) -> Group:
    """The whole view as one Rich renderable, laid out for `width` x `height` cells."""
    if data is None:
        return Group(Text("the recurrent layer has not run yet in this pass "
                          "(step forward to reach it)", style="italic dim"))
    grid_rows = -(-len(data.maps) // _geometry(data, width)[2])
    eq_lines = len(data.equations)
    budget = height - 2 - eq_lines - (8 if data.phase == "backward" else 0)
    max_rows = max(4, min(16, budget // max(1, grid_rows) - 2))
    parts: list[RenderableType] = [_header(data)]
    for text, kind in data.equations:            # first: on screen at 80x24
        parts.append(Text(text, style=KIND_STYLE.get(kind, "")))
    if data.phase == "backward" and data.dh_norm is not None:
        parts += _norm_plot(data, width)
    parts.append(_maps(data, width, max_rows))
    if data.saturation:
        parts.append(_saturation(data))
    parts.append(_legend(data))
    return Group(*parts)


class RecurrentView(VerticalScroll, can_focus=True):
    """↑/↓ (k/j) choose the unit whose equations are shown; Shift+↑/↓ and PgUp/PgDn scroll."""

    DEFAULT_CSS = """
    RecurrentView { border: round $primary-darken-2; padding: 0 1; height: 1fr; min-height: 8; }
    RecurrentView:focus { border: round $accent; }
    RecurrentView > Static { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "unit(-1)", "Prev unit", show=False),
        Binding("down,j", "unit(1)", "Next unit", show=False),
        Binding("shift+up", "scroll_up", "Scroll up", show=False),
        Binding("shift+down", "scroll_down", "Scroll down", show=False),
    ]

    @dataclass
    class UnitChanged(Message):
        """The selected unit changed: redraw with recurrent_view(layer, unit=unit)."""
        layer: str
        unit: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.unit = 0
        self.data: RecurrentData | None = None

    def compose(self):
        yield Static(id="rnn")

    def show(self, data: RecurrentData | None) -> None:
        self.data = data
        if data is not None:
            self.unit = data.unit
        self.border_title = "recurrent" if data is None else \
            f"{data.layer}: {data.phase} t {data.t}/{data.T}"
        width = max(20, self.scrollable_content_region.width or 80)
        height = max(8, self.scrollable_content_region.height or 20)
        self.query_one("#rnn", Static).update(render_recurrent(data, width, height))

    def on_resize(self) -> None:
        if self.data is not None:
            self.show(self.data)

    def action_unit(self, delta: int) -> None:
        if self.data is None:
            return
        unit = min(max(0, self.unit + delta), self.data.H - 1)
        if unit != self.unit:
            self.unit = unit
            self.post_message(self.UnitChanged(self.data.layer, unit))
