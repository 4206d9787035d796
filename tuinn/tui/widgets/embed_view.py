"""Provides EmbedView: an embedding or skipgram table as a heatmap, the nearest words to
the selected word by cosine similarity, and a 2-D projection (PCA) of the vectors. It
only renders an EmbedData."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tuinn import fmt
from tuinn.tui.present_embed import EmbedData
from tuinn.tui.render.heatmap import Heatmap
from tuinn.tui.render.words import WordMap


def _nearest(d: EmbedData) -> Text:
    text = Text("nearest to ", style="bold")
    text.append(d.words[d.selected], style="bold reverse")
    text.append(" (cosine): ", style="bold")
    for j, sim in d.nearest:
        text.append(f"{d.words[j]} ", style="bold yellow")
        text.append(f"{sim:+.2f}  ", style="dim")
    return text


def render_embed(d: EmbedData | None, width: int = 80, height: int = 20) -> Group:
    """The whole view as one Rich renderable, laid out for `width` x `height` cells."""
    if d is None:
        return Group(Text("no embedding table to show", style="italic dim"))
    V, D = d.table.shape
    head = Text(fmt.safe(d.layer, 24), style="bold")
    head.append(f"  {d.kind} · {V} words × {D} numbers ({d.table_name}) · iteration "
                f"{d.iteration}", style="dim")
    parts: list[RenderableType] = [head, _nearest(d)]
    map_h = max(6, min(16, height - 6))
    share = f"PC1 {100 * d.explained[0]:.0f}%, PC2 {100 * d.explained[1]:.0f}% of the variance"
    label_w = min(10, max(len(w) for w in d.words)) + 1
    heat_w = label_w + 1 + D
    if width >= 2 * heat_w + 24:                    # side by side: projection, then the table
        proj_w = width - heat_w - 3
        grid = Table.grid(padding=(0, 3, 0, 0))
        grid.add_column(width=proj_w)
        grid.add_column(width=heat_w)
        grid.add_row(Group(Text(f"2-D projection (PCA): {share}", style="bold"),
                           WordMap(d.proj, d.words, selected=d.selected,
                                   near=[j for j, _ in d.nearest], width=proj_w,
                                   height=map_h)),
                     _table(d, label_w, map_h))
        parts.append(grid)
    else:
        parts.append(Text(f"2-D projection (PCA): {share}", style="bold"))
        parts.append(WordMap(d.proj, d.words, selected=d.selected,
                             near=[j for j, _ in d.nearest], width=width, height=map_h))
        parts.append(_table(d, label_w, map_h))
    parts.append(Text("↑↓ select the word; words used in the same places gather as it "
                      "trains", style="dim"))
    return Group(*parts)


def _table(d: EmbedData, label_w: int, rows: int) -> Group:
    labels = [w[:label_w - 1] for w in d.words]
    return Group(Text(f"table {d.table_name}", style="bold"),
                 Heatmap(d.table, max_rows=rows, max_cols=64, cell_width=1,
                         marker_row=d.selected, row_labels=labels))


class EmbedView(VerticalScroll, can_focus=True):
    """↑/↓ (k/j) choose the word whose nearest words are listed; Shift+↑/↓ scroll."""

    DEFAULT_CSS = """
    EmbedView { border: round $primary-darken-2; padding: 0 1; height: 1fr; min-height: 8; }
    EmbedView:focus { border: round $accent; }
    EmbedView > Static { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "pick(-1)", "Prev word", show=False),
        Binding("down,j", "pick(1)", "Next word", show=False),
        Binding("shift+up", "scroll_up", "Scroll up", show=False),
        Binding("shift+down", "scroll_down", "Scroll down", show=False),
    ]

    @dataclass
    class Changed(Message):
        layer: str
        selected: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data: EmbedData | None = None

    def compose(self):
        yield Static(id="embed")

    def show(self, data: EmbedData | None) -> None:
        self.data = data
        self.border_title = "embedding" if data is None else \
            f"{fmt.safe(data.layer, 24)}: {data.words[data.selected]}"
        width = max(20, self.scrollable_content_region.width or 80)
        height = max(8, self.scrollable_content_region.height or 20)
        self.query_one("#embed", Static).update(render_embed(data, width, height))

    def on_resize(self) -> None:
        if self.data is not None:
            self.show(self.data)

    def action_pick(self, delta: int) -> None:
        d = self.data
        if d is None:
            return
        i = min(max(0, d.selected + delta), len(d.words) - 1)
        if i != d.selected:
            self.post_message(self.Changed(d.layer, i))
