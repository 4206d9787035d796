"""The network screen's data view with [data] preprocess: `P` toggles the raw points and
the preprocessed ones, the title says which and the subtitle shows the training split's
per-feature mean and standard deviation (matching NumPy); in the raw view the regions
are the model's on each raw grid point passed through the same transform; without
preprocess the key does nothing."""

from __future__ import annotations

import numpy as np

from tuinn.engine.build import build_session
from tuinn.scenario.loader import load_text
from tuinn.tui.present_data import data_view, stats_line
from tuinn.tui.widgets.data_view import DataPanel
from ui_helpers import make_app, press, run_async, text_of

WHITEN = """
[scenario]
name = "t"
kind = "network"
seed = 1
[data]
generator = "moons"
samples = 120
validation = 0.25
preprocess = ["pca", "whiten"]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 3
[[model.layers]]
type = "tanh"
[[model.layers]]
type = "dense"
units = 2
[loss]
type = "softmax_ce"
"""


def centre(extent, gh, gw, row, col) -> np.ndarray:
    """The raw point that grid cell (row, col) samples (linspace includes both ends)."""
    x0, x1, y0, y1 = extent
    return np.array([np.linspace(x0, x1, gw)[col], np.linspace(y1, y0, gh)[row]])


def test_raw_view_maps_every_grid_point_through_the_transform():
    prog = build_session(load_text(WHITEN, "t.toml")).program
    raw, after = data_view(prog, 10, 16, raw=True), data_view(prog, 10, 16)
    assert raw.points is prog.raw_x and after.points is prog.x
    assert raw.raw and not after.raw
    assert "raw, before pca, whiten" in raw.title and "after pca, whiten" in after.title
    lo = prog.raw_x.min(axis=0)                 # the raw view covers the raw numbers
    assert raw.extent[0] < lo[0] and raw.extent[2] < lo[1]
    for row, col in [(0, 0), (3, 7), (9, 15), (5, 2)]:
        point = centre(raw.extent, 10, 16, row, col).reshape(1, 2)
        scores = prog.predict(prog.prep.apply(point).astype(prog.dtype))
        assert raw.grid[row, col] == int(np.argmax(scores[0]))
    # whitening: after it, the training split has mean 0 and std 1 in each direction
    np.testing.assert_allclose(after.mean, 0, atol=1e-9)
    np.testing.assert_allclose(after.std, 1, atol=1e-9)
    assert after.subtitle == "μ 0, 0 · σ 1, 1"


def test_statistics_match_numpy():
    app = make_app("preprocess")
    prog = app.session.program
    raw = data_view(prog, 6, 12, raw=True)
    np.testing.assert_allclose(raw.mean, np.mean(prog.raw_x, axis=0, dtype=np.float64))
    np.testing.assert_allclose(raw.std, np.std(prog.raw_x, axis=0, dtype=np.float64))
    after = data_view(prog, 6, 12)
    np.testing.assert_allclose(after.mean, np.mean(prog.x.astype(np.float64), axis=0),
                               atol=1e-6)
    np.testing.assert_allclose(after.std, np.std(prog.x.astype(np.float64), axis=0), rtol=1e-6)
    assert raw.subtitle.startswith("μ 4926, ") and " · σ 870, " in raw.subtitle
    assert stats_line(np.array([1e-17, 2.5]), np.array([1.0, 0.5])) == "μ 0, 2.5 · σ 1, 0.5"


@run_async
async def test_p_toggles_raw_and_preprocessed_points():
    app = make_app("preprocess")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot)
        prog, panel = app.session.program, app.screen.query_one(DataPanel)
        await press(pilot, "v")
        assert panel.points is prog.x and panel.border_title == "data: after standardize"
        assert panel.border_subtitle == "μ 0, 0 · σ 1, 1"
        after_text = text_of(panel)
        assert "x -2.3" in after_text
        await press(pilot, "P")
        assert app.screen.data_raw and panel.points is prog.raw_x
        assert panel.border_title == "data: raw, before standardize"
        assert panel.border_subtitle.startswith("μ 4926, ")
        raw_text = text_of(panel)
        assert raw_text != after_text and "x 2910" in raw_text    # drawn in raw coordinates
        assert panel.extent[0] > 1000 and panel.extent[1] < 10000
        await press(pilot, "P")
        assert not app.screen.data_raw and panel.points is prog.x
        assert text_of(panel) == after_text


@run_async
async def test_p_brings_the_data_view_on_screen():
    app = make_app("preprocess")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "P")
        assert app.screen.views[app.screen.view] == "data"
        assert app.screen.query_one(DataPanel).points is app.session.program.raw_x


@run_async
async def test_without_preprocess_the_key_does_nothing():
    app = make_app("preprocess-none")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "v", "P")
        panel = app.screen.query_one(DataPanel)
        assert not app.screen.data_raw and panel.points is app.session.program.x
        assert panel.border_title == "data and decision regions"
        assert not app.screen.check_action("data_space", ())
