"""Tests of the attention view (tuinn/tui/present_attention.py, widgets/attention_view.py,
render/attention.py): the score written out is q·k/√dk from the layer's own input and
parameters, the softmax row and the gradients match NumPy, the tokens label the axes,
and the renderables never exceed their width."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS
from rich.cells import cell_len
from rich.console import Console

from tuinn.engine.build import open_session
from tuinn.scenario.data_seq import vocabulary
from tuinn.tui.present_attention import attention_layer_of, attention_view
from tuinn.tui.render.attention import AttentionMap
from tuinn.tui.render.plot import compact
from tuinn.tui.widgets.attention_view import render_attention


def _at(phase: str):
    """The transformer scenario with the cursor on the residual step that runs attention1."""
    s = open_session(str(SCENARIOS / "transformer-chars.toml"))[1]
    while True:
        s.step_over()
        st = s.current
        if st.layer == "residual1" and st.phase == phase:
            return s


def _layer(s):
    return next(la for la in s.program._all_layers() if la.name == "attention1")


def _softmax_rows(scores: np.ndarray, causal: bool) -> np.ndarray:
    T = scores.shape[-1]
    if causal:
        scores = np.where(np.triu(np.ones((T, T), bool), 1), -np.inf, scores)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_view_belongs_to_the_attention_inside_the_residual_step():
    s = _at("forward")
    assert attention_layer_of(s) == "attention1"
    s.step_over()                                       # layernorm1: not attention
    assert attention_layer_of(s) is None


@pytest.mark.parametrize("head,query,key", [(0, 15, 3), (1, 7, 7), (1, 4, 0)])
def test_the_score_is_q_dot_k_over_sqrt_dk_from_the_layers_parameters(head, query, key):
    s = _at("forward")
    layer = _layer(s)
    d = attention_view(s, "attention1", head, query, key)
    x = np.array(layer.cache["x"][0], dtype=np.float64)               # (T, D) the input
    p = {k: np.asarray(v, dtype=np.float64) for k, v in layer.params.items()}
    dk = layer.D // layer.heads
    cols = slice(head * dk, (head + 1) * dk)
    q = (x @ p["Wq"] + p["bq"])[:, cols]
    k = (x @ p["Wk"] + p["bk"])[:, cols]
    expected = float(q[query] @ k[key]) / np.sqrt(dk)
    assert d.score == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert d.lines[0][0].endswith(f"= {compact(expected)}")
    A = _softmax_rows((q @ k.T) / np.sqrt(dk), causal=True)           # the NumPy reference
    np.testing.assert_allclose(d.A[head], A, rtol=1e-10, atol=1e-14)
    assert d.masked == (key > query)


def test_the_tokens_are_the_samples_characters():
    s = _at("forward")
    d = attention_view(s, "attention1")
    vocab = vocabulary()
    ids = np.asarray(s.tape.values["input"][0]).astype(int)
    assert d.tokens == [("␣" if vocab[i] == " " else vocab[i]) for i in ids]
    assert d.query == d.T - 1                                         # the last query
    assert d.key == int(np.argmax(d.A[0, d.query]))                   # its strongest key


def test_the_backward_lines_match_numpy():
    s = _at("backward")
    layer = _layer(s)
    d = attention_view(s, "attention1", 0, 10, 4)
    assert d.phase == "backward" and d.dA is not None
    c = {k: np.asarray(v, dtype=np.float64) for k, v in layer.cache.items()}
    dk = layer.dk
    dC, V = c["dC"][0, 10, :dk], c["V"][0, :, :dk]
    dA = dC @ V[4]                                                    # ∂L/∂A[10, 4]
    assert float(d.dA[0, 10, 4]) == pytest.approx(dA, rel=1e-10, abs=1e-18)
    row, dArow = c["A"][0, 0, 10], c["dA"][0, 0, 10]
    dS = row * (dArow - row @ dArow)                                   # softmax backward
    np.testing.assert_allclose(c["dscores"][0, 0, 10], dS, rtol=1e-9, atol=1e-18)
    kinds = [k for _, k in d.lines]
    assert kinds.count("grad") == 3 and d.lines[3][0].startswith("∇A[10,4] = ∇out[10]·v4")


def test_before_the_forward_step_there_is_nothing_to_show():
    s = open_session(str(SCENARIOS / "transformer-chars.toml"))[1]
    assert attention_view(s, "attention1") is None
    assert "not run yet" in _text(render_attention(None, 80), 80)


def _text(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("width,height", [(78, 11), (118, 30), (40, 8)])
@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_the_view_is_never_wider_than_its_slot(width, height, phase):
    d = attention_view(_at(phase), "attention1")
    text = _text(render_attention(d, width, height), width)
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    assert "score(q 15" in text and "head 0: A" in text


def test_the_map_marks_the_mask_the_selection_and_short_panels():
    A = np.tril(np.full((4, 4), 0.25))
    m = AttentionMap(A, list("abcd"), title="t", query=1, key=0, causal=True,
                     label_width=2, width=40)
    lines = [t.plain for t in m.lines(40)]
    assert lines[1].endswith("▼ b c d ")                              # the key axis
    assert lines[2].startswith("a  ") and lines[2].count("·") == 3    # query 0: 3 masked
    assert lines[3].startswith("b▶")
    short = AttentionMap(np.eye(10), [str(i) for i in range(10)], query=9, key=9,
                         max_rows=3, label_width=2, width=40)
    assert [t.plain[:2] for t in short.lines(40)[2:5]] == ["7 ", "8 ", "9▶"]
    assert "queries 7..9 of 10" in short.lines(40)[-1].plain


def test_without_a_vocabulary_the_axes_are_positions(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text('''[scenario]
name = "attention on features"
kind = "network"
seed = 1
[data]
generator = "copy"
samples = 16
[model]
input = [6, 4]
[[model.layers]]
type = "attention"
heads = 2
[[model.layers]]
type = "seq_pool"
mode = "mean"
[[model.layers]]
type = "dense"
units = 4
[loss]
type = "softmax_ce"
[optimizer]
type = "sgd"
lr = 0.1
''')
    s = open_session(str(path))[1]
    s.step_over()
    assert attention_layer_of(s) == "attention1"
    d = attention_view(s, "attention1", 1, 2, 5)
    assert d.tokens == ["0", "1", "2", "3", "4", "5"] and not d.causal and not d.masked
    layer = _layer(s)
    c = {k: np.asarray(v, dtype=np.float64) for k, v in layer.cache.items()}
    np.testing.assert_allclose(d.A[1], _softmax_rows(c["scores"][0, 1], causal=False))
    assert d.score == pytest.approx(c["scores"][0, 1, 2, 5])
    text = _text(render_attention(d, 60, 20), 60)
    rows = [line for line in text.splitlines() if line[:1].isdigit() and line[1:3] in ("  ", "▶ ")]
    assert len(rows) == 6 and not any("·" in r for r in rows)          # nothing masked
