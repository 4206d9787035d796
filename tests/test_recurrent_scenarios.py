"""Provides tests of the bundled recurrent scenarios: each passes gradcheck and names its
keys, and each behaves as its description says (short headless runs on its own seed):
the RNN's gradient vanishes over 29 steps where the LSTM's does not, the RNN then fails
and the LSTM learns, the headline LSTM learns within a hundred iterations, the GRU's
plateau ends as its gradient gets through, and the character model learns its text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import SCENARIOS

from tuinn.engine.build import open_session
from tuinn.engine.gradcheck import CRITERION, gradcheck
from tuinn.engine.session import Session
from tuinn.engine.run.training import train
from tuinn.scenario.loader import load_scenario
from tuinn.tui.present_rnn import recurrent_view

RECURRENT = ["lstm", "rnn-long-delay", "lstm-long-delay", "gru", "chars"]
KEYS = ("c", "p", "space", "n", "s", "t", "w", "i", "x", "v", "l")


def session(name: str) -> Session:
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def ratio_after(s: Session, iterations: int, layer: str) -> float:
    """‖dL/dh_1‖ / ‖dL/dh_T‖ (batch means) of iteration `iterations`'s backward pass."""
    prog = s.program
    while prog.iteration < iterations:
        prog.train_iteration()
    s.sync()
    s.run_to_end()
    ratio = recurrent_view(s, layer).gradient_ratio
    s.sync()
    return ratio


@pytest.mark.parametrize("name", RECURRENT)
def test_gradcheck(name):
    checks = gradcheck(load_scenario(SCENARIOS / f"{name}.toml"))
    assert checks and all(c.ok for c in checks), \
        f"not {CRITERION}: {[(c.name, c.worst_entry) for c in checks if not c.ok]}"


@pytest.mark.parametrize("name", RECURRENT)
def test_description_names_the_keys(name):
    spec = load_scenario(SCENARIOS / f"{name}.toml")
    desc = spec.info.description
    assert spec.info.kind == "network"
    missing = [k for k in KEYS if f"`{k}`" not in desc]
    assert not missing, f"description does not mention the keys {missing}"
    assert "`↑`/`↓`" in desc


def test_the_long_delay_twins_differ_only_in_the_cell():
    rnn = (SCENARIOS / "rnn-long-delay.toml").read_text()
    lstm = (SCENARIOS / "lstm-long-delay.toml").read_text()
    body = lambda t: re.sub(r'type = "(rnn|lstm)"', "CELL", t.split('"""')[2])   # noqa: E731
    assert body(lstm).startswith(body(rnn))
    assert body(lstm)[len(body(rnn)):].lstrip().startswith("[params]")
    spec = load_scenario(SCENARIOS / "lstm-long-delay.toml")
    b = np.asarray(spec.network.params["lstm1.b"])
    np.testing.assert_array_equal(b.reshape(4, 16), [[0] * 16, [3] * 16, [0] * 16, [0] * 16])


def test_rnn_gradient_vanishes_over_29_steps_where_the_lstm_one_does_not():
    rnn = ratio_after(session("rnn-long-delay"), 0, "rnn1")
    lstm = ratio_after(session("lstm-long-delay"), 0, "lstm1")
    assert rnn < 1e-3 and lstm > 0.1 and lstm / rnn > 100
    s = session("lstm-long-delay")                       # a forget gate near 1 from the start
    s.run_to_end()
    f = {x.gate: x for x in recurrent_view(s, "lstm1").saturation}["f"]
    assert f.saturated and f.share < 0.6
    assert f"{rnn:.1e}" == "4.1e-04" and f"{lstm:.2f}" == "0.25"      # as the descriptions say


def test_the_rnn_memorises_noise_while_the_lstm_learns_the_symbol():
    rnn = list(train(session("rnn-long-delay"), 40))
    assert max(r.val_accuracy for r in rnn) <= 0.35                 # chance is 0.25
    assert min(r.val_loss for r in rnn) > 1.35 and rnn[-1].val_loss > 1.6
    assert 0.45 <= rnn[-1].accuracy <= 0.65
    lstm = list(train(session("lstm-long-delay"), 40))
    assert lstm[12].val_loss < 0.35
    assert min(r.val_accuracy for r in lstm[13:]) >= 0.94 and lstm[-1].val_accuracy >= 0.97


def test_lstm_headline_learns_within_a_hundred_iterations():
    s = session("lstm")
    assert f"{ratio_after(s, 0, 'lstm1'):.4f}" == "0.0066"
    results = list(train(s, 40))
    losses = s.program.losses
    assert len(losses) == 520
    assert min(losses[:20]) > 1.3                                   # ln 4: a guess
    assert losses[50] < 0.8 and np.mean(losses[100:125]) < 0.05     # a few hundredths
    assert np.mean(losses[:25]) / np.mean(losses[100:125]) > 20      # a clear factor
    assert max(losses[175:]) < 0.01
    assert results[4].val_accuracy >= 0.98 and results[5].accuracy >= 0.99   # running
    assert all(r.accuracy == 1.0 and r.val_accuracy == 1.0 for r in results[15:])
    assert 0.05 < ratio_after(s, 520, "lstm1") < 0.2                  # "about 10 times"
    s.run_to_end()
    sat = {x.gate: x for x in recurrent_view(s, "lstm1").saturation}
    assert 0.25 < sat["g"].share < 0.5 and sat["g"].saturated is False and \
        not sat["f"].saturated


def test_gru_plateau_ends_when_the_gradient_gets_through():
    s = session("gru")
    ratios = {it: ratio_after(s, it, "gru1") for it in (0, 150, 200, 225, 250)}
    losses = s.program.losses
    windows = [np.mean(losses[a:a + 25]) for a in range(0, 200, 25)]
    assert max(abs(w - np.log(4)) for w in windows) < 0.13            # the plateau
    assert losses[225] > 1.2 and losses[250] < 0.5
    assert ratios[0] < 1e-3 and ratios[150] < 1e-2 and 0.03 < ratios[200] < 0.15
    assert 0.3 < ratios[225] < 1.5 and ratios[250] > 3
    s = session("gru")
    results = list(train(s, 14))
    assert all(r.val_accuracy >= 0.99 for r in results[12:])
    s.sync()
    s.run_to_end()
    sat = {x.gate: x for x in recurrent_view(s, "gru1").saturation}
    assert sat["n"].saturated


def test_chars_learns_its_paragraph():
    s = session("chars")
    assert f"{ratio_after(s, 0, 'lstm1'):.4f}" == "0.0017"
    assert s.program.losses[0] == pytest.approx(np.log(27), abs=0.02)
    results = list(train(s, 6))
    assert results[4].loss > 1.0 > results[5].loss                  # below 1 in epoch 6
