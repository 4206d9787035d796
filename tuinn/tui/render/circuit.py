"""Provides CircuitDiagram: a Rich renderable drawing a gate graph as a CS231n-style circuit.

Plain data in (DiagramNode, EdgeLabel), text out; no math. Conventions, which snapshots rely on:
- Columns by longest path: inputs in column 0, each gate one column right of its deepest
  argument. A long edge runs straight through the columns between. The output's edge leaves
  to the right edge of the drawing, ending in "▶" (then `output_name`, if given).
- Every edge carries its source's forward value above the line and its gradient below it,
  prefixed with "∇" (GRAD_PREFIX) so the two differ without colour; pass plain strings
  ("-0.20"), the diagram adds the prefix. A branch is labelled once, near its source.
- Gates are boxes, 3 rows high for one argument and 2n+1 rows for n >= 2 arguments, so that
  every argument enters with its own "▶", argument 0 at the top. Inputs are bare names.
- The current node has a heavy border (┏━┓, also around an input's name) and `current_style`
  on its label; the selected node has a double border (╔═╗) and `selected_style`.
- ┌ ┐ └ ┘ ├ ┤ ┬ ┴ ┼ always join lines of one edge (a fan-out). Where two different edges
  cross, the vertical line stays unbroken (│) and the horizontal one passes under it.
The layout depends only on the nodes and the label widths (not on the terminal width);
`min_label_width` keeps it from widening as values and gradients appear while stepping.
Denser forms for small panels (render/circuit_fit.py chooses among them): `compact` boxes
(a one-argument gate is one row, `[exp]`; n arguments take 2n-1 rows, each still entering
with its own "▶"), `labels_inline` ("value ∇grad" on the wire itself, one row per edge), and
`label_nodes` (only those nodes' edges labelled; the rest go to the inspector).
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from fractions import Fraction

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from tuinn.tui.render.circuit_gaps import CircuitGaps
from tuinn.tui.render.circuit_paint import CircuitPainter

GRAD_PREFIX = "∇"
_END = "\x00end"                     # key of the virtual slot the output's edge runs into


@dataclass(frozen=True)
class DiagramNode:
    id: str
    label: str                  # text in the box ("+", "*", "exp", ...); an input's name
    kind: str                   # "input" | "gate"
    args: tuple[str, ...] = ()  # ids of the nodes feeding this one, in argument order


@dataclass(frozen=True)
class EdgeLabel:
    value: str = ""             # formatted forward value; "" while not computed
    grad: str | None = None     # formatted gradient (no prefix); None until backward reached it
    short: tuple[str, str | None] | None = None   # (value, grad) abbreviated, for `short_labels`


@dataclass
class _Slot:
    """One thing in a column: a node, a pass-through of a long edge ("dummy"), or the end."""
    key: str
    kind: str                   # "input" | "gate" | "dummy" | "end"
    col: int
    w: int
    h: int
    preds: list[tuple[str, int]] = field(default_factory=list)   # (source slot, entry)
    succs: list[tuple[str, int]] = field(default_factory=list)   # (target slot, entry)
    x: int = 0
    y: int = 0
    top: int = 1                # rows above argument 0's entry

    @property
    def real(self) -> bool:
        return self.kind in ("input", "gate")

    @property
    def out_row(self) -> int:
        return self.y + self.h // 2 if self.real else self.y

    def entry_row(self, k: int) -> int:
        return self.y + self.top + 2 * k if self.kind == "gate" else self.y


def _pav(targets: list[Fraction]) -> list[Fraction]:
    """Least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list] = []
    for t in targets:
        blocks.append([t, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
    return [s / n for s, n in blocks for _ in range(n)]


def _inversions(ends: list[tuple[float, float]]) -> int:
    """How many pairs of edges cross: (a, b) and (a2, b2) with a < a2 but b > b2.
    O(n log n): in order of (a, b), count the b's seen so far that are larger."""
    seen: list[float] = []
    n = 0
    for _, b in sorted(ends):
        n += len(seen) - bisect.bisect_right(seen, b)
        bisect.insort(seen, b)
    return n


class CircuitDiagram(CircuitGaps, CircuitPainter):
    """A computation graph drawn left to right; measure it, render it, or ask where a node is."""

    def __init__(self, nodes: list[DiagramNode], output: str, labels: dict[str, EdgeLabel],
                 current: str | None = None, selected: str | None = None,
                 value_style: str | Style = "green", grad_style: str | Style = "red",
                 current_style: str | Style = "bold reverse", box_style: str | Style = "",
                 selected_style: str | Style = "bold", edge_style: str | Style = "",
                 output_name: str | None = None, min_label_width: int = 0,
                 inputs_near: bool = False, compact: bool = False, labels_inline: bool = False,
                 label_nodes: Collection[str] | None = None, row_gap: int | None = None,
                 label_reserve: dict[str, tuple[int, int]] | None = None, wire_pad: int = 1,
                 short_labels: bool = False, more_outputs: Collection[str] = ()):
        """inputs_near: draw each input just left of its first user instead of in the
        first column (the network view: parameters beside their layer).
        compact: boxes without padding rows, a one-argument gate as `[exp]`, no blank row
        between the things of a column. labels_inline: each edge's "value ∇grad" on its
        wire instead of above and below it (one row per edge). label_nodes: label only the
        edges leaving these nodes (None: all); an unlabelled gap gets a short wire.
        row_gap: blank rows between the things of a column (default 1, compact 0).
        label_reserve: per node, cells to keep for its value and its "∇grad" (say, their
        widths at the end of the pass), so the layout stays put while stepping.
        wire_pad: inline, the wire cells kept before a label ("─ 2 ∇-0.2 ─▶").
        short_labels: use each EdgeLabel's `short` form where it has one.
        more_outputs: nodes whose edges also run to the right edge, each ending in
        "▶ id" (a graph cut in two: the edges that continue in the part drawn below)."""
        self.nodes = {n.id: n for n in nodes}
        self.inputs_near, self.compact, self.labels_inline = inputs_near, compact, labels_inline
        self.label_nodes = None if label_nodes is None else frozenset(label_nodes)
        self.row_gap = (0 if compact else 1) if row_gap is None else row_gap
        self.label_reserve, self.wire_pad = label_reserve or {}, wire_pad
        self.short_labels = short_labels
        self._ends = [(_END, output, output_name)] + [(f"{_END}:{m}", m, m) for m in more_outputs]
        self.output, self.labels, self.current, self.selected = output, labels, current, selected
        st = lambda s: s if isinstance(s, Style) else Style.parse(s)  # noqa: E731
        self.value_style, self.grad_style = st(value_style), st(grad_style)
        self.current_style, self.box_style = st(current_style), st(box_style)
        self.selected_style, self.edge_style = st(selected_style), st(edge_style)
        self.output_name, self.min_label_width = output_name, min_label_width
        self._check(nodes)
        self._build_slots(nodes)
        for step in (self._order, self._place_rows, self._plan_gaps, self._place_columns):
            step()
        self._chars: list[list[str]] | None = None       # painted when first drawn

    def cells(self) -> tuple[list[list[str]], list[list[Style | None]]]:
        """The drawing's characters and styles, row by row (painted on first use)."""
        if self._chars is None:
            self._paint()
        return self._chars, self._styles

    def restyled(self, labels: dict[str, EdgeLabel], current: str | None,
                 selected: str | None) -> CircuitDiagram:
        """This layout with other labels and marks, to paint again (a step of a large graph).
        Only where the labels cannot move it: none shown, or within `label_reserve`."""
        d = copy.copy(self)
        d.labels, d.current, d.selected, d._chars = labels, current, selected, None
        return d

    # ---- public queries -------------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        """(width, height) in cells of the whole drawing."""
        return self._width, self._height

    def node_box(self, id: str) -> tuple[int, int, int, int]:
        """x, y, w, h of a node's box (an input's name area) in drawing cells."""
        s = self._slots[id]
        return s.x, s.y, s.w, s.h

    def entry_cell(self, id: str, k: int) -> tuple[int, int]:
        """x, y of the "▶" where argument k enters node `id` (the output enters `_END`)."""
        s = self._slots[id]
        return s.x - 1, s.entry_row(k)

    def column_of(self, id: str) -> int:
        """The column a node stands in (inputs 0; the output's edge ends in the last)."""
        return self._col[id]

    def columns(self) -> list[tuple[int, list[str]]]:
        """Per column: the x where it starts, and the nodes whose edges cross the gap to
        its right (a fan-out or a long edge counts once)."""
        return [(self._col_x[c], list(self._nets[c]) if c < len(self._nets) else [])
                for c in range(self._ncols)]

    def node_at(self, x: int, y: int) -> str | None:
        """The node whose box covers cell (x, y), if any."""
        for key in self.nodes:
            s = self._slots[key]
            if s.x <= x < s.x + s.w and s.y <= y < s.y + s.h:
                return key
        return None

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self._width, self._width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for row, styles in zip(*self.cells()):
            start = 0
            for x in range(1, len(row) + 1):
                if x == len(row) or styles[x] != styles[start]:
                    yield Segment("".join(row[start:x]), styles[start])
                    start = x
            yield Segment.line()

    # ---- layout ---------------------------------------------------------------------------
    def _check(self, nodes: list[DiagramNode]) -> None:
        """Validate the graph and put each node in its column (longest path from the inputs)."""
        bad = [n.id for n in nodes if n.kind != "gate" and (n.kind != "input" or n.args)]
        unknown = [(n.id, a) for n in nodes for a in n.args if a not in self.nodes]
        outs = [node for _, node, _ in self._ends]
        if len(self.nodes) != len(nodes) or bad or unknown or not set(outs) <= self.nodes.keys() \
                or len(set(outs)) != len(outs):
            raise ValueError(f"circuit: duplicate ids, bad kinds {bad}, unknown args {unknown}"
                             f" or unknown output {self.output!r}")
        self._col = col = {}
        waiting = {n.id: len(set(n.args)) for n in nodes}    # arguments not placed yet
        users: dict[str, list[str]] = {n.id: [] for n in nodes}
        for n in nodes:
            for a in set(n.args):
                users[a].append(n.id)
        ready = [n.id for n in nodes if not waiting[n.id]]
        while ready:                         # each node once, after all its arguments
            key = ready.pop()
            col[key] = 1 + max((col[a] for a in self.nodes[key].args), default=-1)
            for u in users[key]:
                waiting[u] -= 1
                if not waiting[u]:
                    ready.append(u)
        if len(col) < len(nodes):
            raise ValueError("circuit: the graph has a cycle")
        if self.inputs_near:                 # an input stands just left of its first user
            first: dict[str, int] = {}
            for n in nodes:
                for a in n.args:
                    first[a] = min(first.get(a, col[n.id]), col[n.id])
            for n in nodes:
                if n.kind == "input" and n.id in first:
                    col[n.id] = first[n.id] - 1

    def _build_slots(self, nodes: list[DiagramNode]) -> None:
        slots: dict[str, _Slot] = {}
        pad = 0 if self.labels_inline else 1           # rows for the labels above and below
        for n in nodes:
            if not self.compact:
                w = cell_len(n.label) + (4 if n.kind == "gate" else 2)
                h, top = (2 * len(n.args) + 1 if len(n.args) > 1 else 3), 1
            else:
                bh = max(1, 2 * len(n.args) - 1) if n.kind == "gate" else 1
                w = cell_len(n.label) + (4 if bh > 1 else 2 if n.label else 1)
                h, top = bh + 2 * pad, pad
            slots[n.id] = _Slot(n.id, n.kind, self._col[n.id], w, h, top=top)
        self._ncols = max(self._col.values()) + 2          # the last column holds only the end
        consumers: dict[str, list[tuple[str, int]]] = {n.id: [] for n in nodes}
        for n, k, a in [(n, k, a) for n in nodes for k, a in enumerate(n.args)]:
            consumers[a].append((n.id, k))
        for key, node, name in self._ends:
            slots[key] = _Slot(key, "end", self._ncols - 1, cell_len(name) + 1 if name else 0, 1)
            consumers[node].append((key, 0))
        self._edges: list[tuple[str, str, int, str]] = []   # (src slot, dst slot, entry, net)
        for n in nodes:
            if not consumers[n.id]:
                continue
            chain = {self._col[n.id]: n.id}
            far = max(slots[t].col for t, _ in consumers[n.id])
            for c in range(self._col[n.id] + 1, far):       # one shared pass-through per column
                d = f"\x00{n.id}@{c}"
                slots[d] = _Slot(d, "dummy", c, 0, 1)
                self._edges.append((chain[c - 1], d, 0, n.id))
                chain[c] = d
            for t, k in consumers[n.id]:
                self._edges.append((chain[slots[t].col - 1], t, k, n.id))
        for src, dst, k, _ in self._edges:
            slots[src].succs.append((dst, k))
            slots[dst].preds.append((src, k))
        self._nets: list[dict[str, tuple[str, list]]] = [{} for _ in range(self._ncols)]
        for src, dst, k, net in self._edges:     # per gap: net -> (source slot, its targets)
            self._nets[slots[src].col].setdefault(net, (src, []))[1].append((dst, k))
        self._slots = slots
        self._layers = [[] for _ in range(self._ncols)]
        for k, s in slots.items():
            self._layers[s.col].append(k)

    def _port(self, pos: dict[str, float], key: str, k: int) -> float:
        n = max(1, len(self._slots[key].preds))
        return pos[key] + (k + 1) / (n + 1) - 0.5

    def _crossings(self, pos: dict[str, float]) -> int:
        gaps: dict[int, list[tuple[float, float]]] = {}
        for s, d, k, _ in self._edges:
            gaps.setdefault(self._slots[s].col, []).append((pos[s], self._port(pos, d, k)))
        return sum(_inversions(ends) for ends in gaps.values())

    def _order(self) -> None:
        """Barycenter sweeps, down and up; keep the order with the fewest crossings."""
        pos = {k: float(i) for layer in self._layers for i, k in enumerate(layer)}

        def sort(c: int, down: bool) -> None:
            def bary(key: str) -> tuple[float, float]:
                s = self._slots[key]
                ps = [pos[p] for p, _ in s.preds] if down else \
                    [self._port(pos, d, k) for d, k in s.succs]
                return (sum(ps) / len(ps) if ps else pos[key], pos[key])
            self._layers[c].sort(key=bary)
            pos.update((k, float(i)) for i, k in enumerate(self._layers[c]))

        best, n_cols = (self._crossings(pos), [list(layer) for layer in self._layers]), self._ncols
        for _ in range(4):
            for down, cols in ((True, range(1, n_cols)), (False, range(n_cols - 2, -1, -1))):
                for c in cols:
                    sort(c, down)
                n = self._crossings(pos)
                if n < best[0]:
                    best = (n, [list(layer) for layer in self._layers])
        self._layers = best[1]

    def _place_rows(self) -> None:
        """Stack column 0; put every later slot where its entries line up with their sources."""
        for layer in self._layers:
            offs, o = [], 0
            for key in layer:
                offs.append(o)
                o += self._slots[key].h + self.row_gap
            targets = []
            for key, off in zip(layer, offs):
                s = self._slots[key]
                want = [self._slots[p].out_row - (s.entry_row(k) - s.y) for p, k in s.preds]
                targets.append(Fraction(sum(want), len(want)) - off if want else Fraction(0))
            for key, off, z in zip(layer, offs, _pav(targets)):
                self._slots[key].y = math.floor(z + Fraction(1, 2)) + off

    def _labelled(self, key: str) -> bool:
        return self.label_nodes is None or key in self.label_nodes

    def _label_texts(self, key: str) -> tuple[str, str]:
        if not self._labelled(key):
            return "", ""
        lab = self.labels.get(key) or EdgeLabel()
        value, grad = lab.short if self.short_labels and lab.short else (lab.value, lab.grad)
        return value, "" if grad is None else GRAD_PREFIX + grad

    def _label_width(self, key: str) -> int:
        """Cells the labels of `key`'s edge take (at least min_label_width each)."""
        value, grad = (max(self.min_label_width, r, cell_len(t)) for t, r in
                       zip(self._label_texts(key), self.label_reserve.get(key, (0, 0))))
        return value + (1 + grad if grad else 0) if self.labels_inline else max(value, grad)

    def _place_columns(self) -> None:
        x = 0
        self._gap_x: list[tuple[int, int, int]] = []      # (label start, label width, track 0 x)
        self._col_x: list[int] = []                        # where each column starts
        for c, layer in enumerate(self._layers):
            self._col_x.append(x)
            slots = [self._slots[k] for k in layer]
            margin = 1 if any(s.kind in ("gate", "end") and s.preds for s in slots) else 0
            inner = max(s.w for s in slots)
            for s in slots:
                off = inner - s.w if s.kind == "input" else (inner - s.w) // 2
                s.x, s.w = (x, margin + inner) if s.kind == "dummy" else (x + margin + off, s.w)
            x += margin + inner
            if c == self._ncols - 1:
                break
            labelled = [s.key for s in slots if s.real and self._labelled(s.key)]
            if labelled or not (self.compact or self.label_nodes is not None):
                lw = max([self.min_label_width] + [self._label_width(k) for k in labelled])
                lw += 2 + self.wire_pad if self.labels_inline else 2   # inline: "─ " text " "
            else:
                lw = 1                                 # nothing to label: a short wire
            ntracks = len(set(self._tracks[c].values()))
            self._gap_x.append((x, lw, x + lw + 1))
            x += lw + (2 * ntracks + 1 if ntracks else 1)
        self._width = x
