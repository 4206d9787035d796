"""Provides CircuitPainter: the drawing half of CircuitDiagram (lines, labels, boxes into cells).

A mixin: CircuitDiagram lays the slots out (render/circuit.py), then `_paint` fills
`_chars` and `_styles`. Lines first, then the edge labels over them, then the boxes.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style

_N, _S, _E, _W = 1, 2, 4, 8
_LINES = {_E: "─", _W: "─", _E | _W: "─", _N: "│", _S: "│", _N | _S: "│",
          _S | _E: "┌", _S | _W: "┐", _N | _E: "└", _N | _W: "┘", _N | _S | _E: "├",
          _N | _S | _W: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴", 15: "┼"}
_BORDERS = {"light": "┌┐└┘─│", "heavy": "┏┓┗┛━┃", "double": "╔╗╚╝═║"}
_BRACKETS = {"light": "[]", "heavy": "┃┃", "double": "║║"}     # one-row (compact) boxes


class CircuitPainter:
    """Paints a laid-out CircuitDiagram; every attribute it reads is set by the layout."""

    def _paint(self) -> None:
        self._chars = [[" "] * self._width for _ in range(self._height)]
        self._styles = [[None] * self._width for _ in range(self._height)]
        self._lines: dict[tuple[int, int], dict[str, int]] = {}
        texts = []
        for c, tracks in enumerate(self._tracks):
            label_x, lw, track0 = self._gap_x[c]
            for net, (src, dsts) in self._nets[c].items():
                self._route(self._slots[src], dsts, net, tracks, track0)
            for s in [self._slots[key] for key in self._layers[c] if self._slots[key].real]:
                if not s.succs:                           # an unused result: a labelled stub
                    self._hline(s.key, s.out_row, s.x + s.w, label_x + lw - 1)
                texts += self._edge_texts(s, label_x, lw)
        for (x, y), nets in self._lines.items():
            dirs = list(nets.values())                  # a crossing: the vertical line wins
            dirs = ([d for d in dirs if d & (_N | _S)] or dirs)[0] if len(dirs) > 1 else dirs[0]
            self._put(x, y, _LINES[dirs], self.edge_style)
        for x, y, text, style in texts:                 # labels over the lines they name
            self._text(x, y, text, style)
        for key in self.nodes:
            self._node(self._slots[key])
        for key, _, name in self._ends:
            end = self._slots[key]
            self._put(end.x - 1, end.y, "▶", self.edge_style)
            self._text(end.x + 1, end.y, name or "", self.box_style)

    def _edge_texts(self, s, label_x: int, lw: int) -> list[tuple[int, int, str, Style]]:
        """(x, y, text, style) of the labels of the edge leaving slot s."""
        value, grad = self._label_texts(s.key)
        if not self.labels_inline:
            return [(label_x + (lw - cell_len(t)) // 2, s.out_row + dy, t, style)
                    for t, dy, style in ((value, -1, self.value_style), (grad, 1, self.grad_style))
                    if t]
        if not value and not grad:
            return []
        parts = [(" " + value, self.value_style), (" " if value and grad else "", self.value_style),
                 (grad, self.grad_style), (" ", self.value_style)]   # blanks break the wire
        core = sum(cell_len(t) for t, _ in parts)
        pad = self.wire_pad
        x, out = label_x + pad + (lw - pad - core) // 2, []
        for text, style in parts:
            out.append((x, s.out_row, text, style))
            x += cell_len(text)
        return out

    def _route(self, src, dsts: list[tuple[str, int]], net: str,
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

    def _node(self, s) -> None:
        node = self.nodes[s.key]
        is_cur, is_sel = s.key == self.current, s.key == self.selected
        label_style = self.box_style + (self.selected_style if is_sel else Style())
        label_style += self.current_style if is_cur else Style()
        border = "heavy" if is_cur else "double" if is_sel else "light"
        b_style = label_style + Style(reverse=False) if is_cur or is_sel else self.box_style
        top = s.y + s.top if self.compact else s.y      # the box's rows, without label rows
        bh = s.h - 2 * s.top if self.compact else s.h
        row = s.y + s.h // 2
        for k in range(len(node.args)):
            self._put(s.x - 1, s.entry_row(k), "▶", self.edge_style)
        if bh == 1:                                     # a one-row box: [exp] or an input
            left, right = _BRACKETS[border]
            if s.kind == "gate" or border != "light":
                self._put(s.x, row, left, b_style)
                self._put(s.x + s.w - 1, row, right, b_style)
            self._text(s.x + 1, row, node.label, label_style)
            return
        if s.kind == "gate" or border != "light":
            tl, tr, bl, br, hz, vt = _BORDERS[border]
            self._text(s.x, top, tl + hz * (s.w - 2) + tr, b_style)
            self._text(s.x, top + bh - 1, bl + hz * (s.w - 2) + br, b_style)
            for y in range(top + 1, top + bh - 1):
                self._put(s.x, y, vt, b_style)
                self._put(s.x + s.w - 1, y, vt, b_style)
        pad = " " if s.kind == "gate" else ""
        self._text(s.x + 1, row, pad + node.label + pad, label_style)
