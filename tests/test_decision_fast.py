"""The decision map's whole-grid tints and merged runs draw exactly what drawing it cell
by cell (the map as it was) draws: every cell's character and colours."""

import numpy as np
import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text

from tuinn.tui.render.decision import DecisionMap, _rgb_color
from tuinn.tui.render.gan_map import GanMap


def cells(lines) -> list[list[tuple[str, Style]]]:
    """Every cell of the map's lines as (character, style)."""
    console = Console(width=400, color_system="truecolor")
    out = []
    for line in lines:
        row = []
        for seg in line.render(console):
            row.extend((ch, seg.style or Style()) for ch in seg.text)
        out.append(row)
    return out


def cell_by_cell(m: DecisionMap) -> list[Text]:
    """The map's lines drawn one cell at a time with `_tint` (the reference)."""
    g = m.grid
    gh, gw = g.shape
    pts = m._points_by_cell()
    lines = []
    for row in range((gh + 1) // 2):
        up, lo = g[2 * row], g[min(2 * row + 1, gh - 1)]
        line = Text()
        for c in range(gw):
            if (row, c) in pts:
                glyph, rgb, grow = pts[(row, c)]
                line.append(glyph, Style(color=_rgb_color(rgb),
                                         bgcolor=_rgb_color(m._tint(g[grow, c])), bold=True))
            else:
                line.append("▀", Style(color=_rgb_color(m._tint(up[c])),
                                       bgcolor=_rgb_color(m._tint(lo[c]))))
        lines.append(line)
    return lines


def same(m: DecisionMap) -> None:
    fast = cells(m._lines(False)[:-1])
    slow = cells(cell_by_cell(m))
    assert [[ch for ch, _ in r] for r in fast] == [[ch for ch, _ in r] for r in slow]
    for rf, rs in zip(fast, slow):
        for (_, a), (_, b) in zip(rf, rs):
            assert (a.color, a.bgcolor, a.bold) == (b.color, b.bgcolor, b.bold)


@pytest.mark.parametrize("seed", range(4))
def test_class_regions_draw_as_cell_by_cell(seed):
    rng = np.random.default_rng(seed)
    gh, gw = int(rng.integers(1, 30)), int(rng.integers(1, 50))
    grid = rng.integers(-3, 11, (gh, gw)).astype(np.float64)
    grid[rng.random((gh, gw)) < 0.05] = np.nan
    grid[0, 0] = 2.0 ** 70                            # an id beyond int64
    pts = rng.uniform(-1, 1, (20, 2))
    same(DecisionMap(grid, pts, rng.integers(0, 3, 20), extent=(-1, 1, -1, 1), n_classes=3))


@pytest.mark.parametrize("seed", range(4))
def test_regression_and_gan_maps_draw_as_cell_by_cell(seed):
    rng = np.random.default_rng(seed)
    gh, gw = int(rng.integers(1, 30)), int(rng.integers(1, 50))
    grid = rng.normal(0, 3, (gh, gw))
    grid[rng.random((gh, gw)) < 0.05] = np.inf
    grid[rng.random((gh, gw)) < 0.05] = np.nan
    grid[rng.random((gh, gw)) < 0.2] = 0.0
    pts = rng.uniform(-1, 1, (15, 2))
    same(DecisionMap(grid, pts, rng.normal(size=15), extent=(-1, 1, -1, 1), n_classes=1,
                     regression=True))
    prob = rng.uniform(0, 1, (gh, gw))
    same(GanMap(prob, rng.uniform(-1, 1, (9, 2)), rng.uniform(-1, 1, (7, 2)),
                rng.normal(size=(7, 2)), extent=(-1, 1, -1, 1)))
