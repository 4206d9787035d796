"""Networks with gelu, embedding, position, layernorm, batchnorm, seq_pool and skipgram:
the step-by-step path and run mode give the same numbers, batchnorm's running buffers
follow time travel and show in the trace, evaluation uses the running statistics, and a
bad id in the data is refused at load time."""

from __future__ import annotations

import json

import numpy as np
import pytest

import naive_seq as naive
from tuinn.engine.network import NetworkProgram
from tuinn.engine.session import Session
from tuinn.engine.trace import network_trace, pass_events
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text


def ids_scenario(optim="adam", dtype="float64", history=50, l2=0.01, pool="max",
                 validation=0.2, batch=4) -> str:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 7, size=(12, 5)).tolist()
    y = rng.integers(0, 3, size=12).tolist()
    return f"""
[scenario]
name = "ids"
kind = "network"
seed = 3
dtype = "{dtype}"
[data]
x = {json.dumps(x)}
y = {json.dumps(y)}
validation = {validation}
[model]
input = [5]
[[model.layers]]
type = "embedding"
vocab = 7
dim = 4
[[model.layers]]
type = "position"
[[model.layers]]
type = "layernorm"
[[model.layers]]
type = "dense"
units = 6
[[model.layers]]
type = "gelu"
[[model.layers]]
type = "batchnorm"
name = "bn"
momentum = 0.2
[[model.layers]]
type = "seq_pool"
mode = "{pool}"
[[model.layers]]
type = "dense"
units = 3
[loss]
type = "softmax_ce"
l2 = {l2}
[optimizer]
type = "{optim}"
lr = 0.05
[train]
epochs = 50
batch_size = {batch}
[debug]
history = {history}
"""


CONV_BN = """
[scenario]
name = "conv bn"
kind = "network"
seed = 1
[data]
generator = "blobs"
samples = 20
classes = 2
[model]
input = [6]
[[model.layers]]
type = "dense"
units = 5
[[model.layers]]
type = "batchnorm"
[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 2
[optimizer]
type = "momentum"
lr = 0.1
[train]
epochs = 20
batch_size = 8
"""

SKIPGRAM = """
[scenario]
name = "w2v"
kind = "network"
seed = 2
[data]
generator = "skipgram"
corpus = "the cat sat on the mat and the dog sat on the log"
window = 2
negatives = 3
[model]
input = [2]
[[model.layers]]
type = "skipgram"
vocab = 8
dim = 3
[loss]
type = "bce"
l2 = 0.01
[optimizer]
type = "rmsprop"
lr = 0.05
[train]
epochs = 5
batch_size = 16
"""

SCENARIOS = {"ids-adam": ids_scenario(), "ids-sgd-mean": ids_scenario("sgd", pool="mean"),
             "ids-float32-last": ids_scenario("momentum", "float32", pool="last"),
             "dense-bn": CONV_BN, "skipgram": SKIPGRAM}


def stepped(prog: NetworkProgram, iterations: int) -> list[float]:
    """Every step of `iterations` iterations, one at a time, as the debugger runs them."""
    s = Session(prog)
    losses = []
    for _ in range(iterations):
        s.run_to_end()
        losses.append(float(s.tape.values["loss"]))
        s.next_iteration()
    return losses


def state(prog: NetworkProgram) -> dict:
    return {"params": {k: v.copy() for k, v in prog.params().items()},
            "buffers": prog.buffers(), "iteration": prog.iteration}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_run_mode_equals_the_step_by_step_path(name):
    text = SCENARIOS[name]
    a = NetworkProgram(load_text(text, "a.toml"))
    b = NetworkProgram(load_text(text, "b.toml"))
    n = 7
    step_losses = stepped(a, n)
    run_losses = [b.train_iteration() for _ in range(n)]
    assert step_losses == run_losses
    sa, sb = state(a), state(b)
    assert sa["iteration"] == sb["iteration"] == n
    for part in ("params", "buffers"):
        assert sa[part].keys() == sb[part].keys()
        for k in sa[part]:
            assert sa[part][k].tobytes() == sb[part][k].tobytes(), f"{part} {k}"
    if "bn" in name or "ids" in name:
        assert sa["buffers"]                               # there were buffers to compare
    assert a.validation_loss() == b.validation_loss()


def test_buffers_follow_time_travel():
    prog = NetworkProgram(load_text(ids_scenario(), "t.toml"))
    s = Session(prog)
    start = prog.buffers()
    s.run_to_end()
    after0 = prog.buffers()
    assert not np.array_equal(after0["bn.running_mean"], start["bn.running_mean"])
    for _ in range(3):                                     # replays of iteration 0
        s.back(5)
        s.run_to_end()
    for k, v in prog.buffers().items():
        assert v.tobytes() == after0[k].tobytes(), k      # updated once, not four times
    s.next_iteration()
    s.run_to_end()
    after1 = prog.buffers()
    assert s.previous_iteration()                          # back into iteration 0
    for k, v in prog.buffers().items():
        assert v.tobytes() == after0[k].tobytes(), k
    s.next_iteration()
    s.run_to_end()
    for k, v in prog.buffers().items():
        assert v.tobytes() == after1[k].tobytes(), k
    assert prog.history.nbytes >= sum(v.nbytes for v in start.values())


def test_evaluation_uses_the_running_statistics_and_leaves_them():
    prog = NetworkProgram(load_text(CONV_BN, "e.toml"))
    for _ in range(5):
        prog.train_iteration()
    before = prog.buffers()
    bn = next(layer for layer in prog.layers if layer.type == "batchnorm")
    x = prog.x[:6]
    out = prog.predict(x)
    for k, v in prog.buffers().items():
        assert v.tobytes() == before[k].tobytes()
    twin = next(layer for layer in prog.eval_layers if layer.type == "batchnorm")
    np.testing.assert_array_equal(twin.running["running_mean"], bn.running["running_mean"])
    assert twin.mode == "eval"
    h = prog.layers[0].forward(x, False, None).copy()       # by hand, in evaluation mode
    want, _, _ = naive.batchnorm(h, bn.params["gamma"], bn.params["beta"], 1e-5,
                                 before["batchnorm1.running_mean"],
                                 before["batchnorm1.running_var"], 0.1, False)
    want = prog.layers[3].forward(np.maximum(want, 0), False, None)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    train_out = bn.forward(h, True, None).copy()             # the batch statistics differ
    assert not np.allclose(train_out, naive.batchnorm(h, bn.params["gamma"],
                                                       bn.params["beta"], 1e-5,
                                                       before["batchnorm1.running_mean"],
                                                       before["batchnorm1.running_var"],
                                                       0.1, False)[0])


def test_trace_reports_buffers_after_each_forward_pass():
    prog = NetworkProgram(load_text(CONV_BN, "tr.toml"))
    s = Session(prog)
    its = [e for e in network_trace(s, 3) if e["event"] == "iteration"]
    assert len(its) == 3
    check = NetworkProgram(load_text(CONV_BN, "tr2.toml"))
    for ev in its:
        check.train_iteration()                             # the same iteration, run mode
        bufs = check.buffers()
        assert set(ev["buffers"]) == {"batchnorm1.running_mean", "batchnorm1.running_var"}
        for k, v in bufs.items():
            np.testing.assert_allclose(ev["buffers"][k], v, rtol=0, atol=0)
    replay = pass_events(s)
    assert "buffers" in replay[-1]
    plain = CONV_BN.replace('[[model.layers]]\ntype = "batchnorm"\n', "")
    ev = [e for e in network_trace(Session(NetworkProgram(load_text(plain, "p.toml"))), 1)
          if e["event"] == "iteration"][0]
    assert "buffers" not in ev


def test_bad_ids_are_refused_at_load_time():
    text = ids_scenario().replace("vocab = 7", "vocab = 6")
    with pytest.raises(TuinnError) as err:
        NetworkProgram(load_text(text, "bad.toml"))
    e = err.value
    assert e.key == "data.x" and e.file == "bad.toml" and e.line
    assert "[0, 6)" in e.message and "sample" in e.message and "embedding1" in e.message
    frac = SKIPGRAM.replace('generator = "skipgram"\ncorpus = "the cat sat on the mat and the '
                            'dog sat on the log"\nwindow = 2\nnegatives = 3',
                            "x = [[0, 1], [2, 0.5]]\ny = [[1.0], [0.0]]")
    with pytest.raises(TuinnError, match=r"0\.5 at sample 1, position 1"):
        NetworkProgram(load_text(frac, "frac.toml"))
    pre = ids_scenario().replace("validation = 0.2", 'validation = 0.2\npreprocess = ["center"]')
    with pytest.raises(TuinnError, match="preprocess") as err:
        NetworkProgram(load_text(pre, "pre.toml"))
    assert err.value.key == "data.preprocess"


def test_l2_counts_W_in_W_out_and_W_but_not_gamma_beta_or_P():
    prog = NetworkProgram(load_text(ids_scenario(l2=0.5), "l2.toml"))
    l2 = {f"{layer.name}.{k}" for layer in prog.layers for k in layer.l2_params()}
    assert l2 == {"embedding1.W", "dense1.W", "dense2.W"}
    sg = NetworkProgram(load_text(SKIPGRAM, "sg.toml"))
    assert {k for layer in sg.layers for k in layer.l2_params()} == {"W_in", "W_out"}
    W = [p for k, p in sg.params().items()]
    assert sg.l2_value() == pytest.approx(0.01 * sum(float((w ** 2).sum()) for w in W),
                                          rel=1e-12)


def test_no_decision_regions_over_ids():
    """Points between ids mean nothing: a skipgram model (input [2], bce) has no data
    view, where a plain 2-D classifier has one."""
    from tuinn.tui.present_side import side_views
    sg = NetworkProgram(load_text(SKIPGRAM, "sg.toml"))
    assert sg.takes_ids and "data" not in side_views(sg)
    plain = SKIPGRAM.replace('type = "skipgram"\nvocab = 8\ndim = 3', 'type = "dense"\nunits = 1')
    assert "data" in side_views(NetworkProgram(load_text(plain, "p.toml")))
