"""Breakpoints and watches on the sequence layers: attention weights, batchnorm's running
statistics, layernorm/batchnorm parameters, the reverse direction of bidirectional
layers, and `saturated` over collapsed attention rows."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.engine.breakpoints import Breakpoints, locate, run_to_hit
from tuinn.engine.build import build_session
from tuinn.engine.debug import debug_names
from tuinn.engine.debug_measures import collapsed_rows, saturated_share
from tuinn.engine.watches import Watches
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text

# ---------------------------------------------------------------- scenarios built here
# attention on two positions: query 0 is [1, 0], query 1 is [0, 0]. With Wq = Wk = 10 I
# the score of query 0 on key 0 is 100 / sqrt(2) and 0 on key 1: the row collapses onto
# key 0; query 1 is 0, all its scores are 0: a uniform row (0.5, 0.5).
ATTENTION = """
[scenario]
name = "attention"
kind = "network"
seed = 1
[data]
x = [[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]]
y = [0, 1, 0]
[model]
input = [2, 2]
[[model.layers]]
type = "attention"
heads = 1
causal = {causal}
[[model.layers]]
type = "seq_pool"
[[model.layers]]
type = "dense"
units = 2
[params]
"attention1.Wq" = [[10.0, 0.0], [0.0, 10.0]]
"attention1.Wk" = [[10.0, 0.0], [0.0, 10.0]]
[loss]
type = "softmax_ce"
[optimizer]
type = "sgd"
lr = 0.01
[train]
epochs = 5
batch_size = 3
"""

# batchnorm in float32: the third batch (rows 4 and 5, unshuffled) is 1e20 apart, whose
# variance, 1e40, overflows float32: the running variance becomes Inf there while the
# output stays finite (it divides by sqrt(var), computed in float64)
BATCHNORM = """
[scenario]
name = "batchnorm"
kind = "network"
seed = 2
dtype = "float32"
[data]
x = [[0.1, 0.9], [0.5, 0.2], [0.9, 0.7], [0.3, 0.4], [1e20, 0.1], [-1e20, 0.6]]
y = [0, 1, 0, 1, 1, 0]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 3
[[model.layers]]
type = "batchnorm"
[[model.layers]]
type = "sigmoid"
[[model.layers]]
type = "dense"
units = 2
[params]
"dense1.W" = [[0.5, -0.3, 0.2], [0.1, 0.6, -0.2]]
[loss]
type = "softmax_ce"
[optimizer]
type = "sgd"
lr = 0.1
[train]
epochs = 4
batch_size = 2
shuffle = false
"""

RECURRENT = """
[scenario]
name = "bidirectional"
kind = "network"
seed = 4
[data]
x = [[[0.1, 0.9], [0.5, 0.2], [0.3, 0.3]], [[0.9, 0.7], [0.3, 0.4], [0.8, 0.1]]]
y = [0, 1]
[model]
input = [3, 2]
[[model.layers]]
type = "{cell}"
hidden = 3
bidirectional = {bi}
[[model.layers]]
type = "layernorm"
[[model.layers]]
type = "dense"
units = 2
[loss]
type = "softmax_ce"
[optimizer]
type = "adam"
lr = 0.01
[train]
epochs = 3
batch_size = 2
"""


def session_of(text: str, path: str = "test.toml"):
    return build_session(load_text(text, path))


def attention(causal: bool = False):
    return session_of(ATTENTION.replace("{causal}", "true" if causal else "false"))


def recurrent(cell: str = "lstm", bi: bool = True):
    return session_of(RECURRENT.replace("{cell}", cell).replace("{bi}", "true" if bi else
                                                                   "false"))


def step_to(session, iteration: int, phase: str, node: str) -> None:
    while not (session.iteration == iteration and session.current is not None
               and session.current.phase == phase and session.current.node == node):
        session.step_over()
        assert session.iteration <= iteration


def where(session) -> tuple:
    return session.iteration, session.current.phase, session.current.node


# ---------------------------------------------------------------- names
def test_the_new_names_and_their_kinds():
    names = debug_names(attention().program)
    for key in ("Q", "K", "V", "scores", "A", "C", "y", "dA", "dscores", "dQ"):
        assert names[f"attention1.{key}"] == "cache"
    assert names["attention1.Wq"] == names["attention1.bo"] == "param"
    names = debug_names(session_of(BATCHNORM).program)
    assert names["batchnorm1.running_mean"] == names["batchnorm1.running_var"] == "buffer"
    assert names["batchnorm1.gamma"] == names["batchnorm1.beta"] == "param"
    assert names["batchnorm1.var"] == names["batchnorm1.x_hat"] == "cache"
    names = debug_names(recurrent("lstm").program)
    for key in ("i", "f", "g", "o", "c", "h", "dh", "dc", "di", "df", "dg", "do"):
        assert names[f"lstm1.{key}"] == names[f"lstm1.{key}_r"] == "cache"
    assert names["lstm1.Wx_r"] == names["layernorm1.gamma"] == "param"
    assert names["layernorm1.mean"] == names["layernorm1.rstd"] == "cache"
    one_way = debug_names(recurrent("gru", bi=False).program)
    assert "gru1.z" in one_way and "gru1.z_r" not in one_way


# ---------------------------------------------------------------- watches read the arrays
def _cache_texts(names, layer: str) -> list[str]:
    return [n for n, k in names.items() if k == "cache" and n.startswith(layer + ".")]


@pytest.mark.parametrize("make, layer", [(attention, "attention1"),
                                         (lambda: recurrent("lstm"), "lstm1"),
                                         (lambda: recurrent("gru"), "gru1"),
                                         (lambda: recurrent("rnn"), "rnn1"),
                                         (lambda: recurrent("rnn"), "layernorm1"),
                                         (lambda: session_of(BATCHNORM), "batchnorm1")])
def test_every_cache_name_reads_the_layers_cache(make, layer):
    s = make()
    names = debug_names(s.program)
    texts = _cache_texts(names, layer)
    assert len(texts) >= 4
    ws = Watches.from_spec(texts + [f"max(abs({t}))" for t in texts], names)
    assert not any(v.available for v in ws.evaluate(s))          # nothing computed yet
    s.run_to_end()
    cache = next(la for la in s.program.layers if la.name == layer).cache
    for text, v in zip(texts, ws.evaluate(s)):
        np.testing.assert_array_equal(v.value, cache[text.split(".")[1]], err_msg=text)
    s.program.train_iteration()                                  # run mode
    values = ws.evaluate_program(s.program)
    for text, v in zip(texts, values):
        np.testing.assert_array_equal(v.value, cache[text.split(".")[1]], err_msg=text)
    for text, v in zip(texts, values[len(texts):]):
        assert v.value == pytest.approx(np.abs(cache[text.split(".")[1]]).max(), abs=0)


def test_attention_weights_before_and_after_the_forward_step():
    s = attention()
    ws = Watches.from_spec(["attention1.A", "sum(attention1.A)", "attention1.dA"],
                           debug_names(s.program))
    assert [v.note for v in ws.evaluate(s)] == ["not yet"] * 3
    step_to(s, 0, "forward", "attention1")
    a, total, da = ws.evaluate(s)
    np.testing.assert_array_equal(a.value, s.program.layers[0].cache["A"])
    assert a.value.shape == (3, 1, 2, 2) and total.value == pytest.approx(3 * 2)  # rows sum to 1
    assert not da.available
    np.testing.assert_allclose(a.value[0, 0], [[1.0, 0.0], [0.5, 0.5]], atol=1e-12)


def test_reverse_direction_by_the_sequences_own_time():
    s = recurrent("lstm")
    ws = Watches.from_spec(["lstm1.h_r", "lstm1.f_r", "lstm1"], debug_names(s.program))
    step_to(s, 0, "forward", "layernorm1")
    h_r, f_r, out = ws.evaluate(s)
    layer = s.program.layers[0]
    np.testing.assert_array_equal(f_r.value, layer.cache["f_r"])
    assert h_r.value.shape == (2, 3, 3)
    # the reverse direction's final state is at t = 0, and it is half of the output
    np.testing.assert_array_equal(out.value, np.concatenate(
        [layer.cache["h"][:, -1], layer.cache["h_r"][:, 0]], axis=1))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_bidirectional_layers_output_in_run_mode_is_both_directions(cell):
    """Run mode reads a layer's output from its cache: a bidirectional one is (N, 2H),
    what the next layer received (a bug: it read the forward direction's h alone)."""
    s = recurrent(cell)
    s.program.train_iteration()
    got = Watches.from_spec([f"{cell}1"], debug_names(s.program)).evaluate_program(s.program)
    x_hat = s.program.layers[1].cache["x_hat"]                   # layernorm of that output
    ln_in = got[0].value
    ref = (ln_in - ln_in.mean(-1, keepdims=True)) / np.sqrt(ln_in.var(-1, keepdims=True) + 1e-5)
    assert ln_in.shape == (2, 6)
    np.testing.assert_allclose(x_hat, ref, rtol=1e-9, atol=1e-12)


def test_running_statistics_step_by_step_and_in_run_mode():
    s = session_of(BATCHNORM.replace("1e20", "2.0").replace("-2.0", "-1.0"))
    names = debug_names(s.program)
    texts = ["batchnorm1.running_mean", "batchnorm1.running_var", "batchnorm1.gamma",
             "batchnorm1.beta", "batchnorm1.gamma.grad", "mean(batchnorm1.running_var)"]
    ws = Watches.from_spec(texts, names)
    bn = s.program.layers[1]
    mean, var, gamma, beta, dgamma, mvar = ws.evaluate(s)       # available from the start
    np.testing.assert_array_equal(mean.value, np.zeros(3))
    np.testing.assert_array_equal(var.value, np.ones(3))
    np.testing.assert_array_equal(gamma.value, np.ones(3))
    np.testing.assert_array_equal(beta.value, np.zeros(3))
    assert not dgamma.available and mvar.value == 1.0
    step_to(s, 0, "forward", "batchnorm1")                       # the training forward
    h = np.asarray(s.tape.values["dense1"], dtype=np.float64)
    n = len(h)
    mean, var, *_ = ws.evaluate(s)
    np.testing.assert_allclose(mean.value, 0.1 * h.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var.value, 0.9 + 0.1 * h.var(0) * n / (n - 1), rtol=1e-6)
    np.testing.assert_array_equal(mean.value, bn.running["running_mean"])
    s.run_to_end()
    assert ws.evaluate(s)[4].available
    np.testing.assert_array_equal(ws.evaluate(s)[4].value, bn.grads["gamma"])
    for _ in range(3):
        s.program.train_iteration()
    values = ws.evaluate_program(s.program)
    np.testing.assert_array_equal(values[0].value, bn.running["running_mean"])
    np.testing.assert_array_equal(values[1].value, bn.running["running_var"])
    assert values[5].value == pytest.approx(float(bn.running["running_var"].mean()))
    values[1].value[...] = 7                                     # a copy
    assert not (bn.running["running_var"] == 7).any()


# ---------------------------------------------------------------- saturated
def test_collapsed_rows_by_hand():
    A = np.array([[[[0.995, 0.005, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.795, 0.005]]]])
    assert collapsed_rows(A, causal=False) == (1, 3)
    causal = np.array([[[[1.0, 0.0, 0.0], [0.999, 0.001, 0.0], [0.4, 0.3, 0.3]]]])
    assert collapsed_rows(causal, causal=True) == (1, 2)    # row 0 has one key: not counted
    assert collapsed_rows(np.ones((2, 1, 1, 1)), causal=False) == (0, 0)


def test_saturated_share_of_attention_one_collapsed_one_uniform_row():
    s = attention()
    s.run_to_end()
    layer = s.program.layers[0]
    assert saturated_share([layer]) == (3, 6)                     # one row of two, 3 samples
    s = attention(causal=True)                                    # row 0 has no choice
    s.run_to_end()
    assert saturated_share([s.program.layers[0]]) == (0, 3)


def test_saturated_attention_breakpoint_fires_at_its_forward_step():
    s = attention()
    names = debug_names(s.program)
    got = run_to_hit(s, Breakpoints.from_spec(["saturated(attention1) > 0.4"], names), 50)
    assert got and where(s) == (0, "forward", "attention1")
    assert got[1] == ("saturated(attention1) = 0.5 > 0.4 (3 of 6 attention rows) "
                      "at forward attention1")
    s = attention()
    assert run_to_hit(s, Breakpoints.from_spec(["saturated > 0.6"], names),
                      len(s.steps)) is None
    s = attention()                                                # run mode, then locate
    bps = Breakpoints.from_spec(["saturated > 0.4"], names)
    s.program.train_iteration()
    hit = bps.first_hit_fast(s.program)
    assert hit and hit[1].endswith("(3 of 6 attention rows) in iteration 0")
    assert locate(s, bps, hit[0]).endswith("at forward attention1")
    assert where(s) == (0, "forward", "attention1")


def test_saturated_counts_both_directions_of_a_bidirectional_layer():
    s = recurrent("gru")
    s.run_to_end()
    layer = s.program.layers[0]
    part, whole = saturated_share([layer])
    keys = ("r", "z", "n", "r_r", "z_r", "n_r")                   # both directions
    assert whole == sum(layer.cache[k].size for k in keys)
    ref = sum(int(np.count_nonzero(np.abs(layer.cache[k]) > 0.95)) if k[0] == "n" else
              int(np.count_nonzero((layer.cache[k] < 0.05) | (layer.cache[k] > 0.95)))
              for k in keys)
    assert part == ref


# ---------------------------------------------------------------- breakpoints on buffers
@pytest.mark.parametrize("text", ["inf in batchnorm1.running_var", "nan"])
def test_a_running_statistic_overflows_at_the_exact_step(text):
    s = session_of(BATCHNORM)
    names = debug_names(s.program)
    got = run_to_hit(s, Breakpoints.from_spec([text], names), 10 * len(s.steps))
    assert got and where(s) == (2, "forward", "batchnorm1")
    assert got[1].startswith("Inf in batchnorm1.running_var (")
    assert np.isfinite(s.tape.values["batchnorm1"]).all()         # the output is fine
    s = session_of(BATCHNORM)                                      # run mode, then locate
    bps = Breakpoints.from_spec([text], names)
    for it in range(3):
        s.program.train_iteration()
        hit = bps.first_hit_fast(s.program)
        assert (hit is None) == (it < 2)
    assert hit[1].endswith("in iteration 2") and "batchnorm1.running_var" in hit[1]
    assert "at forward batchnorm1" in locate(s, bps, hit[0])
    assert where(s) == (2, "forward", "batchnorm1")
    assert not np.isfinite(s.program.layers[1].running["running_var"]).all()


# ---------------------------------------------------------------- malformed forms
@pytest.mark.parametrize("key, text, message, col, hint", [
    ("watch", "batchnorm1.running_var.grad", "running statistic of batchnorm1", 1,
     "batchnorm1.gamma.grad"),
    ("breakpoints", "nan in batchnorm1.running_mean.grad", "has no gradient", 8, None),
    ("watch", "batchnorm1.running_std", "no tensor named", 1, "batchnorm1.running_"),
    ("watch", "attention1.A[0]", "indexing is not supported", 13, None),
    ("watch", "max(attention1.a)", "no tensor named 'attention1.a'", 5, "attention1.A"),
    ("breakpoints", "saturated(dense1) > 0.5", "attention layer; 'dense1' is a dense", 11,
     "attention1"),
    ("breakpoints", "saturated(attention1) > 2", "a share between 0 and 1", 25, None),
    ("breakpoints", "saturated(attention1.A) > 0.5", "is not a layer", 11, None),
])
def test_malformed_forms_name_file_line_and_column(tmp_path, key, text, message, col, hint):
    body = BATCHNORM if "batchnorm" in text else ATTENTION.replace("{causal}", "false")
    body += f'[debug]\n{key} = ["{text}"]\n'
    path = str(tmp_path / "bad.toml")
    with pytest.raises(TuinnError) as err:
        build_session(load_text(body, path))
    e = err.value
    assert (e.file, e.key) == (path, f"debug.{key}")
    assert e.line == body.splitlines().index(f'{key} = ["{text}"]') + 1
    assert message in e.message and f"(column {col})" in e.message
    if hint:
        assert hint in (e.hint or "")


def test_reverse_names_of_a_one_way_layer_say_why():
    s = recurrent("lstm", bi=False)
    with pytest.raises(TuinnError) as err:
        Watches.from_spec(["lstm1.f_r"], debug_names(s.program))
    assert "no tensor named 'lstm1.f_r'" in err.value.message
    assert "bidirectional = true" in err.value.hint


# ---------------------------------------------------------------- the table is complete
def test_every_layer_type_has_its_cache_keys_listed_and_documented():
    """The names exist before a layer's first forward pass (a scenario's [debug] list is
    checked then), so the table must list every key a layer fills."""
    from pathlib import Path

    from tuinn.engine.debug_names import CACHE_KEYS
    from tuinn.engine.layers.base import LAYERS
    assert set(LAYERS) <= set(CACHE_KEYS)
    for s in (attention(), session_of(BATCHNORM), recurrent("lstm"), recurrent("gru"),
              recurrent("rnn")):
        s.run_to_end()
        for layer in s.program.layers:
            table = set(CACHE_KEYS[layer.type])
            assert {k.removesuffix("_r") for k in layer.cache} <= table, layer.type
    doc = (Path(__file__).parents[1] / "docs" / "scenario-format.md").read_text("utf-8")
    watches = doc[doc.index("### Watches"):]
    for kind in ("attention", "layernorm", "batchnorm"):
        row = next(line for line in watches.splitlines() if line.startswith(f"| {kind} |"))
        for key in CACHE_KEYS[kind]:
            assert f"`{key}`" in row, (kind, key)
