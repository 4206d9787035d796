"""Tests of the bundled scenarios of issue 13 (items 2-3): each teaches its point
(short headless runs on the scenario's own seed), the bidirectional GRU's view shows
both directions, and the character transformer writes text."""

from __future__ import annotations

import numpy as np
from conftest import SCENARIOS
from rich.cells import cell_len
from rich.console import Console

from tuinn.engine.build import open_session
from tuinn.engine.run.training import train
from tuinn.scenario.data_seq import CORPUS, vocabulary
from tuinn.tui.present_embed import cosine_nearest, vocab_of
from tuinn.tui.present_rnn import recurrent_view
from tuinn.tui.present_side import generate_text, side_views
from tuinn.tui.widgets.rnn_view import render_recurrent


def _session(name: str, text: str | None = None, tmp_path=None):
    if text is None:
        return open_session(str(SCENARIOS / f"{name}.toml"))[1]
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return open_session(str(path))[1]


def _first_grad_norm(s) -> float:
    s.next_iteration()
    layer, key = s.program.param_layers["dense1.W"]
    return float(np.linalg.norm(layer.grads[key]))


def test_batchnorm_keeps_the_first_layers_gradient_alive():
    plain = _first_grad_norm(_session("deep-sigmoid"))
    normed = _first_grad_norm(_session("batchnorm-deep-sigmoid"))
    assert normed > 1000 * plain                       # measured: 2.5 against 0.00038
    normed = max(r.accuracy for r in train(_session("batchnorm-deep-sigmoid"), 40))
    plain = max(r.accuracy for r in train(_session("deep-sigmoid"), 40))
    assert normed >= 0.98 and plain < 0.9              # deep-sigmoid: 98% around epoch 630


def test_batchnorm_scenario_shares_deep_sigmoids_data_and_seed():
    a, b = _session("deep-sigmoid").program, _session("batchnorm-deep-sigmoid").program
    np.testing.assert_array_equal(a.x, b.x)
    for k in ("dense1.W", "dense6.W"):
        np.testing.assert_array_equal(a.params()[k], b.params()[k])


def test_word2vec_gathers_related_words():
    s = _session("word2vec")
    vocab = vocab_of(s.program)
    list(train(s, 10))
    W = s.program.layers[0].params["W_in"]
    near = {w: [vocab[j] for j, _ in cosine_nearest(W, vocab.index(w), 3)]
            for w in ("cat", "king")}
    assert set(near["cat"]) == {"dog", "horse", "cow"}
    assert "queen" in near["king"] and "princess" in near["king"]


def test_the_bidirectional_gru_beats_a_one_way_gru(tmp_path):
    text = (SCENARIOS / "bigru-reverse.toml").read_text().replace(
        "data/reverse.npz", str(SCENARIOS / "data" / "reverse.npz"))
    bi = list(train(_session("bi", text, tmp_path), 30))[-1].val_accuracy
    one = list(train(_session("one", text.replace("bidirectional = true",
                                                  "bidirectional = false"), tmp_path), 30))
    assert bi > 0.8 and one[-1].val_accuracy < 0.66 and bi > one[-1].val_accuracy + 0.15


def test_the_reverse_data_is_the_sequence_backwards():
    s = _session("bigru-reverse")
    x, y = np.asarray(s.program.x), np.asarray(s.program.y)
    np.testing.assert_array_equal(y, np.argmax(x, axis=2)[:, ::-1])


def test_the_gru_view_shows_both_directions_right_to_left():
    s = _session("bigru-reverse")
    s.step(3)                                          # gru1's forward, t = 3 of 8
    d = recurrent_view(s, "gru1")
    layer = s.program.layers[0]
    rev = {m.symbol: m for m in d.maps if m.symbol.startswith("←")}
    assert set(rev) == {"←r", "←z", "←n", "←h"}
    h_r = np.asarray(layer.cache["h_r"][0], dtype=np.float64)        # (T, H)
    m = rev["←h"]
    np.testing.assert_allclose(m.values[:, 5:], h_r[5:].T)          # revealed from the right
    assert not m.values[:, :5].any() and m.marker == 5
    console = Console(width=120, record=True, color_system=None)
    console.print(render_recurrent(d, 120, 30))
    text = console.export_text()
    assert "runs from t = T down to 1" in text
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= 120
    s.finish_phase()
    s.finish_phase()                                   # the backward pass: the gradients too
    d = recurrent_view(s, "gru1")
    assert {"←∇h", "←∇r"} <= {m.symbol for m in d.maps}


def test_the_transformer_learns_and_writes_text():
    s = _session("transformer-chars")
    assert "text" in side_views(s.program)
    before = generate_text(s.program, 40)
    assert before.prompt == CORPUS[:16] and len(before.text) == 40
    assert set(before.text) <= set(vocabulary())
    results = list(train(s, 4))
    assert results[0].loss < 3.0 and results[-1].loss < 2.0      # from ln 27 = 3.30
    after = generate_text(s.program, 40)
    assert after.text != before.text


def test_char_ids_are_windows_and_next_characters():
    prog = _session("transformer-chars").program
    x, y = np.asarray(prog.x), np.asarray(prog.y)
    assert x.shape == (1000, 16) and y.shape == (1000, 16)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])             # y is x shifted by one
    vocab = vocabulary()
    row = "".join(vocab[int(i)] for i in x[0]) + vocab[int(y[0, -1])]
    assert row in CORPUS
