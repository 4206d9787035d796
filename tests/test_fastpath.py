"""Run mode's fast path gives bit for bit what the plain path gives.

The fast path: parameters and gradients packed in flat buffers (tuinn/engine/run/packed.py),
the optimizer's state packed likewise and stepped in one call, and forward + loss +
backward of a dense/elementwise chain in one fused kernel (tuinn/engine/run/fastpath.py).
The plain path is the same program with packing switched off: layer by layer, one
optimizer step per parameter, dict snapshots, as before the fast path existed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_network as naive
from tuinn.engine.kernels.optim import adam_step, adam_step_packed
from tuinn.engine.network import NetworkProgram
from tuinn.engine.optim import Optimizer
from tuinn.engine.run.packed import PackedParams, ParamsView
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text

SETTINGS = settings(max_examples=25, deadline=None)
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]


def scenario(hidden, acts, loss="softmax_ce", optim="adam", dtype="float64", l2=0.0,
             samples=70, batch=16, lead=None, history=200, classes=3) -> str:
    """A dense/elementwise chain: [lead activation], (dense h, act)*, dense out."""
    if loss in ("softmax_ce", "hinge"):
        data, inp, out = f'generator = "blobs"\nsamples = {samples}\nclasses = {classes}', 3, classes
    elif loss == "mse":
        data, inp, out = f'generator = "sine"\nsamples = {samples}', 1, 1
    else:
        data, inp, out = f'generator = "moons"\nsamples = {samples}', 2, 1
    layers = f'[[model.layers]]\ntype = "{lead}"\n' if lead else ""
    for h, act in zip(hidden, acts):
        layers += f'[[model.layers]]\ntype = "dense"\nunits = {h}\ninit = "he"\n'
        layers += f'[[model.layers]]\ntype = "{act}"\n'
    layers += f'[[model.layers]]\ntype = "dense"\nunits = {out}\n'
    return f"""[scenario]
name = "fast path"
kind = "network"
seed = 3
dtype = "{dtype}"
[data]
{data}
[model]
input = [{inp}]
{layers}
[loss]
type = "{loss}"
l2 = {l2}
[optimizer]
type = "{optim}"
lr = 0.05
[train]
epochs = 100
batch_size = {batch}
[debug]
history = {history}
"""


def build(text: str, fast: bool, monkeypatch=None) -> NetworkProgram:
    if fast:
        return NetworkProgram(load_text(text, "fast.toml"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PackedParams, "packable", staticmethod(lambda *a: False))
        prog = NetworkProgram(load_text(text, "plain.toml"))
    assert prog.packed is None and prog._plans is None
    return prog


def state(prog: NetworkProgram) -> dict:
    """Everything run mode leaves behind that a view or the next iteration reads."""
    arrays = lambda d: {k: np.array(v) for k, v in d.items() if isinstance(v, np.ndarray)}  # noqa: E731
    return {
        "iteration": prog.iteration,
        "losses": np.array(prog.losses),
        "params": arrays(prog.params()),
        "start": arrays(dict(prog.start.params)),
        "optim": {k: arrays(prog.optimizer.state(k)) for k in prog.param_layers},
        "grads": {layer.name: arrays(layer.grads) for layer in prog._all_layers()},
        "caches": {layer.name: arrays(layer.cache) for layer in prog._all_layers()},
        "loss": arrays(prog.loss.cache),
        "value": prog.loss.value,
    }


def assert_same(a, b, path="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert a.tobytes() == b.tobytes(), f"{path} differs"
    else:
        assert a == b or (a != a and b != b), path


def train_both(text: str, iterations: int):
    fast, plain = build(text, True), build(text, False)
    for _ in range(iterations):
        assert fast.train_iteration() == plain.train_iteration()
        assert_same(state(fast), state(plain))
    return fast, plain


@SETTINGS
@given(hidden=st.lists(st.integers(1, 9), min_size=0, max_size=3),
       acts=st.lists(st.sampled_from(ACTIVATIONS), min_size=3, max_size=3),
       lead=st.sampled_from([None, "tanh", "relu"]),
       loss=st.sampled_from(["softmax_ce", "hinge", "mse", "bce"]),
       optim=st.sampled_from(["sgd", "momentum", "rmsprop", "adam"]),
       dtype=st.sampled_from(["float64", "float32"]),
       l2=st.sampled_from([0.0, 0.01]), batch=st.sampled_from([7, 16, 70]))
def test_fused_chain_matches_plain_path(hidden, acts, lead, loss, optim, dtype, l2, batch):
    text = scenario(hidden, acts, loss, optim, dtype, l2, batch=batch, lead=lead)
    fast, _ = train_both(text, 12)                      # 70 / 7, 70 / 16: partial batches too
    assert fast._plans and fast.packed is not None      # the fused path did run


@pytest.mark.parametrize("loss", ["softmax_ce", "hinge", "mse", "bce"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_sgd_update_matches_plain_path(loss, dtype):
    # plain SGD without L2: the fused call also does the update
    train_both(scenario([7, 5], ["tanh", "leaky_relu"], loss, "sgd", dtype, batch=16), 10)


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_time_travel_and_stepping_agree_with_plain_path(optim):
    from tuinn.engine.session import Session
    text = scenario([8, 5], ["relu", "tanh"], optim=optim, l2=0.001)
    fast, plain = train_both(text, 9)
    for prog in (fast, plain):
        for _ in range(4):
            prog.restore(prog.history.pop())
    assert_same(state(fast), state(plain))
    for prog in (fast, plain):
        s = Session(prog)                                # a stepped iteration in between
        s.step(len(prog.steps))
        s.next_iteration()
        for _ in range(3):
            prog.train_iteration()
        s.goto_iteration(prog.iteration - 2)
    assert_same(state(fast), state(plain))


def test_other_layers_take_the_plain_path_on_packed_parameters():
    text = scenario([6], ["relu"], optim="rmsprop").replace(
        '[[model.layers]]\ntype = "relu"\n',
        '[[model.layers]]\ntype = "relu"\n[[model.layers]]\ntype = "dropout"\np = 0.3\n')
    fast, _ = train_both(text, 8)
    assert fast._plans is None and fast.packed is not None


def test_a_rebound_parameter_is_packed_again():
    text = scenario([4], ["sigmoid"], optim="momentum")
    fast, plain = train_both(text, 3)
    for prog in (fast, plain):
        layer = prog.layers[0]
        layer.params["W"] = layer.params["W"] * 0.5     # a new array, not a view
        layer.grads["b"] = np.zeros_like(layer.grads["b"])
    for _ in range(3):
        assert fast.train_iteration() == plain.train_iteration()
    assert_same(state(fast), state(plain))
    assert fast.packed.intact()


def test_a_bad_label_raises_as_on_the_plain_path():
    text = scenario([4], ["relu"])
    for fast in (True, False):
        prog = build(text, fast)
        prog.y[:] = 7                                    # 3 classes
        with pytest.raises(TuinnError, match="label 7 out of range"):
            prog.train_iteration()


def test_snapshot_params_are_a_frozen_mapping():
    prog = build(scenario([4], ["relu"], optim="sgd"), True)
    before = {k: v.copy() for k, v in prog.params().items()}
    snap = prog.start.params
    assert isinstance(snap, ParamsView) and list(snap) == list(prog.param_layers)
    prog.train_iteration()
    for k, v in before.items():
        np.testing.assert_array_equal(snap[k], v)
        assert snap.get(k).shape == v.shape
    assert snap.get("nope") is None and len(snap) == len(before)


# ------------------------------------------------------------------ optimizer

@SETTINGS
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
       steps=st.lists(st.integers(0, 5), min_size=4, max_size=4),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_adam_step_packed_is_adam_step_per_segment(sizes, steps, dtype, seed):
    rng = np.random.default_rng(seed)
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    w, g = rng.normal(size=bounds[-1]).astype(dtype), rng.normal(size=bounds[-1]).astype(dtype)
    m, v = rng.normal(size=bounds[-1]).astype(dtype), rng.random(bounds[-1]).astype(dtype)
    ts = np.array(steps[:len(sizes)], np.int64)
    want = [a.copy() for a in (w, m, v)]
    for k in range(len(sizes)):
        lo, hi = bounds[k], bounds[k + 1]
        adam_step(want[0][lo:hi], g[lo:hi], want[1][lo:hi], want[2][lo:hi],
                  0.01, 0.9, 0.999, 1e-8, int(ts[k]) + 1)
    t0 = ts.copy()
    adam_step_packed(w, g, m, v, 0.01, 0.9, 0.999, 1e-8, ts, bounds)
    np.testing.assert_array_equal(ts, t0 + 1)
    for got, exp in zip((w, m, v), want):
        assert got.tobytes() == exp.tobytes()


def test_adam_step_packed_against_naive():
    rng = np.random.default_rng(0)
    shapes = {"a.W": (3, 4), "a.b": (4,)}
    ref = naive.NaiveOptimizer("adam", 0.01)
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    flat_w = np.concatenate([p.ravel() for p in params.values()])
    bounds = np.array([0, 12, 16], np.int64)
    m, v, ts = np.zeros(16), np.zeros(16), np.zeros(2, np.int64)
    for _ in range(3):
        grads = {k: rng.normal(size=s) for k, s in shapes.items()}
        params = {k: ref.step(k, params[k], grads[k]) for k in shapes}
        adam_step_packed(flat_w, np.concatenate([g.ravel() for g in grads.values()]), m, v,
                         0.01, 0.9, 0.999, 1e-8, ts, bounds)
    np.testing.assert_allclose(flat_w, np.concatenate([p.ravel() for p in params.values()]),
                               rtol=1e-12)


def packed_optimizer(kind: str):
    layout = {"a.W": (0, 6, (2, 3)), "a.b": (6, 3, (3,))}
    opt = Optimizer(type=kind, lr=0.1)
    opt.pack(layout, np.array([0, 6, 9], np.int64), np.float64)
    w = np.arange(9, dtype=np.float64)
    views = {k: w[o:o + n].reshape(s) for k, (o, n, s) in layout.items()}
    return opt, w, views


@pytest.mark.parametrize("kind", ["momentum", "rmsprop", "adam"])
def test_packed_optimizer_keeps_the_per_key_api(kind):
    opt, w, views = packed_optimizer(kind)
    plain = Optimizer(type=kind, lr=0.1)
    pw = {k: v.copy() for k, v in views.items()}
    g = np.linspace(-1, 1, 9)
    gv = {"a.W": g[:6].reshape(2, 3), "a.b": g[6:]}
    assert opt.state("a.W") == {} and not opt.step_packed(w, g)    # no state yet
    for k in views:
        opt.step(k, views[k], gv[k])
        plain.step(k, pw[k], gv[k])
    snap, packed_snap = opt.snapshot(), opt.snapshot_packed()
    for _ in range(2):
        assert opt.step_packed(w, g)
        for k in views:
            plain.step(k, pw[k], gv[k])
    for k in views:
        np.testing.assert_array_equal(views[k], pw[k])
        assert_same({n: np.array(a) for n, a in opt.state(k).items()},
                    {n: np.array(a) for n, a in plain.state(k).items()})
    for s in (snap, packed_snap):                        # both kinds restore, into the views
        opt.restore(s)
        assert_same({k: {n: np.array(a) for n, a in st.items()} for k, st in snap.items()},
                    opt.snapshot())
        assert opt.step_packed(w, g)
    opt.reset()
    assert opt.snapshot() == {} and not opt.step_packed(w, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_params_finite_sees_every_packed_parameter(bad):
    from tuinn.engine.kernels.optim import all_finite
    for fast in (True, False):
        prog = build(scenario([4], ["relu"], dtype="float32"), fast)
        assert prog.params_finite()
        prog.layers[-1].params["b"][-1] = bad
        assert not prog.params_finite()
    a = np.zeros(9)
    assert all_finite(a) and all_finite(a[:0])
    a[4] = bad
    assert not all_finite(a)


def test_a_replaced_params_dict_is_packed_again():
    text = scenario([4], ["tanh"], optim="adam")
    fast, plain = train_both(text, 2)
    for prog in (fast, plain):
        layer = prog.layers[-1]
        layer.params = {k: v + 0.25 for k, v in layer.params.items()}   # new dict, new arrays
    for _ in range(3):
        assert fast.train_iteration() == plain.train_iteration()
    assert_same(state(fast), state(plain))
