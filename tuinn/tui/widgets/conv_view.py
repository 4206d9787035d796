"""Provides ConvView: a conv or pool layer at its current sliding window, the arithmetic
written out and the output size formula filled in, above small numeric tables (window
highlighted, padding dotted, the output cell being written in bold); every number in one
format with a space each side of its marker. It only draws what present_conv arranged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Static

from tuinn.tui.present_conv import ConvData, Grid

NUM = 5                      # every number: 2 decimals, "-9.99" .. " 9.99" (grids are scaled)
GAP = 2                      # columns between grids side by side
KIND_STYLE = {"value": "green", "grad": "red", "param": "cyan", "formula": "",
              "field": "italic"}
# marker glyphs, strongest first: they carry the highlight when there is no colour
MARKS = (("current", "»", "bold reverse"), ("winner", "▲", "bold underline"),
         ("window", "›", "reverse"), ("selected", "◆", "underline"),
         ("field", "∘", "underline"))
LEGEND = (("window", "› window"), ("current", "» written"), ("winners", "▲ max"),
          ("selected", "◆ selected"), ("field", "∘ field"), ("pad", "· padding"))


def legend(grids: list[Grid]) -> str:
    """The markers these grids use: "› window  » being written  · padding"."""
    return "  ".join(text for attr, text in LEGEND if any(getattr(g, attr) for g in grids))


def number(v: float) -> str:
    """A grid number in one format, 2 decimals in NUM characters: " 0.53", "-0.53",
    " 0.00", " 1.20", "-9.99"; nan and ±inf spelled out; what does not fit (a grid is
    scaled to |v| < 10, so only an unscaled caller) in e-notation."""
    v = float(v)
    if np.isnan(v):
        return "nan".rjust(NUM)
    if np.isinf(v):
        return ("inf" if v > 0 else "-inf").rjust(NUM)
    text = f"{v:.2f}"
    if text == "-0.00":
        text = "0.00"
    if len(text) > NUM:
        text = f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    return text.rjust(NUM)


def cell_width(cols: int, width: int) -> int:
    """A space, the marker, a space, the number; one space less (then none) when the grid
    would not fit `width` otherwise."""
    for w in (NUM + 3, NUM + 2, NUM + 1):
        if cols * w <= width:
            return w
    return NUM + 1


def _in(rect, r: int, c: int) -> bool:
    return rect is not None and rect[0] <= r < rect[1] and rect[2] <= c < rect[3]


def _cell(g: Grid, r: int, c: int, w: int) -> Text:
    rows, cols = g.values.shape
    base = KIND_STYLE.get(g.kind, "")
    flags = {"current": g.current == (r, c), "winner": (r, c) in g.winners,
             "window": _in(g.window, r, c), "selected": g.selected == (r, c),
             "field": _in(g.field, r, c)}
    mark, styles = " ", [base]
    for name, glyph, style in MARKS:
        if flags[name]:
            if mark == " ":
                mark = glyph
            styles.append(style)
    if g.pad and (r < g.pad or r >= rows - g.pad or c < g.pad or c >= cols - g.pad):
        body, styles = "·".rjust(NUM), ["dim"] + styles[1:]
    elif g.hidden is not None and g.hidden[r, c]:
        body = " " * NUM
    else:
        body = number(g.values[r, c])
    lead = " " * (w - NUM - 1)
    cell = Text(lead[:1])                      # the space before a marker stays unstyled
    cell.append(mark + lead[1:] + body, style=" ".join(s for s in styles if s))
    return cell


def grid_lines(g: Grid, width: int = 10_000) -> list[Text]:
    """The title and one Text per row of a grid, all padded to the same width."""
    rows, cols = g.values.shape
    w = cell_width(cols, width)
    full = max(cols * w, len(g.title))
    lines = [Text(g.title.ljust(full), style=f"bold {KIND_STYLE.get(g.kind, '')}".strip())]
    for r in range(rows):
        line = Text()
        for c in range(cols):
            line.append_text(_cell(g, r, c, w))
        line.append(" " * (full - cols * w))
        lines.append(line)
    return lines


def flow(blocks: list[list[Text]], width: int) -> list[Text]:
    """Place blocks of lines left to right, starting a new band when one would not fit."""
    out: list[Text] = []
    band: list[list[Text]] = []
    used = 0

    def flush():
        height = max(len(b) for b in band)
        for i in range(height):
            line = Text()
            for j, b in enumerate(band):
                if j:
                    line.append(" " * GAP)
                bw = b[0].cell_len
                line.append_text(b[i] if i < len(b) else Text(" " * bw))
            out.append(line)

    for block in blocks:
        bw = block[0].cell_len
        if band and used + GAP + bw > width:
            flush()
            band, used = [], 0
        used += (GAP if band else 0) + bw
        band.append(block)
    if band:
        flush()
    return out


def render_conv(data: ConvData | None, width: int = 80) -> Group:
    """The whole view as one Rich renderable, laid out for `width` columns: the title, the
    arithmetic and the output size formula first (on screen at 80x24), then the grids."""
    if data is None:
        return Group(Text("no conv or pool layer here", style="dim"))
    title, keys = Text(data.title, style="bold"), legend(data.grids)
    if keys and title.cell_len + 2 + len(keys) <= width:       # the legend beside the title
        title.append("  " + keys, style="dim")
        keys = ""
    parts: list = [title]
    field = [(text, kind) for text, kind in data.lines if kind == "field"]
    for text, kind in data.lines:
        if kind != "field":
            parts.append(Text(text, style=KIND_STYLE.get(kind, "")))
    parts += flow([grid_lines(g, width) for g in data.grids], width)
    for text, kind in field:
        parts.append(Text(text, style=KIND_STYLE.get(kind, "")))
    if keys:
        parts.append(Text(keys, style="dim"))
    return Group(*parts)


class ConvView(ScrollableContainer, can_focus=True):
    """j/k (↑/↓) and h/l move the selected output cell (its receptive field is shown),
    0 follows the current window again; , and . pick the filter (channel) written out."""

    DEFAULT_CSS = """
    ConvView { border: round $primary-darken-2; padding: 0 1; height: 1fr; min-height: 8; }
    ConvView:focus { border: round $accent; }
    ConvView > Static { width: auto; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1, 0)", "Cell up", show=False),
        Binding("down,j", "move(1, 0)", "Cell down", show=False),
        Binding("h", "move(0, -1)", "Cell left", show=False),
        Binding("l", "move(0, 1)", "Cell right", show=False),
        Binding("0", "follow", "Follow window", show=False),
        Binding("comma", "filter(-1)", "Prev filter", show=False),
        Binding("full_stop", "filter(1)", "Next filter", show=False),
        Binding("shift+up", "scroll_up", "Scroll up", show=False),
        Binding("shift+down", "scroll_down", "Scroll down", show=False),
    ]

    @dataclass
    class Changed(Message):
        """The selected cell or filter changed: redraw with conv_view(layer, cell, filter)."""
        layer: str
        cell: tuple[int, int] | None
        filter: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cell: tuple[int, int] | None = None     # None: follow the current window
        self.filter = 0
        self.data: ConvData | None = None

    def compose(self):
        yield Static(id="conv")

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return max(20, width - 1) if width else 80

    def show(self, data: ConvData | None) -> None:
        """Draw `data`; a new layer forgets the selected cell and filter."""
        if data is not None and (self.data is None or data.layer != self.data.layer):
            self.cell, self.filter = None, 0
        self.data = data
        if data is not None:
            self.border_title = f"{data.layer}: {data.what}"
            self.border_subtitle = "j/k h/l cell  0 follow  ,/. " + (
                "filter" if data.type == "conv2d" else "channel")
        self.query_one("#conv", Static).update(render_conv(data, self._width()))

    def on_resize(self) -> None:
        if self.data is not None:
            self.query_one("#conv", Static).update(render_conv(self.data, self._width()))

    def _changed(self) -> None:
        self.post_message(self.Changed(self.data.layer, self.cell, self.filter))

    def action_move(self, dr: int, dc: int) -> None:
        if self.data is None:
            return
        r, c = self.cell or self.data.selected
        oh, ow = self.data.out_shape
        self.cell = (min(max(r + dr, 0), oh - 1), min(max(c + dc, 0), ow - 1))
        self._changed()

    def action_follow(self) -> None:
        if self.data is None:
            return
        self.cell = None
        self._changed()

    def action_filter(self, delta: int) -> None:
        if self.data is None:
            return
        self.filter = (self.filter + delta) % max(1, self.data.filters)
        self._changed()
