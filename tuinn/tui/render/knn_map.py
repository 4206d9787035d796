"""Provides KnnMap: DecisionMap's scatter of training points over the k-NN decision
regions, with the query (◎), dotted lines (• without colour) from it to the points
being measured or to the k nearest, and the k nearest drawn in reverse video with their
rank (1 nearest).

Without regions (points projected from more than two features) the background stays
the terminal's own. The last two lines are the legend: the classes and the extent (as
DecisionMap), then the query's marks.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from tuinn.tui.render.decision import CLASS_GLYPHS, DecisionMap, _rgb_color

QUERY = "◎"
DOT = "·"
MONO_DOT = "•"      # without colour the regions' textures use "·" already


def _segment(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Grid cells (col, grid row) on the straight line from a to b, ends excluded."""
    (c0, r0), (c1, r1) = a, b
    n = max(abs(c1 - c0), abs(r1 - r0))
    return [(round(c0 + (c1 - c0) * t / n), round(r0 + (r1 - r0) * t / n))
            for t in range(1, n)]


class KnnMap(DecisionMap):
    def __init__(self, grid, points_xy, point_classes, *, extent, n_classes, query_xy,
                 ranked=(), lines_to=(), prediction=None, regions=True, mono=None,
                 legend=""):
        super().__init__(grid, points_xy, point_classes, extent=extent, n_classes=n_classes,
                         mono=mono)
        self.query_xy, self.ranked, self.lines_to = query_xy, list(ranked), list(lines_to)
        self.prediction, self.regions, self.legend = prediction, regions, legend

    @property
    def size(self) -> tuple[int, int]:
        w, h = super().size
        return w, h + 1

    def _tint(self, v):
        return super()._tint(v) if self.regions else None

    def _lines(self, mono: bool) -> list[Text]:
        g = self.grid
        gh, gw = g.shape
        rows = (gh + 1) // 2
        cells: dict[tuple[int, int], tuple[str, Style]] = {}
        for (row, col), (glyph, rgb, grow) in self._points_by_cell().items():
            cells[(row, col)] = (glyph, self._style(rgb, grow, col, bold=True))
        q = self.cell_of(*self.query_xy)
        if q is not None:
            for i in self.lines_to:
                p = self.cell_of(*self.points[i])
                if p is None:
                    continue
                for col, grow in _segment((q[0], q[2]), (p[0], p[2])):
                    if (grow // 2, col) not in cells:
                        dot = MONO_DOT if mono and self.regions else DOT   # "·" is a texture
                        cells[(grow // 2, col)] = (dot, Style(dim=not self.regions, bold=True))
        for rank, i in reversed(list(enumerate(self.ranked, 1))):   # the nearest on top
            p = self.cell_of(*self.points[i])
            if p is None:
                continue
            k = int(self.classes[i])
            glyph = str(rank) if rank <= 9 else CLASS_GLYPHS[k % len(CLASS_GLYPHS)]
            style = Style(color=None if mono else _rgb_color(self._class_rgb(k)), bold=True,
                          reverse=True)
            cells[(p[1], p[0])] = (glyph, style)
        if q is not None:
            colour = (None if mono or self.prediction is None
                      else _rgb_color(self._class_rgb(self.prediction)))
            cells[(q[1], q[0])] = (QUERY, Style(color=colour, bold=True))
        lines = []
        for row in range(rows):
            up, lo = g[2 * row], g[min(2 * row + 1, gh - 1)]
            line = Text()
            for c in range(gw):
                if (row, c) in cells:
                    glyph, style = cells[(row, c)]
                    if not mono and self.regions and style.bgcolor is None and not style.reverse:
                        style = style + Style(bgcolor=_rgb_color(self._tint(up[c])))
                    line.append(glyph, style)
                elif not self.regions:
                    line.append(" ")
                elif mono:
                    line.append(self._texture(up[c]))
                else:
                    line.append("▀", Style(color=_rgb_color(self._tint(up[c])),
                                           bgcolor=_rgb_color(self._tint(lo[c]))))
            lines.append(line)
        lines.append(self._footer())
        marks = Text()
        marks.append(QUERY, "bold")
        marks.append(f" {self.legend}")
        lines.append(marks)
        return lines

    def _style(self, rgb, grow: int, col: int, bold: bool) -> Style:
        under = self._tint(self.grid[grow, col]) if self.regions else None
        return Style(color=_rgb_color(rgb), bold=bold,
                     bgcolor=None if under is None else _rgb_color(under))
