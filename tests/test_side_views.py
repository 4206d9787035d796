"""The side panel's model views: a regression's fitted curve and a character model's
generated text (numbers checked against plain NumPy), and the views in the app."""

from __future__ import annotations

import numpy as np
import pytest

import naive_recurrent as naive
from conftest import SCENARIOS
from test_render_views import render
from tuinn.engine.build import open_session
from tuinn.scenario.data_seq import CORPUS, vocabulary
from tuinn.tui.present_side import fit_curve, generate_text, side_views
from tuinn.tui.render.fit import FitPlot
from ui_helpers import make_app, press, run_async, text_of


def _open(name):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


@pytest.mark.parametrize("name, views", [
    ("lr-just-right", ["loss", "fit"]), ("lr-too-large", ["loss", "fit"]),
    ("chars", ["loss", "text"]), ("spiral", ["loss", "data"]), ("lstm", ["loss"]),
    ("cnn-bars", ["loss"])])
def test_side_views_by_scenario(name, views):
    assert side_views(_open(name).program) == views


def test_fit_curve_is_the_model_prediction_in_numpy():
    s = _open("lr-just-right")
    s.goto_iteration(5)
    prog = s.program
    d = fit_curve(prog, 50)
    (W1, b1), (W2, b2) = [(np.asarray(layer.params["W"], np.float64), layer.params["b"])
                          for layer in prog.layers if layer.type == "dense"]
    ref = np.tanh(d.curve_x[:, None] @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(d.curve_y, ref.reshape(-1), rtol=1e-10, atol=1e-12)
    assert d.curve_x.min() < prog.x.min() and d.curve_x.max() > prog.x.max()
    np.testing.assert_array_equal(d.x, prog.x.reshape(-1))


def test_fit_plot_size_points_and_curve():
    x = np.array([0.0, 1.0, 2.0])
    plot = FitPlot(x, 2 - x, np.linspace(0, 2, 40), np.linspace(0, 2, 40), width=30, height=8)
    lines, _ = render(plot, width=60)
    assert len(lines) == 8 and all(len(line) <= 30 for line in lines)
    body = "".join(lines[:6])
    assert body.count("•") == 3 and any("\u2801" <= ch <= "\u28ff" for ch in body)
    assert lines[0].split("┤")[1].lstrip()[0] == "•"       # (0, 2) top left
    assert lines[5].rstrip()[-1] == "•"                      # (2, 0) bottom right
    assert lines[-1].startswith("• data  ━ model") and "off the chart" not in lines[-1]
    far = FitPlot(x, x, np.linspace(0, 2, 40), np.full(40, 1e9), width=30, height=8)
    lines, _ = render(far, width=60)
    assert lines[-1] == "• data  ━ model: off the chart"
    assert not any("\u2801" <= ch <= "\u28ff" for ch in "".join(lines[:6]))


def test_generated_text_is_greedy_next_character_in_numpy():
    s = _open("chars")
    prog = s.program
    g = generate_text(prog, 12)
    assert g.prompt == CORPUS[:16] and len(g.text) == 12
    assert generate_text(_open("chars").program, 12) == g          # same seed, same text
    vocab = vocabulary()
    lstm, dense = prog.layers
    P = {k: np.asarray(v, np.float64) for k, v in lstm.params.items()}
    text = g.prompt
    for _ in range(12):
        x = np.zeros((1, 16, len(vocab)))
        x[0, np.arange(16), [vocab.index(ch) for ch in text[-16:]]] = 1.0
        h, _ = naive.lstm_forward(x, P)
        scores = h @ dense.params["W"].astype(np.float64) + dense.params["b"]
        text += vocab[int(np.argmax(scores))]
    assert g.text == text[16:]


def test_generated_text_changes_as_the_model_trains():
    s = _open("chars")
    before = generate_text(s.program, 40).text
    s.goto_iteration(60)
    after = generate_text(s.program, 40).text
    assert after != before


@run_async
async def test_fit_view_in_the_app_follows_training():
    app = make_app("lr-just-right")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "v")
        panel = app.screen.query_one("#fit")
        assert panel.display and panel.data is not None
        first = panel.data.curve_y.copy()
        shown = text_of(panel, 38)
        assert "• data  ━ model" in shown and shown.count("•") > 10
        await press(pilot, "i", "i", "i")
        assert not np.array_equal(panel.data.curve_y, first)
        assert "it 3" in panel.border_title


@run_async
async def test_text_view_in_the_app():
    app = make_app("chars")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "v")
        panel = app.screen.query_one("#text")
        assert panel.display and panel.data == generate_text(app.session.program)
        lines = text_of(panel, 36).splitlines()
        assert "".join(lines[:4]).startswith(CORPUS[:16] + panel.data.text[:50])
        assert all(len(line) <= 36 for line in lines)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@run_async
async def test_decision_regions_fill_their_slot_from_the_first_frame(size, monkeypatch):
    from tuinn.tui.render.decision import DecisionMap
    from tuinn.tui.widgets.data_view import DataPanel
    shown = []
    original = DataPanel.show

    def record(self, grid, extent):
        shown.append((grid.shape, self.display and self.parent.current == "data"))
        original(self, grid, extent)
    monkeypatch.setattr(DataPanel, "show", record)
    app = make_app("spiral")
    async with app.run_test(size=size) as pilot:
        await press(pilot, "v")
        panel = app.screen.query_one("#data")
        want = DecisionMap.grid_shape(panel.size.width, panel.size.height - 1)
        assert panel.size.width > 30 and panel.grid.shape == want
        visible = [shape for shape, on_screen in shown if on_screen]
        assert visible and all(shape == want for shape in visible), (visible, want)
        legend = text_of(panel, panel.size.width).splitlines()[-1]
        assert all(g in legend for g in "●▲■"), legend      # every class of the three
