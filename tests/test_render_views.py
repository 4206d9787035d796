"""Tests for the Heatmap, LinePlot and DecisionMap renderables, rendered through a Rich Console."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tuinn.tui.render.decision import CLASS_GLYPHS, DecisionMap
from tuinn.tui.render.heatmap import Heatmap
from tuinn.tui.render.plot import LinePlot, compact

BRAILLE = re.compile("[\u2801-\u28ff]")
TRUECOLOR = re.compile(r"\x1b\[[0-9;]*[34]8;2;")


def render(renderable, width: int = 80, color_system: str | None = None,
           no_color: bool = False) -> tuple[list[str], str]:
    """The plain text lines and the raw terminal output of one render."""
    out = io.StringIO()
    console = Console(width=width, record=True, color_system=color_system, file=out,
                      force_terminal=True, no_color=no_color, legacy_windows=False)
    console.print(renderable)
    text = console.export_text()
    return text.split("\n")[:-1], out.getvalue()


# ---- Heatmap -------------------------------------------------------------------------------

def test_heatmap_size_one_line_per_row_plus_legend():
    lines, _ = render(Heatmap(np.ones((4, 10))))
    assert len(lines) == 5
    assert all(len(line) == 20 for line in lines[:4])
    assert lines[4].startswith("min 1 ")


def test_heatmap_glyph_carries_magnitude():
    lines, _ = render(Heatmap(np.array([0.0, 0.3, 0.5, 0.75, 1.0])))
    assert lines[0] == "  ░░▒▒▓▓██"
    lines, _ = render(Heatmap(np.array([0.1, 0.2, 0.9, 1.0])))   # thresholds at odd eighths
    assert lines[0] == "  ░░████"


def test_heatmap_sign_survives_without_colour():
    lines, _ = render(Heatmap(np.array([[-1.0, 1.0, -0.5, 0.01, -0.01]])))
    assert lines[0] == "-███-▒    "
    lines, _ = render(Heatmap(np.array([[-1.0, 1.0, -0.5]]), cell_width=1))
    assert lines[0] == "▇█▄"


def test_heatmap_sequential_has_no_sign_and_spans_min_to_max():
    lines, _ = render(Heatmap(np.array([[-3.0, -1.0, 1.0]]), center_zero=False))
    assert lines[0] == "  ▒▒██"
    assert "-" not in lines[0]


def test_heatmap_nan_and_inf_marked():
    a = np.array([[1.0, np.nan, np.inf, -np.inf, -1.0]])
    lines, _ = render(Heatmap(a))
    assert lines[0] == "██!!∞∞-∞-█"
    assert "nan ×1" in lines[-1] and "inf ×2" in lines[-1]
    assert "max 1" in lines[-1] and "min -1" in lines[-1]       # scale from finite values


def test_heatmap_all_nan_does_not_crash():
    lines, _ = render(Heatmap(np.full((2, 2), np.nan)))
    assert lines[0] == "!!!!"


def test_heatmap_truncation_note_and_stride():
    a = np.arange(64 * 100, dtype=float).reshape(64, 100)
    lines, _ = render(Heatmap(a, title="W"), width=120)
    assert lines[0] == "W"
    assert "showing 16 of 64 rows (every 4th), 25 of 100 cols (every 4th)" in lines
    grid = lines[1:17]
    assert all(len(line) == 50 for line in grid)
    assert not any("showing" in line for line in render(Heatmap(np.ones((3, 3))))[0])


def test_heatmap_narrow_console_shows_fewer_columns():
    lines, _ = render(Heatmap(np.ones((2, 32))), width=20)
    assert all(len(line) <= 20 for line in lines)           # note and legend shortened too
    assert any("cols 8/32" in line for line in lines)
    assert lines[-2].startswith("▐-█▓▒░ ░▒▓█+▌") and lines[-1] == "1 … 1"


def test_heatmap_reshapes_higher_dims_and_scalars():
    lines, _ = render(Heatmap(np.ones((2, 3, 4))))
    assert len(lines) == 7 and all(len(line) == 8 for line in lines[:6])
    lines, _ = render(Heatmap(np.array(2.0)))
    assert lines[0] == "██"


def test_heatmap_legend_contents():
    a = np.array([[-1.23, 0.0, 4.56]])
    legend = render(Heatmap(a))[0][-1]
    assert legend.startswith("min -1.23 ▐-█▓▒░ ░▒▓█+▌ max 4.56")
    legend = render(Heatmap(a, center_zero=False))[0][-1]
    assert legend.startswith("min -1.23 ▐ ░▒▓█▌ max 4.56")


def test_heatmap_markers():
    a = np.ones((4, 10))
    lines, _ = render(Heatmap(a, marker_col=3, marker_row=2, row_labels=["i", "f", "g", "o"]))
    # gutter: label "i" + space + marker column = 3 cells; column 3 starts at 3 + 3 * 2
    assert lines[0].index("▼") == 3 + 3 * 2
    assert [line[:3] for line in lines[1:5]] == ["i  ", "f  ", "g ▶", "o  "]


def test_heatmap_marker_kept_when_strided():
    a = np.zeros((2, 100))
    a[:, 50] = 1.0
    lines, _ = render(Heatmap(a, marker_col=50), width=120)
    col = lines[0].index("▼")
    assert lines[1][col] == "█"                                  # the marked column is shown


def test_heatmap_col_label_axis():
    lines, _ = render(Heatmap(np.ones((1, 10)), col_label="t"))
    assert lines[1].startswith("0") and lines[1].endswith("9") and "t →" in lines[1]


def test_heatmap_styles_truecolor_and_none():
    a = np.array([[-1.0, 0.0, 1.0, np.nan]])
    _, ansi = render(Heatmap(a), color_system="truecolor")
    assert "48;2;" in ansi
    lines, ansi = render(Heatmap(a), color_system=None)
    assert "\x1b[" not in ansi and "-█" in lines[0] and "!!" in lines[0]
    _, ansi = render(Heatmap(a), color_system="truecolor", no_color=True)
    assert not TRUECOLOR.search(ansi)


def test_heatmap_downsampled_to_256_colours_by_rich():
    # A fresh process: Rich caches a Style's ANSI codes for the first colour system it meets.
    code = ("import io, numpy as np; from rich.console import Console; "
            "from tuinn.tui.render.heatmap import Heatmap; "
            "c = Console(color_system='256', file=io.StringIO(), force_terminal=True); "
            "c.print(Heatmap(np.array([[-1.0, 0.0, 1.0]]))); print(repr(c.file.getvalue()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent).stdout
    assert "48;5;" in out and "48;2;" not in out


def test_heatmap_bad_row_labels():
    with pytest.raises(ValueError):
        Heatmap(np.ones((2, 2)), row_labels=["a"])


# ---- LinePlot ------------------------------------------------------------------------------

def _gutter(lines: list[str]) -> int:
    """Column of the y axis (the "┤" of the top tick)."""
    return lines[0].index("┤")


@pytest.mark.parametrize("width,height,title", [(30, 6, ""), (30, 6, "loss"), (47, 9, ""),
                                                (80, 20, "loss")])
def test_plot_exact_size(width, height, title):
    vals = np.sin(np.arange(500) / 20)
    plot = LinePlot([("train", vals, "cyan"), ("val", vals + 0.5, "magenta")], width=width,
                    height=height, title=title, marker_x=100)
    lines, _ = render(plot, width=100)
    assert len(lines) == height
    assert all(len(line) == width for line in lines)


@settings(max_examples=25, deadline=None)
@given(width=st.integers(30, 90), height=st.integers(6, 24), log_y=st.booleans(),
       n=st.integers(0, 3000), marker=st.one_of(st.none(), st.integers(0, 3500)),
       seed=st.integers(0, 2**16))
def test_plot_size_holds_for_any_data(width, height, log_y, n, marker, seed):
    rng = np.random.default_rng(seed)
    vals = rng.normal(scale=10.0 ** rng.integers(-6, 6), size=n)
    vals[rng.random(n) < 0.1] = np.nan
    vals[rng.random(n) < 0.02] = np.inf
    plot = LinePlot([("a", vals, "red"), ("b", vals[::-1] * 2, "blue")], width=width,
                    height=height, log_y=log_y, marker_x=marker, title="t" * (seed % 3))
    lines, _ = render(plot, width=100)
    assert len(lines) == height and all(len(line) == width for line in lines)


def test_plot_legend_colour_and_mono():
    series = [("train", [1.0, 2.0], "cyan"), ("validation", [2.0, 1.0], "magenta")]
    lines, _ = render(LinePlot(series, width=40, height=8), color_system="truecolor")
    assert lines[-1].rstrip() == "━ train  ━ validation"
    lines, _ = render(LinePlot(series, width=40, height=8), color_system=None)
    assert lines[-1].rstrip() == "━ train  ╍ validation"


def test_plot_mono_second_series_is_dashed():
    ramp = np.arange(200, dtype=float)
    series = [("a", [np.nan], "cyan"), ("b", ramp, "magenta")]

    def used_columns(color_system):
        lines, _ = render(LinePlot(series, width=50, height=10), color_system=color_system)
        g = _gutter(lines)
        return sorted({i - g - 1 for line in lines for i, ch in enumerate(line)
                       if BRAILLE.match(ch)})
    solid, dashed = used_columns("truecolor"), used_columns(None)
    assert len(solid) > 40 and any(c % 2 for c in solid)
    assert dashed and all(c % 2 == 0 for c in dashed)


def test_plot_log_scale_labels_real_values():
    vals = [1.0, 10.0, 100.0, 1000.0]
    lines, _ = render(LinePlot([("loss", vals, "red")], width=40, height=8, log_y=True))
    labels = [line[:_gutter(lines)].strip() for line in lines[:6]]
    assert labels[0] == "1000" and labels[5] == "1" and "31.6" in labels
    lines, _ = render(LinePlot([("loss", vals, "red")], width=40, height=8))
    labels = [line[:_gutter(lines)].strip() for line in lines[:6]]
    assert labels[0] == "1000" and labels[5] == "1" and "500" in labels


def test_plot_log_skips_non_positive():
    lines, _ = render(LinePlot([("l", [-1.0, 0.0, 1.0, 10.0], "red")], width=40, height=8,
                               log_y=True))
    labels = [line[:_gutter(lines)].strip() for line in lines[:6]]
    assert labels[0] == "10" and labels[5] == "1"


def test_plot_marker_column():
    n, width, marker = 101, 60, 50
    lines, _ = render(LinePlot([("l", np.zeros(n), "red")], width=width, height=10,
                               marker_x=marker))
    g = _gutter(lines)
    plot_w = width - g - 1
    cols = {line.index("│", g + 1) for line in lines[:4] if "│" in line[g + 1:]}
    assert len(cols) == 1
    expected = g + 1 + marker / (n - 1) * (plot_w - 1)
    assert abs(cols.pop() - expected) <= 1
    assert "↑50" in lines[-2]


def test_plot_marker_beyond_data_extends_x_range():
    lines, _ = render(LinePlot([("l", [1.0, 2.0, 3.0], "red")], width=40, height=8,
                               marker_x=9))
    assert lines[-2].rstrip().endswith("9")
    assert lines[0].rstrip().endswith("│")                      # marker at the right edge


def test_plot_downsampling_keeps_spike():
    vals = np.zeros(10_000)
    vals[6001] = 10.0
    vals[3003] = -4.0
    lines, _ = render(LinePlot([("l", vals, "red")], width=40, height=8))
    g = _gutter(lines)
    plot_w = 40 - g - 1
    top = [i - g - 1 for i, ch in enumerate(lines[0]) if BRAILLE.match(ch)]
    assert len(top) == 1 and abs(top[0] - 0.6 * plot_w) <= 1
    bottom = [i - g - 1 for i, ch in enumerate(lines[5]) if BRAILLE.match(ch)]
    assert len(bottom) == 1 and abs(bottom[0] - 0.3 * plot_w) <= 1


def test_plot_nan_skipped_and_all_nan():
    vals = [1.0, np.nan, np.inf, 2.0, 3.0]
    lines, _ = render(LinePlot([("l", vals, "red")], width=40, height=8))
    assert lines[0].split("┤")[0].strip() == "3" and lines[5].split("┤")[0].strip() == "1"
    assert sum(len(BRAILLE.findall(line)) for line in lines) > 0
    lines, _ = render(LinePlot([("l", [np.nan] * 4, "red")], width=40, height=8))
    assert any("no data yet" in line for line in lines) and len(lines) == 8
    lines, _ = render(LinePlot([("l", [], "red")], width=30, height=6))
    assert any("no data yet" in line for line in lines) and len(lines) == 6


def test_plot_one_point_and_constant_series():
    lines, _ = render(LinePlot([("l", [0.5], "red")], width=30, height=6))
    assert sum(len(BRAILLE.findall(line)) for line in lines) == 1
    lines, _ = render(LinePlot([("l", [2.0] * 50, "red")], width=30, height=7))
    rows = [r for r, line in enumerate(lines) if BRAILLE.search(line)]
    assert len(rows) == 1 and "2┤" in lines[rows[0]]


def test_plot_negative_values():
    lines, _ = render(LinePlot([("l", [-3.0, -1.0, 0.0, 2.0, -5.0, 4.0], "red")],
                               width=40, height=8))
    assert lines[0].split("┤")[0].strip() == "4" and lines[5].split("┤")[0].strip() == "-5"


def test_plot_styles_truecolor_and_none():
    plot = LinePlot([("l", [1.0, 3.0, 2.0], "rgb(0,255,0)")], width=30, height=6, marker_x=1)
    _, ansi = render(plot, color_system="truecolor")
    assert "38;2;0;255;0" in ansi
    lines, ansi = render(plot, color_system=None)
    assert "\x1b[" not in ansi and any(BRAILLE.search(line) for line in lines)


def test_compact_numbers():
    assert [compact(v) for v in (0, 1.2345, -0.5, 1234.5, 123456, 3e-5, float("nan"))] == \
        ["0", "1.23", "-0.5", "1234", "1.2e5", "3e-5", "nan"]


# ---- DecisionMap ---------------------------------------------------------------------------

def _map(points, classes, shape=(10, 5), **kw):
    gh, gw = DecisionMap.grid_shape(*shape)
    grid = np.zeros((gh, gw), dtype=int)
    grid[:, gw // 2:] = 1
    return DecisionMap(grid, np.asarray(points, float), np.asarray(classes),
                       extent=(0.0, 10.0, 0.0, 10.0), n_classes=2, **kw)


def test_decision_grid_shape_matches_render_size():
    assert DecisionMap.grid_shape(40, 12) == (24, 40)
    gh, gw = DecisionMap.grid_shape(40, 12)
    dm = DecisionMap(np.zeros((gh, gw), dtype=int), np.zeros((0, 2)), np.zeros(0),
                     extent=(-1, 1, -1, 1), n_classes=2)
    lines, _ = render(dm, color_system="truecolor")
    assert len(lines) == 13 and all(len(line) == 40 for line in lines[:12])
    assert dm.size == (40, 13)


def test_decision_point_glyph_in_right_cell():
    lines, _ = render(_map([[2.5, 7.5], [9.99, 0.01], [10.0, 10.0], [11.0, 5.0]], [1, 0, 1, 0]))
    assert lines[1][2] == "▲"           # x 2.5 -> col 2; y 7.5 -> grid row 2 -> text row 1
    assert lines[4][9] == "●"           # bottom right corner
    assert lines[0][9] == "▲"           # top right corner
    assert sum(line.count("●") for line in lines[:5]) == 1      # x 11 is outside the extent


def test_decision_majority_class_in_a_cell():
    lines, _ = render(_map([[1.1, 9.1], [1.2, 9.2], [1.3, 9.3]], [0, 1, 1]))
    assert lines[0][1] == "▲"


def test_decision_mono_textures_and_footer():
    lines, ansi = render(_map([[2.5, 2.5]], [0]), color_system=None)
    assert "\x1b[" not in ansi
    assert lines[0] == "     ·····"                             # class 0 blank, class 1 dots
    assert lines[3][2] == "●"
    assert lines[-1] == "● 0  ▲ 1"              # 10 cells: the legend alone, every class
    wide, _ = render(_map([[2.5, 2.5]], [0], shape=(40, 5)), color_system=None)
    assert wide[-1] == "x 0 … 10  y 0 … 10  ● 0  ▲ 1"


@pytest.mark.parametrize("width, classes", [(38, 3), (24, 3), (16, 3), (40, 8), (26, 8)])
def test_decision_legend_shows_every_class_within_the_map_width(width, classes):
    """The spiral's three classes at 80x24 (a 38-cell map): every class in the legend."""
    gh, gw = DecisionMap.grid_shape(width, 6)
    dm = DecisionMap(np.zeros((gh, gw), dtype=int), np.zeros((0, 2)), np.zeros(0),
                     extent=(-1.03, 1.17, -1.03, 0.983), n_classes=classes)
    lines, _ = render(dm, width=120)
    footer = lines[-1].rstrip()
    assert len(footer) <= width, footer
    for k in range(classes):
        assert CLASS_GLYPHS[k] in footer and str(k) in footer, footer


def test_decision_half_blocks_upper_fg_lower_bg():
    grid = np.array([[0], [1]])
    dm = DecisionMap(grid, np.zeros((0, 2)), np.zeros(0), extent=(0, 1, 0, 1), n_classes=2)
    console = Console(width=10, color_system="truecolor", file=io.StringIO())
    seg = next(s for s in console.render(dm) if s.text == "▀")
    up, lo = seg.style.color.triplet, seg.style.bgcolor.triplet
    assert up.red > up.blue and lo.blue > lo.red               # class 0 orange over class 1 blue
    _, ansi = render(dm, color_system="truecolor", no_color=True)
    assert not TRUECOLOR.search(ansi)


def test_decision_regression_and_many_classes():
    gh, gw = DecisionMap.grid_shape(12, 4)
    grid = np.linspace(-2, 2, gh * gw).reshape(gh, gw)
    dm = DecisionMap(grid, np.array([[0.5, 0.5], [-0.5, -0.5]]), np.array([1.5, -0.7]),
                     extent=(-1, 1, -1, 1), n_classes=1, regression=True)
    lines, _ = render(dm)
    assert "●" in "".join(lines[:4]) and "○" in "".join(lines[:4])
    assert "=" in lines[0] and "#" in lines[3]
    _, ansi = render(dm, color_system="truecolor")
    assert "▀" in ansi and "48;2;" in ansi
    pts = np.array([[k + 0.5, 0.5] for k in range(8)])
    dm = DecisionMap(np.zeros((2, 8), dtype=int), pts, np.arange(8), extent=(0, 8, 0, 1),
                     n_classes=8)
    lines, _ = render(dm)
    assert lines[0] == "".join(CLASS_GLYPHS)
