"""Provides GanMap: real and generated points over the discriminator's belief, with arrows.

A DecisionMap whose background is D(x) - 1/2 (blue where D says "real", orange where it
says "generated", pale where it cannot tell), with the real samples as "●" (blue),
the generated ones as "◆" (orange) and, in the cell next to a generated point, an arrow
pointing where the generator's gradient pushes it (the direction of -dL/dG(z), the
direction its update moves it). Without colour the background is a light texture ("+"
real, "=" generated, blank where D cannot tell) and the glyphs stay distinct.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from tuinn.tui.render.decision import CLASS_RGB, DecisionMap, _rgb_color

ARROWS = "→↗↑↖←↙↓↘"           # by direction, counter-clockwise from east
REAL, FAKE = "●", "◆"


def arrow(dx: float, dy: float) -> str:
    """The arrow nearest the direction (dx, dy) (y up)."""
    k = int(round(math.atan2(dy, dx) / (math.pi / 4))) % 8
    return ARROWS[k]


_STEP = {"→": (1, 0), "↗": (1, -1), "↑": (0, -1), "↖": (-1, -1), "←": (-1, 0),
         "↙": (-1, 1), "↓": (0, 1), "↘": (1, 1)}      # (column, text row) steps


class GanMap(DecisionMap):
    def __init__(self, prob_grid: np.ndarray, real: np.ndarray, fake: np.ndarray,
                 push: np.ndarray | None, *, extent, mono: bool | None = None):
        real = np.asarray(real, dtype=np.float64).reshape(-1, 2)
        fake = np.asarray(fake, dtype=np.float64).reshape(-1, 2)
        pts = np.concatenate([real, fake])
        kinds = np.concatenate([np.ones(len(real)), -np.ones(len(fake))])
        super().__init__(np.asarray(prob_grid, dtype=np.float64) - 0.5, pts, kinds,
                         extent=extent, n_classes=2, regression=True, mono=mono)
        self.scale = self.target_scale = 0.5        # D(x) in [0, 1]: the tints are absolute
        self.n_real = len(real)
        self.fake = fake
        self.push = None if push is None else np.asarray(push, dtype=np.float64).reshape(-1, 2)

    def _points_by_cell(self):
        out = {}
        for i, (x, y) in enumerate(self.points):
            where = self.cell_of(x, y)
            if where is None:
                continue
            col, row, grow = where
            real = i < self.n_real
            if (row, col) in out and real:
                continue                           # a generated point shows over a real one
            glyph, rgb = (REAL, CLASS_RGB[1]) if real else (FAKE, CLASS_RGB[0])
            out[(row, col)] = (glyph, rgb, grow)
        if self.push is not None:
            rows, cols = (self.grid.shape[0] + 1) // 2, self.grid.shape[1]
            for (x, y), (dx, dy) in zip(self.fake, self.push):
                where = self.cell_of(x, y)
                if where is None or not (np.isfinite(dx) and np.isfinite(dy)) or dx == dy == 0:
                    continue
                a = arrow(dx, dy)
                sc, sr = _STEP[a]
                col, row = where[0] + sc, where[1] + sr
                if 0 <= row < rows and 0 <= col < cols and (row, col) not in out:
                    out[(row, col)] = (a, (250, 250, 250), min(2 * row, self.grid.shape[0] - 1))
        return out

    def _texture(self, v) -> str:
        """Without colour: "+" where D is sure a point is real, "·" where it leans that way,
        blank where it cannot tell, "-" and "=" towards "generated"."""
        t = float(v) / 0.5
        if t != t:
            return "?"
        return "+" if t > 0.5 else "·" if t > 0.1 else " " if t >= -0.1 else "-" if t >= -0.5 else "="

    def _lines(self, mono: bool) -> list[Text]:
        lines = super()._lines(mono)
        if mono:                                    # keep the glyphs bold, drop the colours
            for line in lines[:-1]:
                line.stylize(Style(bold=True))
        return lines

    def _legend(self, sep: str, gap: str) -> Text:
        line = Text()
        entries = [(REAL, CLASS_RGB[1], "real"), (FAKE, CLASS_RGB[0], "G(z)"),
                   ("↗", (250, 250, 250), "G's push")]
        for i, (glyph, rgb, label) in enumerate(entries):
            if i:
                line.append(sep)
            line.append(glyph, Style(color=_rgb_color(rgb), bold=True))
            line.append(gap + label)
        return line
