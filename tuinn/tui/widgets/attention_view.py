"""Provides AttentionView: an attention layer's weights per head as query-by-key maps with
the tokens on both axes, and the selected cell's arithmetic (score, softmax row, weighted
sum; on the backward pass their gradients). It only renders an AttentionData."""

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
from tuinn.tui.present_attention import AttentionData
from tuinn.tui.render.attention import AttentionMap
from tuinn.tui.render.plot import compact

KIND_STYLE = {"value": "green", "grad": "red"}
GAP = 2


def _header(d: AttentionData) -> Text:
    text = Text(fmt.safe(d.layer, 24), style="bold")
    text.append(f"  attention · {d.heads} head{'s' if d.heads > 1 else ''} of dk {d.dk}"
                f"{' · causal' if d.causal else ''} · ")
    text.append(d.phase + (" →" if d.phase == "forward" else " ←"),
                style="bold green" if d.phase == "forward" else "bold red")
    q, k = d.tokens[d.query], d.tokens[d.key]
    text.append(f"  head {d.head} · query {d.query} {fmt.safe(q, 8)!r} · key {d.key} "
                f"{fmt.safe(k, 8)!r} · sample {d.sample} of {d.batch}", style="dim")
    return text


def _maps(d: AttentionData, width: int, max_rows: int | None = None) -> RenderableType:
    label = min(6, max(len(t) for t in d.tokens)) + 1
    cw = 2 if label + 1 + 2 * d.T <= (width - GAP) // 2 or d.heads == 1 else 1
    if d.phase == "backward" and d.dA is not None:
        maps = [(f"head {d.head}: A", d.A[d.head], False),
                (f"head {d.head}: ∇A (∂L/∂A)", d.dA[d.head], True)]
    else:
        maps = [(f"head {h}: A" + (" ◀" if h == d.head else ""), d.A[h], False)
                for h in range(d.heads)]
    one = label + 1 + cw * d.T
    per_row = max(1, min(len(maps), (width + GAP) // (one + GAP)))
    slot = width if per_row == 1 else one
    grid = Table.grid(padding=(0, GAP, 0, 0))
    for _ in range(per_row):
        grid.add_column(no_wrap=True, width=min(slot, width))
    cells = [AttentionMap(v, d.tokens, title=title, query=d.query, key=d.key,
                          causal=d.causal, signed=signed, cell_width=cw, label_width=label,
                          width=min(slot, width), max_rows=max_rows)
             for title, v, signed in maps]
    for i in range(0, len(cells), per_row):
        row = cells[i:i + per_row]
        grid.add_row(*row, *[""] * (per_row - len(row)))
    return grid


def _legend(d: AttentionData) -> Text:
    text = Text("rows: queries (▶ selected), columns: keys (▼); ░▒▓█ weight / the map's "
                "largest" + (", ▂▄▆▇ negative ∇" if d.phase == "backward" else "")
                + ("; · masked: the future" if d.causal else "")
                + "; ↑↓ query, h l key, , . head", style="dim")
    if d.collapsed:
        text.append(f"\ncollapsed rows (one key > 0.99): queries "
                    f"{', '.join(map(str, d.collapsed[:8]))}", style="bold yellow")
    return text


def render_attention(d: AttentionData | None, width: int = 80, height: int = 40) -> Group:
    """The whole view as one Rich renderable for `width` x `height` cells: the header and
    the selected score first, then the maps (only the queries around the selected one
    when the height is short), then the softmax row, the weighted sum and the gradients."""
    if d is None:
        return Group(Text("the attention layer has not run yet in this pass "
                          "(step forward to reach it)", style="italic dim"))
    parts: list[RenderableType] = [_header(d)]
    lines = [Text(fmt.safe(text, 2000), style=KIND_STYLE.get(kind, "")) for text, kind in d.lines]
    grads = [t for t, (_, kind) in zip(lines, d.lines) if kind == "grad"]
    # first, on screen at 80x24: the score (forward) or ∂L/∂A and ∂L/∂s (backward)
    top = grads[:2] if grads else lines[:1]
    rest = [t for t in lines if not any(t is g for g in top)]
    wrapped = lambda t: -(-t.cell_len // max(1, width))                  # noqa: E731
    used = sum(wrapped(t) for t in [parts[0]] + top) + 3                 # + title, axis, note
    parts += top + [_maps(d, width, max(1, height - used))] + rest
    parts.append(_legend(d))
    return Group(*parts)


class AttentionView(VerticalScroll, can_focus=True):
    """↑/↓ (k/j) the query, h/l the key, `,`/`.` the head; Shift+↑/↓ scroll."""

    DEFAULT_CSS = """
    AttentionView { border: round $primary-darken-2; padding: 0 1; height: 1fr; min-height: 8; }
    AttentionView:focus { border: round $accent; }
    AttentionView > Static { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1, 0)", "Prev query", show=False),
        Binding("down,j", "move(1, 0)", "Next query", show=False),
        Binding("h", "move(0, -1)", "Prev key", show=False),
        Binding("l", "move(0, 1)", "Next key", show=False),
        Binding("comma", "head(-1)", "Prev head", show=False),
        Binding("full_stop", "head(1)", "Next head", show=False),
        Binding("shift+up", "scroll_up", "Scroll up", show=False),
        Binding("shift+down", "scroll_down", "Scroll down", show=False),
    ]

    @dataclass
    class Changed(Message):
        """The selection changed: redraw with attention_view(layer, head, query, key)."""
        layer: str
        head: int
        query: int
        key: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data: AttentionData | None = None

    def compose(self):
        yield Static(id="attn")

    def show(self, data: AttentionData | None) -> None:
        self.data = data
        self.border_title = "attention" if data is None else \
            f"{fmt.safe(data.layer, 24)}: {data.phase} · head {data.head}"
        self.border_subtitle = "" if data is None else \
            f"A[{data.query},{data.key}] = {compact(float(data.A[data.head, data.query, data.key]))}"
        width = max(20, self.scrollable_content_region.width or 80)
        height = max(8, self.scrollable_content_region.height or 20)
        self.query_one("#attn", Static).update(render_attention(data, width, height))

    def on_resize(self) -> None:
        if self.data is not None:
            self.show(self.data)

    def action_move(self, dq: int, dkey: int) -> None:
        d = self.data
        if d is None:
            return
        q = min(max(0, d.query + dq), d.T - 1)
        k = min(max(0, d.key + dkey), d.T - 1)
        if (q, k) != (d.query, d.key):
            self.post_message(self.Changed(d.layer, d.head, q, k))

    def action_head(self, delta: int) -> None:
        d = self.data
        if d is None:
            return
        h = min(max(0, d.head + delta), d.heads - 1)
        if h != d.head:
            self.post_message(self.Changed(d.layer, h, d.query, d.key))
