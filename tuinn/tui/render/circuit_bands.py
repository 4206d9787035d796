"""Provides Bands: CircuitDiagrams stacked, a long circuit wrapped (render/circuit_fit.py).

Where one edge continues into the next band it is wired there (──╮ ╭──╯ ╰──▶); where
several do, each ends in "▶ name" and the next band starts from inputs with those names.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style

from tuinn.tui.render.circuit import _END, CircuitDiagram


def _left_of(band: CircuitDiagram, into: tuple[str, ...]) -> int:
    """1 when the wire into `band` must pass left of inputs of its own, else 0."""
    return int(len(into) == 1 and any(band.nodes[n].kind == "input" and n not in into
                                      for n in band.nodes))


class Bands:
    """CircuitDiagrams stacked. Where one edge continues into the next band it is wired
    there (──╮ ╭──╯ ╰──▶); where several do, each ends in "▶ name" and the next band
    starts from inputs with those names."""

    def __init__(self, bands: list[CircuitDiagram], into: list[tuple[str, ...]],
                 edge_style: Style):
        self.bands, self.layout = bands, ""
        self._top: list[int] = []
        self._left = [_left_of(d, v) for d, v in zip(bands, into)]
        y = 0
        for d, v in zip(bands, into):
            y += len(v) == 1                           # a row for the wire between bands
            self._top.append(y)
            y += d.size()[1]
        self._width = max(d.size()[0] + left for d, left in zip(bands, self._left))
        self._height = y
        self._into, self._edge_style = into, edge_style
        self.into, self.edge_style = into, edge_style
        self._where = {n: i for i, d in enumerate(bands) for n in d.nodes if n not in into[i]}
        self._chars: list[list[str]] | None = None

    def cells(self) -> tuple[list[list[str]], list[list[Style | None]]]:
        """The bands' cells, one above the other, and the wires between (made on first use)."""
        if self._chars is None:
            self._chars = [[" "] * self._width for _ in range(self._height)]
            self._styles: list[list[Style | None]] = [[None] * self._width
                                                      for _ in range(self._height)]
            for d, top, left in zip(self.bands, self._top, self._left):
                for r, (row, styles) in enumerate(zip(*d.cells())):
                    self._chars[top + r][left:left + len(row)] = row
                    self._styles[top + r][left:left + len(row)] = styles
            for i in range(len(self.bands) - 1):
                if len(self._into[i + 1]) == 1:
                    self._wire(i, self._into[i + 1][0], self._edge_style)
        return self._chars, self._styles

    def _wire(self, i: int, net: str, style: Style) -> None:
        """──╮ at band i's right edge, ╭───╯ under it, ╰──▶ into band i + 1."""
        ex, ey = self.bands[i].entry_cell(_END, 0)
        ex, ey = ex + self._left[i], ey + self._top[i]
        below = self._top[i + 1] - 1
        vx, vy, vw, vh = self.bands[i + 1].node_box(net)
        vy += self._top[i + 1] + vh // 2
        vx += self._left[i + 1]
        cells = [(ex, ey, "╮"), (0, below, "╭"), (ex, below, "╯"), (0, vy, "╰")]
        cells += [(ex, y, "│") for y in range(ey + 1, below)]
        cells += [(x, below, "─") for x in range(1, ex)]
        cells += [(0, y, "│") for y in range(below + 1, vy)]
        cells += [(x, vy, "─") for x in range(1, vx + vw)]
        for x, y, ch in cells:
            self._chars[y][x], self._styles[y][x] = ch, style

    def size(self) -> tuple[int, int]:
        return self._width, self._height

    def node_box(self, id: str) -> tuple[int, int, int, int]:
        i = self._where[id]
        x, y, w, h = self.bands[i].node_box(id)
        return x + self._left[i], y + self._top[i], w, h

    def entry_cell(self, id: str, k: int) -> tuple[int, int]:
        """x, y of the "▶" where argument k enters node `id` (`_END`: the last band's)."""
        i = len(self.bands) - 1 if id == _END else self._where[id]
        x, y = self.bands[i].entry_cell(id, k)
        return x + self._left[i], y + self._top[i]

    def node_at(self, x: int, y: int) -> str | None:
        for i, d in enumerate(self.bands):
            node = d.node_at(x - self._left[i], y - self._top[i])
            if node in self._where:
                return node
        return None

    @property
    def nodes(self) -> list[str]:
        return list(self._where)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self._width, self._width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return CircuitDiagram.__rich_console__(self, console, options)
