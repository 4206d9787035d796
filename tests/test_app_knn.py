"""The knn screen: stepping through a query, k / metric / weights changed live (the
decision regions redraw), the query moved with shift+arrows, what is on screen at
80x24 and 120x40, and the keys that do not apply to knn left out of the help."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.engine.knn import classify
from tuinn.tui.headless import snapshot, svg_to_text
from tuinn.tui.widgets.knn_detail import KnnDetail
from tuinn.tui.widgets.knn_view import KnnPlot
from ui_helpers import make_app, press, run_async, text_of


def screen_text(name: str, keys: list[str], size=(80, 24)) -> str:
    return svg_to_text(snapshot(make_app(name), keys, size), *size)


@run_async
async def test_stepping_shows_each_stage():
    app = make_app("knn-blobs")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot)
        detail = lambda: text_of(app.screen.query_one(KnnDetail))
        await press(pilot, "n")
        assert "distances (training order)" in detail()
        await press(pilot, "n", "n")
        assert "sorted" in detail() and "nearest above" in detail()
        await press(pilot, "n", "n")
        text = detail()
        assert "votes (uniform)" in text and "predicted" in text
        prog = app.session.program
        q = prog.queries[0]
        assert q.prediction == classify(prog.x, prog.y, q.at, 1, "l2", "uniform")
        await press(pilot, "b", "b")
        assert "predicted" not in detail() and q.votes is None


@run_async
async def test_k_and_the_metric_change_live_and_the_regions_redraw():
    app = make_app("knn-blobs")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f")
        prog, plot = app.session.program, app.screen.query_one(KnnPlot)
        before = plot.frame.grid.copy()
        await press(pilot, "k", "k", "k", "k")
        assert prog.k == 5 and len(prog.queries[0].neighbors) == 5
        assert plot.frame.k == 5 and not np.array_equal(plot.frame.grid, before)
        gh, gw = plot.frame.grid.shape
        x0, x1, y0, y1 = plot.frame.extent      # the grid is the classifier at cell centres
        centre = np.array([x0 + (x1 - x0) * 0.5 / gw, y1 - (y1 - y0) * 0.5 / gh])
        assert plot.frame.grid[0, 0] == classify(prog.x, prog.y, centre, 5, "l2", "uniform")
        await press(pilot, "K")
        assert prog.k == 4 and app.session.tick == 5
        await press(pilot, "m")
        assert prog.metric == "l1" and plot.frame.metric == "l1"
        await press(pilot, "w")
        assert prog.weights == "distance"


@run_async
async def test_shift_arrows_move_the_query_and_classify_it_again():
    app = make_app("knn-blobs")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f")
        prog = app.session.program
        at = prog.queries[0].at.copy()
        await press(pilot, "shift+up", "shift+up", "shift+right")
        moved = prog.queries[0].at
        assert moved[1] > at[1] and moved[0] > at[0]
        q = prog.queries[0]
        assert q.label is None and q.prediction == classify(prog.x, prog.y, moved, 1, "l2",
                                                            "uniform")
        assert "moved" in app.screen.message


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_whole_lesson_is_on_screen(size):
    text = screen_text("knn-blobs", ["f"], size)
    for words in ("? Help", "q Quit", "k/K", "m Metric", "votes (uniform)", "predicted",
                  "◎", "● 0", "▲ 1", "■ 2", "query q0 of 36", "step 5/180"):
        assert words in text, words


def test_help_lists_the_knn_keys_and_not_the_debuggers():
    app = make_app("knn-metric")
    from tuinn.tui.screens.knn import KnnScreen
    keys = dict(app.key_list(KnnScreen(app.spec, app.session)))
    assert "m" in keys and "k" in keys and "shift+left" in keys
    assert "G" not in keys and "B" not in keys and "/" not in keys


def test_more_than_two_features_are_drawn_on_their_principal_axes():
    from tuinn.engine.build import build_session
    from tuinn.scenario.loader import load_text
    from tuinn.tui.present_knn import KnnPresenter
    text = ('[scenario]\nname = "t"\nkind = "knn"\n[data]\ngenerator = "blobs"\n'
            'samples = 60\nclasses = 3\nvalidation = 0.2\n[knn]\nk = 3\nfeatures = 5\n')
    s = build_session(load_text(text, "t.toml"))
    s.step(5)
    f = KnnPresenter(s.program).frame(s, (20, 30), 20)
    assert f.projected and not f.regions and f.points.shape == (48, 2)
    x = s.program.x - s.program.x.mean(axis=0)
    var = np.linalg.svd(x, compute_uv=False) ** 2 / len(x)
    np.testing.assert_allclose(f.points.var(axis=0), var[:2], rtol=1e-9)   # the top two
    assert f.ranked == s.program.queries[0].neighbors.tolist() and f.prediction is not None


@run_async
async def test_p_turns_preprocessing_off_and_on():
    app = make_app("knn-scaled")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f")
        prog, plot = app.session.program, app.screen.query_one(KnnPlot)
        assert plot.frame.space == "after standardize" and app.screen.check_action(
            "preprocess", ()) is True
        await press(pilot, "p")
        assert not prog.prep_on and plot.frame.space == "raw numbers"
        assert np.ptp(plot.frame.points[:, 0]) > 1000          # the prices, in raw units
        await press(pilot, "p")
        assert prog.prep_on and "raw" not in app.screen.message
    plain = make_app("knn-blobs")
    async with plain.run_test(size=(80, 24)) as pilot:
        await press(pilot)
        assert plain.screen.check_action("preprocess", ()) is False   # nothing to turn off
