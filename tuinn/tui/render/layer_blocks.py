"""Provides the pieces the layer picture is assembled from: Block (lines of one width with
the row edges enter on), joining blocks side by side, and a residual block drawn as a
dashed frame around its layers with its skip line running above them into ⊕."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from tuinn.tui.present_layers import LayerItem

DIM = Style(dim=True)


@dataclass
class Block:
    """A drawn piece: lines of equal width and the row its edges enter and leave on."""
    lines: list[Text]
    port: int

    @property
    def width(self) -> int:
        return self.lines[0].cell_len if self.lines else 0

    @property
    def height(self) -> int:
        return len(self.lines)


def pad(text: Text, width: int) -> Text:
    out = text.copy()
    if out.cell_len < width:
        out.append(" " * (width - out.cell_len))
    return out


def hjoin(blocks: list[Block]) -> Block:
    """Blocks side by side, their ports on one row."""
    port = max(b.port for b in blocks)
    below = max(b.height - b.port for b in blocks)
    lines = [Text() for _ in range(port + below)]
    for b in blocks:
        top = port - b.port
        for r in range(len(lines)):
            i = r - top
            lines[r].append_text(b.lines[i] if 0 <= i < b.height else Text(" " * b.width))
    return Block(lines, port)


def residual_block(d, it: LayerItem, level: int) -> Block:
    """A residual block for the LayerDiagram `d`: its layers in a dashed frame (one line
    at the chip levels), the skip line from before the first into ⊕ after the last."""
    inner = d.inner_chain(it.children, level)
    last = it.children[-1] if it.children else it
    if level >= 2:                               # one line: ⟨res1 ... ⊕x⟩
        _, bst, _ = d.border(it)
        line = Text("⟨", style=bst)
        line.append(it.name + " ", style=Style(bold=True, reverse=it.id == d.current,
                                               underline=it.id == d.selected))
        line.append("─▶", style=DIM)
        line.append_text(inner.lines[inner.port])
        line.append(" ─▶⊕ +x⟩", style=bst)
        return Block([line], 0)
    st = d.edge_style(it)
    p = inner.port + 1                           # the port row inside the frame
    ew = 4                                       # "─▶⊕─" after the inner chain
    cw = 3 + inner.width + ew
    plus = 3 + inner.width + 2                   # the ⊕ column
    label = " skip: y = x + f(x) "
    rows: list[Text] = []
    skip = Text("┌", style=st)
    span = plus - 1
    if cell_len(label) + 2 <= span:
        left = (span - cell_len(label)) // 2
        skip.append("─" * left, style=st)
        skip.append(label, style=DIM)
        skip.append("─" * (span - left - cell_len(label)), style=st)
    else:
        skip.append("─" * span, style=st)
    skip.append("┐", style=st)
    rows.append(pad(skip, cw))
    for r, line in enumerate(inner.lines):
        row = r + 1
        if row < p:
            left = Text("│  ", style=st)
            right = Text("  " + ("▼" if row == p - 1 else "│") + " ", style=st)
        elif row == p:
            left = Text("┴─▶", style=st)
            right = Text("─▶", style=d.edge_style(last))
            right.append("⊕", style=Style(bold=True))
            right.append("─", style=st)
        else:
            left, right = Text("   "), Text("    ")
        left.append_text(line)
        left.append_text(right)
        rows.append(left)
    chars, bst, tst = d.border(it, "dashed")
    tl, tr, bl, br, h, v = chars
    title = f" {it.name} "
    cw = max(cw, cell_len(title) + 2)
    top = Text(tl + h, style=bst)
    top.append(title, style=tst)
    top.append(h * (cw - 1 - cell_len(title)) + tr, style=bst)
    lines = [top]
    for r, row in enumerate(rows):
        edge = r == p
        line = Text("─" if edge else v, style=st if edge else bst)
        line.append_text(pad(row, cw) if not edge else row)
        if edge:
            line.append("─" * (cw - row.cell_len), style=st)
        line.append("─" if edge else v, style=st if edge else bst)
        lines.append(line)
    lines.append(Text(bl + h * cw + br, style=bst))
    return Block(lines, p + 1)
