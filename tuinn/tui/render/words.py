"""Provides WordMap: a Rich renderable of 2-D points labelled with words (a PCA projection
of word vectors): each word written at its point, the selected one and its nearest
words highlighted, a word that would overlap another shown as "•".

Conventions, which the tests rely on: exactly `height` lines of exactly `width` cells;
the point (x, y) maps linearly from the points' range to columns 0..width-1 and rows
height-1..0 (y up); a word is written from its point's column to the right (moved left
to fit) where it keeps a blank cell from the words beside it, the selected word first so
it is never hidden.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text


def place(points: np.ndarray, width: int, height: int) -> list[tuple[int, int]]:
    """Each point's (row, column) in a width x height grid (y up)."""
    p = np.asarray(points, dtype=np.float64)
    p = np.where(np.isfinite(p), p, 0.0)
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    cols = np.round((p[:, 0] - lo[0]) / span[0] * (width - 1)).astype(int)
    rows = np.round((hi[1] - p[:, 1]) / span[1] * (height - 1)).astype(int)
    return list(zip(rows.tolist(), cols.tolist()))


class WordMap:
    def __init__(self, points: np.ndarray, words: list[str], *, selected: int = 0,
                 near: list[int] | None = None, width: int = 40, height: int = 10):
        self.points, self.words = points, words
        self.selected, self.near = selected, list(near or [])
        self.width, self.height = max(4, width), max(2, height)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        w = min(self.width, options.max_width)
        return Measurement(w, w)

    def grid(self, width: int) -> list[list[tuple[str, str]]]:
        """(character, style) per cell."""
        h = self.height
        cells = [[(" ", "")] * width for _ in range(h)]
        taken = [[False] * width for _ in range(h)]
        where = place(self.points, width, h)
        order = [self.selected] + self.near + [i for i in range(len(self.words))
                                              if i != self.selected and i not in self.near]
        for i in order:
            if not 0 <= i < len(self.words):
                continue
            r, c = where[i]
            style = "bold reverse" if i == self.selected else \
                "bold yellow" if i in self.near else "cyan"
            word = self.words[i][:max(1, width)]
            c0 = min(c, width - len(word))
            span = range(max(0, c0 - 1), min(width, c0 + len(word) + 1))   # a gap each side
            if all(not taken[r][j] for j in span):
                for j, ch in enumerate(word):
                    cells[r][c0 + j] = (ch, style)
                    taken[r][c0 + j] = True
            elif not taken[r][c]:
                cells[r][c] = ("•", style)
                taken[r][c] = True
        return cells

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        for row in self.grid(width):
            line = Text()
            for ch, style in row:
                line.append(ch, style=style)
            yield line
