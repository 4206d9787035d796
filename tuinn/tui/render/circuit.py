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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

GRAD_PREFIX = "∇"
_END = "\x00end"                     # key of the virtual slot the output's edge runs into
_N, _S, _E, _W = 1, 2, 4, 8
_LINES = {_E: "─", _W: "─", _E | _W: "─", _N: "│", _S: "│", _N | _S: "│",
          _S | _E: "┌", _S | _W: "┐", _N | _E: "└", _N | _W: "┘", _N | _S | _E: "├",
          _N | _S | _W: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴", 15: "┼"}
_BORDERS = {"light": "┌┐└┘─│", "heavy": "┏┓┗┛━┃", "double": "╔╗╚╝═║"}


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

    @property
    def real(self) -> bool:
        return self.kind in ("input", "gate")

    @property
    def out_row(self) -> int:
        return self.y + self.h // 2 if self.real else self.y

    def entry_row(self, k: int) -> int:
        return self.y + 1 + 2 * k if self.kind == "gate" else self.y


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


class CircuitDiagram:
    """A computation graph drawn left to right; measure it, render it, or ask where a node is."""

    def __init__(self, nodes: list[DiagramNode], output: str, labels: dict[str, EdgeLabel],
                 current: str | None = None, selected: str | None = None,
                 value_style: str | Style = "green", grad_style: str | Style = "red",
                 current_style: str | Style = "bold reverse", box_style: str | Style = "",
                 selected_style: str | Style = "bold", edge_style: str | Style = "",
                 output_name: str | None = None, min_label_width: int = 0,
                 inputs_near: bool = False):
        """inputs_near: draw each input just left of its first user instead of in the
        first column (the network view: parameters beside their layer)."""
        self.nodes = {n.id: n for n in nodes}
        self.inputs_near = inputs_near
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
        self._paint()

    # ---- public queries -------------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        """(width, height) in cells of the whole drawing."""
        return self._width, self._height

    def node_box(self, id: str) -> tuple[int, int, int, int]:
        """x, y, w, h of a node's box (an input's name area) in drawing cells."""
        s = self._slots[id]
        return s.x, s.y, s.w, s.h

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
        for row, styles in zip(self._chars, self._styles):
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
        if len(self.nodes) != len(nodes) or bad or unknown or self.output not in self.nodes:
            raise ValueError(f"circuit: duplicate ids, bad kinds {bad}, unknown args {unknown}"
                             f" or unknown output {self.output!r}")
        self._col = col = {}
        while len(col) < len(nodes):
            ready = [n for n in nodes if n.id not in col and all(a in col for a in n.args)]
            if not ready:
                raise ValueError("circuit: the graph has a cycle")
            for n in ready:
                col[n.id] = 1 + max((col[a] for a in n.args), default=-1)
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
        for n in nodes:
            w = cell_len(n.label) + (4 if n.kind == "gate" else 2)
            h = 2 * len(n.args) + 1 if len(n.args) > 1 else 3
            slots[n.id] = _Slot(n.id, n.kind, self._col[n.id], w, h)
        self._ncols = max(self._col.values()) + 2          # the last column holds only the end
        end_w = cell_len(self.output_name) + 1 if self.output_name else 0
        slots[_END] = _Slot(_END, "end", self._ncols - 1, end_w, 1)
        consumers: dict[str, list[tuple[str, int]]] = {n.id: [] for n in nodes}
        for n, k, a in [(n, k, a) for n in nodes for k, a in enumerate(n.args)]:
            consumers[a].append((n.id, k))
        consumers[self.output].append((_END, 0))
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
        self._layers = [[k for k, s in slots.items() if s.col == c] for c in range(self._ncols)]

    def _port(self, pos: dict[str, float], key: str, k: int) -> float:
        n = max(1, len(self._slots[key].preds))
        return pos[key] + (k + 1) / (n + 1) - 0.5

    def _crossings(self, pos: dict[str, float]) -> int:
        gaps: dict[int, list[tuple[float, float]]] = {}
        for s, d, k, _ in self._edges:
            gaps.setdefault(self._slots[s].col, []).append((pos[s], self._port(pos, d, k)))
        return sum(1 for ends in gaps.values() for i, (a, b) in enumerate(ends)
                   for a2, b2 in ends[i + 1:] if (a - a2) * (b - b2) < 0)

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
                o += self._slots[key].h + 1                # one blank row between slots
            targets = []
            for key, off in zip(layer, offs):
                s = self._slots[key]
                want = [self._slots[p].out_row - (s.entry_row(k) - s.y) for p, k in s.preds]
                targets.append(Fraction(sum(want), len(want)) - off if want else Fraction(0))
            for key, off, z in zip(layer, offs, _pav(targets)):
                self._slots[key].y = math.floor(z + Fraction(1, 2)) + off

    def _constraints(self, c: int) -> tuple[dict, dict[str, set[str]]]:
        """Rows of each net in gap c, and which nets' tracks must lie left of which."""
        rows = {}
        for net, (src, dsts) in self._nets[c].items():
            rows[net] = (self._slots[src].out_row, [self._slots[d].entry_row(k) for d, k in dsts])
        src_at = {s: net for net, (s, _) in rows.items()}
        before: dict[str, set[str]] = {net: set() for net in rows}
        for net, (_, ts) in rows.items():     # a source on a row where another net ends
            before[net] |= {src_at[t] for t in ts if t in src_at and src_at[t] != net}
        return rows, before

    def _pack(self, c: int) -> dict[str, int] | None:
        """Tracks for the bending nets of gap c (constrained left-edge), or None if impossible."""
        rows, before = self._constraints(c)
        span = {n: (min(s, *ts), max(s, *ts)) for n, (s, ts) in rows.items() if ts != [s]}
        pending, tracks = sorted(span, key=lambda n: (span[n], n)), {}
        while pending:
            t, last = len(set(tracks.values())), -math.inf
            ready = [n for n in pending if before[n] & span.keys() <= tracks.keys()]
            if not ready:
                return None                        # two nets each need the other's row free
            for n in ready:
                if span[n][0] > last:
                    tracks[n], last = t, span[n][1]
            pending = [n for n in pending if n not in tracks]
        return tracks

    def _plan_gaps(self) -> None:
        self._tracks: list[dict[str, int]] = []
        for c in range(self._ncols - 1):
            used = [r for s in self._slots.values() for r in (s.y, s.y + s.h)]
            tracks = self._pack(c)
            deltas = (d for i in range(1, 2 * (max(used) - min(used)) + 4) for d in (i, -i))
            while tracks is None:                  # edges swap rows: shift the right side
                d = next(deltas)
                self._shift(c, d)
                if (tracks := self._pack(c)) is None:
                    self._shift(c, -d)
            self._tracks.append(tracks)
        self._shift(-1, -min(s.y for s in self._slots.values()))     # top row is 0
        self._height = max(s.y + s.h for s in self._slots.values())

    def _shift(self, c: int, d: int) -> None:
        for s in [s for s in self._slots.values() if s.col > c]:
            s.y += d

    def _label_texts(self, key: str) -> tuple[str, str]:
        lab = self.labels.get(key) or EdgeLabel()
        return lab.value, "" if lab.grad is None else GRAD_PREFIX + lab.grad

    def _place_columns(self) -> None:
        x = 0
        self._gap_x: list[tuple[int, int, int]] = []      # (label start, label width, track 0 x)
        for c, layer in enumerate(self._layers):
            slots = [self._slots[k] for k in layer]
            margin = 1 if any(s.kind in ("gate", "end") and s.preds for s in slots) else 0
            inner = max(s.w for s in slots)
            for s in slots:
                off = inner - s.w if s.kind == "input" else (inner - s.w) // 2
                s.x, s.w = (x, margin + inner) if s.kind == "dummy" else (x + margin + off, s.w)
            x += margin + inner
            if c == self._ncols - 1:
                break
            texts = [t for s in slots if s.real for t in self._label_texts(s.key)]
            lw = max([self.min_label_width] + [cell_len(t) for t in texts]) + 2
            ntracks = len(set(self._tracks[c].values()))
            self._gap_x.append((x, lw, x + lw + 1))
            x += lw + (2 * ntracks + 1 if ntracks else 1)
        self._width = x

    # ---- painting -------------------------------------------------------------------------
    def _paint(self) -> None:
        self._chars = [[" "] * self._width for _ in range(self._height)]
        self._styles: list[list[Style | None]] = [[None] * self._width for _ in range(self._height)]
        self._lines: dict[tuple[int, int], dict[str, int]] = {}
        for c, tracks in enumerate(self._tracks):
            label_x, lw, track0 = self._gap_x[c]
            for net, (src, dsts) in self._nets[c].items():
                self._route(self._slots[src], dsts, net, tracks, track0)
            for s in [self._slots[key] for key in self._layers[c] if self._slots[key].real]:
                if not s.succs:                           # an unused result: a labelled stub
                    self._hline(s.key, s.out_row, s.x + s.w, label_x + lw - 1)
                for text, dy, style in zip(self._label_texts(s.key), (-1, 1),
                                           (self.value_style, self.grad_style)):
                    self._text(label_x + (lw - cell_len(text)) // 2, s.out_row + dy, text, style)
        for (x, y), nets in self._lines.items():
            dirs = list(nets.values())                  # a crossing: the vertical line wins
            dirs = ([d for d in dirs if d & (_N | _S)] or dirs)[0] if len(dirs) > 1 else dirs[0]
            if self._chars[y][x] == " ":
                self._put(x, y, _LINES[dirs], self.edge_style)
        for key in self.nodes:
            self._node(self._slots[key])
        end = self._slots[_END]
        self._put(end.x - 1, end.y, "▶", self.edge_style)
        self._text(end.x + 1, end.y, self.output_name or "", self.box_style)

    def _route(self, src: _Slot, dsts: list[tuple[str, int]], net: str,
               tracks: dict[str, int], track0: int) -> None:
        s_row = src.out_row
        xs = src.x + src.w if src.real else src.x
        ends = []
        for key, k in dsts:
            d = self._slots[key]
            ends.append((d.entry_row(k), d.x - 1 if d.kind != "dummy" else d.x))
            if d.kind == "dummy":                      # a pass-through spans its whole column
                self._hline(net, d.y, d.x, d.x + d.w - 1)
        if net not in tracks:                          # straight through
            self._hline(net, s_row, xs, ends[0][1])
            return
        tx = track0 + 2 * tracks[net]
        self._hline(net, s_row, xs, tx)
        rows = [r for r, _ in ends] + [s_row]
        self._vline(net, tx, min(rows), max(rows))
        for r, xe in ends:
            self._hline(net, r, tx, xe)

    def _hline(self, net: str, y: int, x0: int, x1: int) -> None:
        for x in range(x0, x1 + 1):
            d = (_E if x < x1 else 0) | (_W if x > x0 else 0)
            cell = self._lines.setdefault((x, y), {})
            cell[net] = cell.get(net, 0) | (d or _E | _W)

    def _vline(self, net: str, x: int, y0: int, y1: int) -> None:
        for y in range(y0, y1 + 1):
            d = (_S if y < y1 else 0) | (_N if y > y0 else 0)
            if d:
                cell = self._lines.setdefault((x, y), {})
                cell[net] = cell.get(net, 0) | d

    def _put(self, x: int, y: int, ch: str, style: Style | None) -> None:
        self._chars[y][x], self._styles[y][x] = ch, style

    def _text(self, x: int, y: int, text: str, style: Style | None) -> None:
        for ch in text:                                # a wide character owns two cells
            self._put(x, y, ch, style)
            for i in range(1, cell_len(ch)):
                self._put(x + i, y, "", style)
            x += max(1, cell_len(ch))

    def _node(self, s: _Slot) -> None:
        node = self.nodes[s.key]
        is_cur, is_sel = s.key == self.current, s.key == self.selected
        label_style = self.box_style + (self.selected_style if is_sel else Style())
        label_style += self.current_style if is_cur else Style()
        border = "heavy" if is_cur else "double" if is_sel else "light"
        b_style = label_style + Style(reverse=False) if is_cur or is_sel else self.box_style
        if s.kind == "gate" or border != "light":
            tl, tr, bl, br, hz, vt = _BORDERS[border]
            self._text(s.x, s.y, tl + hz * (s.w - 2) + tr, b_style)
            self._text(s.x, s.y + s.h - 1, bl + hz * (s.w - 2) + br, b_style)
            for y in range(s.y + 1, s.y + s.h - 1):
                self._put(s.x, y, vt, b_style)
                self._put(s.x + s.w - 1, y, vt, b_style)
        pad = " " if s.kind == "gate" else ""
        self._text(s.x + 1, s.y + s.h // 2, pad + node.label + pad, label_style)
        for k in range(len(node.args)):
            self._put(s.x - 1, s.entry_row(k), "▶", self.edge_style)
