"""Provides EmbedView: an embedding or skipgram table as a heatmap, the nearest words to
the selected word by cosine similarity, and a 2-D projection (PCA) of the vectors. It
only renders an EmbedData."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuinn import fmt
from tuinn.tui.widgets.pick_view import PickView, pick_bindings
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


class EmbedView(PickView):
    """↑/↓ (k/j) choose the word whose nearest words are listed; Shift+↑/↓ scroll."""
    BINDINGS = pick_bindings("word")

    class Changed(PickView.Changed):
        pass

    def count(self, data) -> int:
        return len(data.words)

    def title(self, data) -> str:
        return "embedding" if data is None else f"{fmt.safe(data.layer, 24)}: {data.words[data.selected]}"

    def draw(self, data, width: int, height: int):
        return render_embed(data, width, height)
