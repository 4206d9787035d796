"""Tests the optimizers against hand-computed steps and tests/naive_network.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_network as naive
from tuinn.engine.optim import Optimizer
from tuinn.errors import TuinnError
from tuinn.scenario.spec import OptimizerSpec

SETTINGS = settings(max_examples=25, deadline=None)
W0 = [1.0, -2.0]
GRADS = [[0.5, -1.0], [0.1, 0.2], [-0.3, 0.4]]


def run(spec: OptimizerSpec, key="w"):
    opt = Optimizer(spec)
    w = np.array(W0)
    out = []
    for g in GRADS:
        opt.step(key, w, np.array(g))
        out.append((w.copy(), {k: np.array(v, copy=True) for k, v in opt.state(key).items()}))
    return opt, out


def test_sgd_by_hand():
    # w -= 0.1 g: [1, -2] -> [0.95, -1.9] -> [0.94, -1.92] -> [0.97, -1.96]
    opt, steps = run(OptimizerSpec("sgd", lr=0.1))
    for (w, state), want in zip(steps, [[0.95, -1.9], [0.94, -1.92], [0.97, -1.96]]):
        np.testing.assert_allclose(w, want, rtol=1e-12)
        assert state == {}
    assert opt.snapshot() == {}


def test_momentum_by_hand():
    # v1 = g1 = [0.5, -1];            w1 = [0.95, -1.9]
    # v2 = 0.9 v1 + g2 = [0.55, -0.7]; w2 = [0.895, -1.83]
    # v3 = 0.9 v2 + g3 = [0.195, -0.23]; w3 = [0.8755, -1.807]
    _, steps = run(OptimizerSpec("momentum", lr=0.1, momentum=0.9))
    want_w = [[0.95, -1.9], [0.895, -1.83], [0.8755, -1.807]]
    want_v = [[0.5, -1.0], [0.55, -0.7], [0.195, -0.23]]
    for (w, state), ww, wv in zip(steps, want_w, want_v):
        np.testing.assert_allclose(w, ww, rtol=1e-12)
        assert set(state) == {"v"}
        np.testing.assert_allclose(state["v"], wv, rtol=1e-12)


def test_rmsprop_by_hand():
    # alpha 0.99, eps 0: v1 = 0.01 g1^2 = [0.0025, 0.01], sqrt = [0.05, 0.1],
    # so w1 = w0 - 0.1 * [10, -10] = [0, -1];  v2 = 0.99 v1 + 0.01 g2^2 = [0.002575, 0.0103]
    _, steps = run(OptimizerSpec("rmsprop", lr=0.1, alpha=0.99, eps=0.0))
    want_w = [[0.0, -1.0], [-0.19706585563285814, -1.197065855632859],
              [0.31374358860593854, -1.5653425205983778]]
    want_v = [[0.0025, 0.01], [0.002575, 0.0103], [0.00344925, 0.011797]]
    for (w, state), ww, wv in zip(steps, want_w, want_v):
        np.testing.assert_allclose(w, ww, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["v"], wv, rtol=1e-12)


def test_adam_by_hand():
    # t=1: m = 0.1 g1, v = 0.001 g1^2 -> m_hat = g1, v_hat = g1^2: w1 = w0 - 0.1 sign(g1)
    # t=2: m = [0.055, -0.07], v = [0.00025975, 0.001039],
    #      m_hat = m / 0.19, v_hat = v / 0.001999 -> w2 = [0.81969..., -1.84889...]
    _, steps = run(OptimizerSpec("adam", lr=0.1, beta1=0.9, beta2=0.999, eps=0.0))
    want_w = [[0.9, -1.9], [0.8196959021569026, -1.8488973922816652],
              [0.7986246069187134, -1.835473432287001]]
    want_m = [[0.05, -0.1], [0.055, -0.07], [0.0195, -0.023]]
    want_v = [[0.00025, 0.001], [0.00025975, 0.001039], [0.00034949025, 0.001197961]]
    for t, ((w, state), ww, wm, wv) in enumerate(zip(steps, want_w, want_m, want_v), 1):
        np.testing.assert_allclose(w, ww, rtol=1e-12)
        assert set(state) == {"m", "v", "t"} and int(state["t"]) == t
        np.testing.assert_allclose(state["m"], wm, rtol=1e-12)
        np.testing.assert_allclose(state["v"], wv, rtol=1e-12)


@SETTINGS
@given(st.sampled_from(["sgd", "momentum", "rmsprop", "adam"]),
       st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2**31 - 1),
       st.integers(1, 5))
def test_matches_naive(kind, shape, seed, steps):
    rng = np.random.default_rng(seed)
    spec = OptimizerSpec(kind, lr=float(rng.uniform(0.001, 0.5)), momentum=0.8, alpha=0.9,
                         beta1=0.85, beta2=0.99, eps=1e-8)
    opt = Optimizer(spec)
    ref = naive.NaiveOptimizer(kind, spec.lr, spec.momentum, spec.alpha, spec.beta1,
                               spec.beta2, spec.eps)
    w = rng.normal(size=shape)
    b = rng.normal(size=shape[-1])
    w_ref, b_ref = w.copy(), b.copy()
    for _ in range(steps):
        gw, gb = rng.normal(size=w.shape), rng.normal(size=b.shape)
        opt.step("layer.W", w, gw)
        opt.step("layer.b", b, gb)
        w_ref = ref.step("layer.W", w_ref, gw)
        b_ref = ref.step("layer.b", b_ref, gb)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b, b_ref, rtol=1e-12, atol=1e-14)


def test_adam_counts_steps_per_parameter():
    opt = Optimizer(OptimizerSpec("adam"))
    a, b = np.zeros(3), np.zeros(2)
    for _ in range(3):
        opt.step("a", a, np.ones(3))
    opt.step("b", b, np.ones(2))
    assert int(opt.state("a")["t"]) == 3 and int(opt.state("b")["t"]) == 1
    assert opt.state("c") == {}


def test_snapshot_and_restore_are_deep():
    opt = Optimizer(OptimizerSpec("adam", lr=0.01))
    w = np.array([1.0, 2.0])
    opt.step("w", w, np.array([0.3, -0.1]))
    snap = opt.snapshot()
    w_snap = w.copy()
    opt.step("w", w, np.array([1.0, 1.0]))
    first = w.copy()
    assert int(snap["w"]["t"]) == 1                   # the snapshot did not move
    opt.restore(snap)
    w[...] = w_snap
    opt.step("w", w, np.array([1.0, 1.0]))
    np.testing.assert_array_equal(w, first)
    assert int(snap["w"]["t"]) == 1                   # restore copied it in
    opt.restore(snap)
    snap["w"]["m"][...] = 99.0
    assert not np.any(opt.state("w")["m"] == 99.0)
    opt.reset()
    assert opt.state("w") == {}


def test_float32_and_bad_inputs():
    opt = Optimizer(OptimizerSpec("momentum", lr=0.5))
    w = np.ones(4, dtype=np.float32)
    opt.step("w", w, np.full(4, 0.5, dtype=np.float32))
    assert w.dtype == np.float32 and opt.state("w")["v"].dtype == np.float32
    np.testing.assert_allclose(w, 0.75)
    with pytest.raises(ValueError):
        opt.step("w", np.ones((4, 4))[:, 0], np.ones(4))   # not contiguous: no in-place update
    with pytest.raises(ValueError):
        opt.step("w", w, np.ones(3))
    with pytest.raises(TuinnError, match="unknown optimizer"):
        Optimizer(OptimizerSpec("adagrad"))
    assert Optimizer(OptimizerSpec("rmsprop", lr=0.3)).spec.lr == 0.3
