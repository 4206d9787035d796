"""Provides KnnDetail: the knn screen's panel beside the map: the query, the distance
table (then sorted, the k nearest above a rule), the vote tally and the prediction."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from tuinn.tui.present_knn import KnnFrame
from tuinn.tui.render.decision import CLASS_RGB
from tuinn.tui.widgets.knn_view import glyph

BAR = 10          # the vote tally's longest bar, in cells


class KnnDetail(Widget):
    DEFAULT_CSS = """
    KnnDetail { border: round $primary-darken-2; height: 1fr; width: 34; padding: 0 1; }
    """

    rows = 20               # the panel's height inside (read on the engine thread)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.frame: KnnFrame | None = None
        self.border_title = "the query"

    def on_resize(self) -> None:
        self.rows = self.size.height

    def show(self, frame: KnnFrame) -> None:
        self.frame = frame
        self.border_title = f"query q{frame.query_index} of {frame.n_queries}"
        self.refresh()

    def render(self):
        f = self.frame
        if f is None:
            return ""
        out = [Text(f.query_text, style="bold", no_wrap=True, overflow="ellipsis")]
        if f.label is not None:
            out.append(Text.assemble("true class ", (glyph(f.label), self._colour(f.label)),
                                     f" {f.label}"))
        out.append(Text(f.formula, style="italic"))
        if f.stage is None:
            out.append(Text("n: measure the distance to every training point", style="dim"))
        if f.rows:
            out += self._table(f)
        if f.votes:
            out.append(Text(f"votes ({f.weights})", style="bold"))
            for k, w, share in f.votes:
                line = Text.assemble(" ", (glyph(k), self._colour(k)), f" {k} ")
                line.append("█" * max(1, round(share * BAR)), style="bold")
                line.append(f" {w}")
                out.append(line)
        if f.prediction is not None:
            line = Text("predicted ", style="bold")
            line.append(f"{glyph(f.prediction)} {f.prediction}", style="bold reverse")
            if f.label is not None:
                right = f.prediction == f.label
                line.append("  ✓ right" if right else "  ✗ wrong",
                            style="bold" if right else "bold underline")
            out.append(line)
        right, done = f.done
        if done:
            out.append(Text(f"so far {right}/{done} right", style="dim"))
        return Group(*out)

    def _table(self, f: KnnFrame) -> list[Text]:
        title = "distances (training order)" if f.cut is None else "sorted (ties: lower i first)"
        rows = [Text(title, style="bold")]
        cls = f.header.index("class")
        widths = [max(len(h), *(len(r[j]) + (2 if j == cls else 0) for r in f.rows))
                  for j, h in enumerate(f.header)]
        rows.append(Text("  ".join(h.ljust(w) if j == cls else h.rjust(w)
                                   for j, (h, w) in enumerate(zip(f.header, widths))),
                         style="underline", no_wrap=True, overflow="ellipsis"))
        for n, r in enumerate(f.rows):
            near = bool(f.cut is not None and n < f.cut and f.ranked)
            line = Text(style="bold" if near else "", no_wrap=True, overflow="ellipsis")
            for j, (cell, w) in enumerate(zip(r, widths)):
                if j:
                    line.append("  ")
                if j == cls:
                    k = int(cell)
                    line.append(glyph(k), style=self._colour(k))
                    line.append(f" {cell}".ljust(w - 1))
                else:
                    line.append(cell.rjust(w) if j < len(r) - 1 or f.cut is not None
                                else cell)
            rows.append(line)
            if f.cut is not None and n + 1 == f.cut and n + 1 < len(f.rows):
                rows.append(Text(f"── the k = {f.k} nearest above ──", style="dim"))
        return rows

    def _colour(self, k: int) -> str:
        if self.app.no_color:
            return "bold"
        r, g, b = CLASS_RGB[k % len(CLASS_RGB)]
        return f"bold rgb({r},{g},{b})"
