"""Provides tests of the recurrent view: the presenter's numbers against the layer caches
(forward and backward, timestep by timestep), saturation shares, gradient norms through
time, and the widget's rendering and unit selection."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console
from ui_helpers import run_async

from tuinn.engine.build import build_program
from tuinn.engine.session import Session
from tuinn.scenario.loader import load_text
from tuinn.tui.present_rnn import (SIGMOID_HIGH, SIGMOID_LOW, TANH_HIGH, recurrent_layer_of,
                                   recurrent_view)
from tuinn.tui.widgets.rnn_view import RecurrentView, render_recurrent

T, F, H = 5, 3, 4


def make(cell: str, extra: str = "", layers: str | None = None) -> Session:
    layers = layers or f'[[model.layers]]\ntype = "{cell}"\nhidden = {H}\n'
    text = f"""
[scenario]
name = "small {cell}"
kind = "network"
seed = 3
[data]
generator = "copy"
samples = 6
noise = 0.4
[model]
input = [{T}, {F}]
{layers}
[[model.layers]]
type = "dense"
units = {F}
[loss]
type = "softmax_ce"
[optimizer]
type = "sgd"
lr = 0.1
{extra}
"""
    return Session(build_program(load_text(text, "small.toml")))


def step_of(s: Session, layer: str, phase: str):
    return next(st for st in s.steps if st.layer == layer and st.phase == phase)


def goto(s: Session, step, sub: int) -> None:
    """Stand just after sub-step `sub` of `step`."""
    s.goto(s.ticks.index((step.index, sub)) + 1)


def layer_of(s: Session, name: str):
    return {layer.name: layer for layer in s.program._all_layers()}[name]


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + np.exp(-a))


def text(renderable, width: int = 84) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# ------------------------------------------------------------------ presenter: forward
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_nothing_before_the_forward_step_runs(cell):
    s = make(cell)
    assert recurrent_view(s, f"{cell}1") is None
    assert recurrent_layer_of(s) is None
    assert recurrent_view(s, "dense1") is None and recurrent_view(s, "nope") is None


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_reveals_timesteps_and_maps_equal_the_cache(cell):
    s = make(cell)
    name = f"{cell}1"
    fwd = step_of(s, name, "forward")
    for sub in range(T):
        goto(s, fwd, sub)
        assert recurrent_layer_of(s) == name
        d = recurrent_view(s, name, unit=2)
        assert (d.phase, d.t, d.T, d.H, d.shown, d.unit, d.sample) == \
            ("forward", sub + 1, T, H, (0, sub + 1), 2, 0)
        cache = layer_of(s, name).cache
        for m in d.maps:
            src = np.asarray(s.tape.values["input"])[0] if m.kind == "input" else cache[m.name][0]
            np.testing.assert_array_equal(m.values[:, :d.t], src[:d.t].T)      # (rows, t)
            assert not m.values[:, d.t:].any()                                 # not reached yet
            assert m.lo == src[:d.t].min() and m.hi == src[:d.t].max()
        names = [m.name for m in d.maps]
        assert names[-1] == "x" and names[:-1] == {"rnn": ["h"], "lstm": list("ifgoch"),
                                                   "gru": list("rznh")}[cell]
        assert d.dh_norm is None and d.gradient_ratio is None


def test_lstm_equations_hold_with_the_cached_numbers():
    s = make("lstm")
    fwd = step_of(s, "lstm1", "forward")
    lstm = layer_of(s, "lstm1")
    for sub in range(T):
        goto(s, fwd, sub)
        for u in range(H):
            d = recurrent_view(s, "lstm1", unit=u)
            n, k = d.numbers, sub
            for g in "ifgoch":
                assert n[g] == lstm.cache[g][0, k, u]
            c_prev = lstm.cache["c"][0, k - 1, u] if k else 0.0
            assert n["c_prev"] == c_prev
            assert n["c"] == pytest.approx(n["f"] * n["c_prev"] + n["i"] * n["g"], abs=1e-12)
            assert n["h"] == pytest.approx(n["o"] * np.tanh(n["c"]), abs=1e-12)
            for g in "ifo":                                   # pre-activations re-derived
                assert sigmoid(n["a_" + g]) == pytest.approx(n[g], abs=1e-12)
            assert np.tanh(n["a_g"]) == pytest.approx(n["g"], abs=1e-12)
        eq = [line for line, _ in d.equations]
        assert eq[2].startswith(f"c{'₀₁₂₃₄₅'[sub + 1]} = f·c{'₀₁₂₃₄₅'[sub]} + i·g = ")
        assert eq[3].startswith(f"h{'₀₁₂₃₄₅'[sub + 1]} = o·tanh(")


def test_lstm_equation_line_shows_the_numbers_it_uses():
    s = make("lstm")
    goto(s, step_of(s, "lstm1", "forward"), 2)
    d = recurrent_view(s, "lstm1", unit=1)
    n = d.numbers
    from tuinn.tui.render.plot import compact

    def factor(x):
        v = compact(x)
        return f"({v})" if v.startswith("-") else v
    line = d.equations[2][0]
    assert f"{factor(n['f'])}·{factor(n['c_prev'])} + {factor(n['i'])}·{factor(n['g'])} = " \
           f"{compact(n['c'])}" in line


def test_gru_and_rnn_equations_hold():
    s = make("gru")
    goto(s, step_of(s, "gru1", "forward"), 3)
    gru = layer_of(s, "gru1")
    for u in range(H):
        n = recurrent_view(s, "gru1", unit=u).numbers
        assert n["h_prev"] == gru.cache["h"][0, 2, u]
        assert n["h"] == pytest.approx((1 - n["z"]) * n["n"] + n["z"] * n["h_prev"], abs=1e-12)
        assert n["n"] == pytest.approx(np.tanh(n["xn"] + n["r"] * n["hn"]), abs=1e-12)
        assert n["r"] == pytest.approx(sigmoid(n["a_r"]), abs=1e-12)
        assert n["z"] == pytest.approx(sigmoid(n["a_z"]), abs=1e-12)
    s = make("rnn")
    goto(s, step_of(s, "rnn1", "forward"), 0)
    n = recurrent_view(s, "rnn1", unit=3).numbers
    assert n["h_prev"] == 0.0 and n["h_h"] == 0.0                  # h0 = 0
    assert n["a_h"] == pytest.approx(n["x_h"] + n["h_h"] + n["b_h"], abs=1e-15)
    assert n["h"] == pytest.approx(np.tanh(n["a_h"]), abs=1e-12)


def test_after_the_forward_step_t_is_T_until_the_backward_step():
    s = make("lstm")
    dense_bwd = step_of(s, "dense1", "backward")
    goto(s, dense_bwd, 0)
    assert recurrent_layer_of(s) is None
    d = recurrent_view(s, "lstm1")
    assert (d.phase, d.t, d.shown) == ("forward", T, (0, T))


def test_preactivations_use_the_forward_parameters_after_the_updates():
    s = make("lstm")
    goto(s, step_of(s, "lstm1", "backward"), T - 1)
    before = recurrent_view(s, "lstm1", unit=1).numbers
    s.goto(s.total)                                     # every update step has run
    lstm = layer_of(s, "lstm1")
    assert not np.array_equal(lstm.params["b"], s.tape.extra["before"]["lstm1.b"])
    after = recurrent_view(s, "lstm1", unit=1).numbers
    assert after == before
    assert sigmoid(after["a_f"]) == pytest.approx(after["f"], abs=1e-12)


def test_unit_and_sample_are_clamped():
    s = make("rnn")
    s.run_to_end()
    assert recurrent_view(s, "rnn1", unit=99).unit == H - 1
    assert recurrent_view(s, "rnn1", unit=-4).unit == 0
    assert recurrent_view(s, "rnn1", sample=99).sample == 5


# ------------------------------------------------------------------ presenter: backward
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_reveals_norms_from_T_down(cell):
    s = make(cell)
    name = f"{cell}1"
    bwd = step_of(s, name, "backward")
    layer = layer_of(s, name)
    for sub in range(T):
        goto(s, bwd, sub)
        assert recurrent_layer_of(s) == name
        d = recurrent_view(s, name)
        t = T - sub
        assert (d.phase, d.t, d.shown) == ("backward", t, (t - 1, T))
        want = np.linalg.norm(layer.cache["dh"], axis=2).mean(axis=0)          # (T,)
        assert d.dh_norm.shape == (T + 1,) and np.isnan(d.dh_norm[:t]).all()
        np.testing.assert_allclose(d.dh_norm[t:], want[t - 1:], rtol=1e-14)
        if cell == "lstm":
            wc = np.linalg.norm(layer.cache["dc"], axis=2).mean(axis=0)
            np.testing.assert_allclose(d.dc_norm[t:], wc[t - 1:], rtol=1e-14)
        else:
            assert d.dc_norm is None
        if t == 1:
            assert d.gradient_ratio == pytest.approx(want[0] / want[-1], rel=1e-12)
        else:
            assert d.gradient_ratio is None
        for m in d.maps:
            assert m.kind == "grad" and m.symbol == "∇" + m.name[1:]
            np.testing.assert_array_equal(m.values[:, t - 1:], layer.cache[m.name][0, t - 1:].T)
            assert not m.values[:, :t - 1].any()
    s.goto(s.total)                                                    # the updates ran
    d = recurrent_view(s, name)
    assert (d.phase, d.t) == ("backward", 1) and recurrent_layer_of(s) is None


def test_lstm_backward_cell_gradient_equation():
    s = make("lstm")
    bwd = step_of(s, "lstm1", "backward")
    lstm = layer_of(s, "lstm1")
    for sub in range(T):
        goto(s, bwd, sub)
        d = recurrent_view(s, "lstm1", unit=2)
        n, k = d.numbers, d.t - 1
        assert n["dh"] == lstm.cache["dh"][0, k, 2] and n["dc"] == lstm.cache["dc"][0, k, 2]
        carry = n["dc_next"] * n["f_next"] if d.t < T else 0.0
        assert n["dc"] == pytest.approx(n["dh"] * n["dc_local"] + carry, abs=1e-15)
        assert n["di"] == pytest.approx(n["dc"] * n["g"] * n["i"] * (1 - n["i"]), abs=1e-15)
        assert any(line.startswith(f"∇h{'₀₁₂₃₄₅'[d.t]} = ") for line, kind in d.equations
                   if kind == "grad")


def test_rnn_backward_preactivation_gradient():
    s = make("rnn")
    goto(s, step_of(s, "rnn1", "backward"), 1)
    n = recurrent_view(s, "rnn1", unit=0).numbers
    assert n["da"] == pytest.approx(n["dh"] * (1 - n["h"] ** 2), abs=1e-15)


def test_kept_arrays_are_copies():
    s = make("lstm")
    s.run_to_end()
    d = recurrent_view(s, "lstm1")
    kept = d.maps[0].values.copy(), d.dh_norm.copy()
    s.next_iteration()
    s.run_to_end()                                  # the layer buffers are overwritten
    np.testing.assert_array_equal(d.maps[0].values, kept[0])
    np.testing.assert_array_equal(d.dh_norm, kept[1])


# ------------------------------------------------------------------ saturation
def test_saturation_shares_over_batch_time_so_far_and_units():
    s = make("lstm")
    fwd = step_of(s, "lstm1", "forward")
    goto(s, fwd, 2)
    d = recurrent_view(s, "lstm1")
    c = layer_of(s, "lstm1").cache
    shares = {x.gate: x for x in d.saturation}
    assert list(shares) == ["i", "f", "g", "o"]
    for g in "ifo":
        a = c[g][:, :3]
        want = np.mean((a < SIGMOID_LOW) | (a > SIGMOID_HIGH))
        assert shares[g].activation == "sigmoid" and shares[g].share == pytest.approx(want)
    assert shares["g"].share == pytest.approx(np.mean(np.abs(c["g"][:, :3]) > TANH_HIGH))
    assert shares["g"].activation == "tanh"


def test_a_saturated_forget_gate_is_flagged():
    b = [0.0] * H + [5.0] * H + [0.0] * (2 * H)           # f = sigmoid(5 + small) > 0.95
    s = make("lstm", extra=f'[params]\n"lstm1.b" = {b}\n')
    goto(s, step_of(s, "lstm1", "forward"), T - 1)
    d = recurrent_view(s, "lstm1")
    sat = {x.gate: x for x in d.saturation}
    assert sat["f"].share == 1.0 and sat["f"].saturated
    assert not sat["i"].saturated and "f" in d.note
    assert next(m for m in d.maps if m.name == "f").saturation is sat["f"]


def test_gru_and_rnn_saturation_gates():
    s = make("gru")
    s.run_to_end()
    assert [(x.gate, x.activation) for x in recurrent_view(s, "gru1").saturation] == \
        [("r", "sigmoid"), ("z", "sigmoid"), ("n", "tanh")]
    s = make("rnn", extra='[params]\n"rnn1.Wx" = ' + str([[9.0] * H] * F) + "\n")
    s.run_to_end()
    sat = recurrent_view(s, "rnn1").saturation
    assert [(x.gate, x.activation) for x in sat] == [("h", "tanh")]
    h = layer_of(s, "rnn1").cache["h"]
    assert sat[0].share == pytest.approx(np.mean(np.abs(h) > TANH_HIGH)) and sat[0].saturated


def test_stacked_layers_read_their_own_input():
    layers = (f'[[model.layers]]\ntype = "lstm"\nhidden = {H}\nreturn_sequences = true\n'
              f'[[model.layers]]\ntype = "gru"\nhidden = 3\n')
    s = make("lstm", layers=layers)
    goto(s, step_of(s, "gru1", "forward"), 1)
    d = recurrent_view(s, "gru1", unit=2)
    assert d.H == 3 and [m.name for m in d.maps] == ["r", "z", "n", "h", "x"]
    x = next(m for m in d.maps if m.name == "x")                  # lstm1's h sequence
    np.testing.assert_array_equal(x.values[:, :2], layer_of(s, "lstm1").cache["h"][0, :2].T)
    n = d.numbers
    assert n["r"] == pytest.approx(sigmoid(n["a_r"]), abs=1e-12)
    assert recurrent_view(s, "lstm1").phase == "forward"


# ------------------------------------------------------------------ widget
def test_render_forward_and_backward_read_without_colour():
    s = make("lstm")
    goto(s, step_of(s, "lstm1", "forward"), 2)
    d = recurrent_view(s, "lstm1", unit=1)
    for width, height in ((84, 22), (78, 10)):
        out = text(render_recurrent(d, width, height), width)
        assert "lstm1" in out and "forward" in out and "t 3/5" in out and "unit 1" in out
        assert "▼" in out and "▶" in out
        assert "c₃ = f·c₂ + i·g = " in out and "saturated" in out
        assert max(len(line) for line in out.splitlines()) <= width
    bwd = step_of(s, "lstm1", "backward")
    goto(s, bwd, 1)
    out = text(render_recurrent(recurrent_view(s, "lstm1"), 84, 22))
    assert "backward" in out and "t 4/5" in out and "gradient through time" in out
    assert "‖∇h_t‖" in out and "‖∇c_t‖" in out and "revealed from t = 5 down to t = 4" in out
    assert "∇h" in out and "∇c₄ = ∇h₄·o·(1-tanh²c₄) + ∇c₅·f₅" in out
    goto(s, bwd, T - 1)
    d = recurrent_view(s, "lstm1")
    out = text(render_recurrent(d, 84, 22))
    assert "‖∇h₁‖ / ‖∇h_T‖ = " in out
    assert "not run yet" in text(render_recurrent(None))


def test_render_marks_saturated_maps():
    b = [0.0] * H + [5.0] * H + [0.0] * (2 * H)
    s = make("lstm", extra=f'[params]\n"lstm1.b" = {b}\n')
    goto(s, step_of(s, "lstm1", "forward"), T - 1)
    out = text(render_recurrent(recurrent_view(s, "lstm1"), 120, 30), 120)
    assert "f 100%⚠" in out and "f sat" in out and "i sat" not in out


@run_async
async def test_widget_keys_choose_the_unit():
    from textual.app import App

    s = make("gru")
    goto(s, step_of(s, "gru1", "forward"), 1)
    seen = []

    class Host(App):
        def compose(self):
            yield RecurrentView(id="rnn")

        def on_mount(self):
            self.query_one(RecurrentView).focus()
            self.redraw()

        def redraw(self):
            view = self.query_one(RecurrentView)
            view.show(recurrent_view(s, "gru1", unit=view.unit))

        def on_recurrent_view_unit_changed(self, message):
            assert message.layer == "gru1"
            seen.append(message.unit)
            self.redraw()

    app = Host()
    async with app.run_test(size=(84, 22)) as pilot:
        view = app.query_one(RecurrentView)
        assert view.unit == 0 and "t 2/5" in str(view.border_title)
        for _ in range(H + 2):
            await pilot.press("down")
        await pilot.pause()
        assert seen == [1, 2, 3] and view.unit == H - 1 and view.data.unit == H - 1
        await pilot.press("up")
        await pilot.pause()
        assert seen[-1] == H - 2 and view.data.unit == H - 2
        view.show(None)
        await pilot.pause()
        assert view.border_title == "recurrent"
