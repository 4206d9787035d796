"""Tests issue 11's W3 work on the recurrent kernels (tuinn/engine/kernels/recurrent.py) and
Adam's float32 step (tuinn/engine/kernels/optim.py) against plain NumPy references, in
float64 and float32, over random shapes: the one-pass dh seed, dx skipped for a first
layer in run mode, exp's rounding of k by a magic constant, and Adam in the
parameters' dtype. Compiled, each kernel gives its py_func's values bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_recurrent as naive
from tuinn.engine.kernels.optim import adam_step
from tuinn.engine.kernels.recurrent import _expneg, _seed_dh, _sigmoid, _tanh
from tuinn.engine.layers.base import build_layer
from tuinn.engine.network import NetworkProgram
from tuinn.scenario.loader import load_text
from tuinn.scenario.spec import LayerSpec

SETTINGS = settings(max_examples=20, deadline=None)
DTYPES = (np.float64, np.float32)
CELLS = ("rnn", "lstm", "gru")


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def make(cell, T, I, H, seq=False, bi=False, dtype=np.float64, seed=0):
    spec = LayerSpec(cell, f"{cell}1", {"hidden": H, "return_sequences": seq,
                                        "bidirectional": bi})
    layer = build_layer(spec, (T, I), np.random.default_rng(seed), dtype)
    rng = np.random.default_rng(seed + 100)
    for v in layer.params.values():
        v[...] = rng.normal(0.0, 0.6, v.shape)
    return layer


# ---------------------------------------------------------------- the dh seed
@SETTINGS
@given(N=st.integers(1, 5), T=st.integers(1, 6), H=st.integers(1, 9), seq=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_seed_dh_against_numpy(N, T, H, seq, dtype, seed):
    """dh[t] = dhrec (not at T-1) + dy[t] (seq) or dy (at T-1 only), -0.0 made 0.0 at T-1."""
    rng = np.random.default_rng(seed)
    dy = rng.normal(size=(N, T if seq else 1, H)).astype(dtype)
    dy.flat[::3] = -0.0
    dhrec = rng.normal(size=(N, H)).astype(dtype)
    for t in range(T):
        want = rng.normal(size=(T, N, H)).astype(dtype)
        got, py = want.copy(), want.copy()
        if t == T - 1:
            want[t] = dtype(0.0) + (dy[:, t] if seq else dy[:, 0])
        else:
            want[t] = dhrec + dy[:, t] if seq else dhrec
        _seed_dh(got, dhrec, dy, t, seq)
        _seed_dh.py_func(py, dhrec, dy, t, seq)
        assert same(got, want) and same(py, want)


# ---------------------------------------------------------------- no dx for a first layer
@SETTINGS
@given(cell=st.sampled_from(CELLS), N=st.integers(1, 4), T=st.integers(1, 5),
       I=st.integers(1, 4), H=st.integers(1, 6), seq=st.booleans(), bi=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_need_dx_off_changes_nothing_else(cell, N, T, I, H, seq, bi, dtype, seed):
    """With need_dx off, backward returns None; every gradient and cache is as with it on,
    bit for bit, and dx (on) matches the naive per-timestep reference."""
    layer = make(cell, T, I, H, seq, bi, dtype, seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, I)).astype(dtype)
    dy = rng.normal(size=layer.forward(x, True, None).shape).astype(dtype)
    dx = layer.backward(dy).copy()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    cache = {k: np.array(v) for k, v in layer.cache.items()}
    layer.need_dx = False
    layer.forward(x, True, None)
    assert layer.backward(dy) is None
    assert all(same(layer.grads[k], grads[k]) for k in grads)
    assert layer.cache.keys() == cache.keys()
    assert all(same(layer.cache[k], cache[k]) for k in cache)
    if not bi:
        x64 = x.astype(np.float64)
        p64 = {k: v.astype(np.float64) for k, v in layer.params.items()}
        _, ref = naive.FORWARD[cell](x64, p64, seq)
        _, dx_ref, _ = naive.BACKWARD[cell](x64, p64, ref, dy.astype(np.float64), seq)
        tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-4)
        np.testing.assert_allclose(dx, dx_ref, **tol)


LSTM_SCENARIO = """[scenario]
name = "first lstm"
kind = "network"
seed = 1
dtype = "{dtype}"
[data]
generator = "copy"
samples = 40
[model]
input = [6, 4]
[[model.layers]]
type = "{cell}"
hidden = 5
bidirectional = {bi}
[[model.layers]]
type = "dense"
units = 4
[loss]
type = "softmax_ce"
[optimizer]
type = "adam"
lr = 0.05
[train]
batch_size = 16
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell,bi", [("lstm", "false"), ("gru", "true"), ("rnn", "false")])
def test_run_mode_skips_a_first_recurrent_layers_dx(cell, bi, dtype):
    """Run mode's iteration skips the first layer's dx and leaves every loss, parameter,
    gradient and cache as a run that computes it (and the step-by-step path) would."""
    text = LSTM_SCENARIO.format(cell=cell, bi=bi, dtype=dtype)
    fast, plain = (NetworkProgram(load_text(text, "a.toml")) for _ in range(2))
    assert fast._first_dx is fast.layers[0]
    plain._first_dx = None                                  # computes dx, as before
    for _ in range(6):                                      # a smaller last batch too
        assert fast.train_iteration() == plain.train_iteration()
        for a, b in zip(fast.layers, plain.layers):
            assert all(same(a.params[k], b.params[k]) for k in a.params)
            assert all(same(a.grads[k], b.grads[k]) for k in a.grads)
            assert all(same(a.cache[k], b.cache[k]) for k in a.cache)
    assert fast.layers[0].need_dx                           # switched back on after


# ---------------------------------------------------------------- exp, sigmoid, tanh
def _hard_values(dtype, rng):
    """Random values, values at and next to the ties of k = round(|z| / ln 2), the ends
    of the range, NaN and infinities."""
    ln2 = np.log(2.0)
    ties = (np.arange(-40, 41) + 0.5) * ln2
    near = np.concatenate([np.nextafter(ties.astype(dtype), dtype(np.inf)),
                           np.nextafter(ties.astype(dtype), dtype(-np.inf)), ties.astype(dtype)])
    big = 745.2 if dtype == np.float64 else 104.0
    z = np.concatenate([rng.normal(0, 1, 3000), rng.normal(0, 40, 3000),
                        rng.uniform(-1.1 * big, 1.1 * big, 3000), np.logspace(-40, 2.9, 500),
                        -np.logspace(-40, 2.9, 500)]).astype(dtype)
    special = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, big, -big], dtype)
    return np.concatenate([z, near, special])


@pytest.mark.parametrize("dtype", DTYPES)
def test_expneg_sigmoid_tanh_compiled_equal_numpy_arrays_and_scalars(dtype):
    """The gate functions compiled, on whole NumPy arrays (the cold-start stand-ins) and
    on NumPy scalars (a kernel's py_func) give the same bits, NaN kept; exp(-y) within 2
    ulp of a long-double reference, ties of k included."""
    from numba import njit

    @njit
    def apply(z, e, s, t):
        for k in range(z.size):
            e[k] = _expneg(abs(z[k]))[0]
            s[k] = _sigmoid(z[k])
            t[k] = _tanh(z[k])

    z = _hard_values(dtype, np.random.default_rng(3))
    e, s, t = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    apply(z, e, s, t)
    with np.errstate(all="ignore"):
        arrays = (_expneg(np.abs(z))[0], _sigmoid(z), _tanh(z))
        scalars = [np.array([f(v) for v in z[::7]], dtype)
                   for f in (lambda v: _expneg(abs(v))[0], _sigmoid, _tanh)]
    for got, arr, sc in zip((e, s, t), arrays, scalars):
        assert same(arr, got) and same(sc, got[::7])
    y = np.abs(z[np.isfinite(z)]).astype(np.longdouble)
    want = np.exp(-y)
    got = e[np.isfinite(z)]
    normal = want >= np.finfo(dtype).tiny
    ulp = np.abs(got[normal] - want[normal]) / want[normal] / np.finfo(dtype).eps
    assert ulp.max() < 2
    assert np.all(np.abs(got[~normal] - want[~normal]) <= 2 * np.finfo(dtype).smallest_subnormal)
    assert np.isnan(e[np.isnan(z)]).all() and np.isnan(s[np.isnan(z)]).all()


# ---------------------------------------------------------------- Adam in the params' dtype
def adam_numpy(w, g, m, v, lr, b1, b2, eps, t):
    """Adam as the kernel defines it, on whole arrays, every operation in w's dtype."""
    F = w.dtype.type
    c1, c2 = F(1.0 - b1 ** float(t)), F(1.0 - b2 ** float(t))
    m[...] = F(b1) * m + F(1.0 - b1) * g
    v[...] = F(b2) * v + F(1.0 - b2) * g * g
    w -= F(lr) * (m / c1) / (np.sqrt(v / c2) + F(eps))


@SETTINGS
@given(size=st.integers(1, 300), t=st.integers(1, 50), dtype=st.sampled_from(DTYPES),
       lr=st.sampled_from([0.001, 0.05, 1]), seed=st.integers(0, 2**16))
def test_adam_step_in_the_params_dtype(size, t, dtype, lr, seed):
    """Compiled, uncompiled and the whole-array NumPy rule agree bit for bit; float32
    stays float32 and within float32 rounding of the float64 step."""
    rng = np.random.default_rng(seed)
    w, g, m = (rng.normal(size=size).astype(dtype) for _ in range(3))
    v = rng.random(size).astype(dtype)
    runs = []
    for fn in (adam_step, adam_step.py_func, adam_numpy):
        a = [x.copy() for x in (w, m, v)]
        fn(a[0], g, a[1], a[2], lr, 0.9, 0.999, 1e-8, t)
        runs.append(a)
    for got in runs[1:]:
        assert all(same(x, y) for x, y in zip(got, runs[0]))
    if dtype == np.float32:
        wide = [x.astype(np.float64) for x in (w, m, v)]
        adam_step(wide[0], g.astype(np.float64), wide[1], wide[2], lr, 0.9, 0.999, 1e-8, t)
        np.testing.assert_allclose(runs[0][0], wide[0], rtol=1e-5, atol=1e-5 * lr)


# ---------------------------------------------------------------- K = I products in blocks
@settings(max_examples=12, deadline=None)
@given(N=st.integers(1, 24), T=st.integers(1, 40), I=st.integers(1, 12),
       G=st.sampled_from([4, 96, 256, 512]), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**16))
def test_projection_and_dwx_in_blocks_against_numpy(N, T, I, G, dtype, seed):
    """The input projection (row blocks of whole timesteps: the values of one product)
    and dWx (up to 4 partial products: within rounding of one), compiled and uncompiled
    alike (the gradients within rounding: two BLAS libraries), for shapes on both sides of the block size (W3's N 16, T 32, I 8, G 256 too)."""
    from tuinn.engine.kernels.recurrent import SMALL_GEMM, _chunk_steps, _input_grads, _project
    if seed % 3 == 0:
        N, T, I, G = 16, 32, 8, 256
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, I)).astype(dtype)
    Wx = rng.normal(size=(I, G)).astype(dtype)
    dA = rng.normal(size=(T, N, G)).astype(dtype)
    xt0 = np.ascontiguousarray(x.transpose(1, 0, 2))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    runs = []
    for fn in (_project, _project.py_func):
        xt, xp = np.empty((T, N, I), dtype), np.empty((T, N, G), dtype)
        fn(x, Wx, xt, xp)
        assert same(xt, xt0)
        runs.append(xp)
    np.testing.assert_allclose(runs[0], runs[1], **tol)     # two BLAS libraries (below)
    np.testing.assert_allclose(runs[0], (xt0.reshape(T * N, I) @ Wx).reshape(T, N, G), **tol)
    steps = _chunk_steps(N, T, I, G)
    assert 1 <= steps <= T and (steps == T or steps * N * I * G <= SMALL_GEMM)
    grads = []
    for fn in (_input_grads, _input_grads.py_func):
        out = [np.empty((T, N, I), dtype), np.empty((N, T, I), dtype),
               np.empty((I, G), dtype), np.empty(G, dtype)]
        fn(dA, Wx, xt0, True, *out)
        grads.append(out)
    for a, b in zip(*grads):      # compiled: SciPy's OpenBLAS; uncompiled: NumPy's, which
        assert a.dtype == b.dtype and a.shape == b.shape      # may round a big product
        np.testing.assert_allclose(a, b, **tol)               # differently (CI found one)
    dxt, dx, dWx, db = grads[0]
    A2 = dA.reshape(T * N, G)
    np.testing.assert_allclose(dWx, xt0.reshape(T * N, I).T @ A2, **tol)
    np.testing.assert_allclose(dx, (A2 @ Wx.T).reshape(T, N, I).transpose(1, 0, 2), **tol)
    np.testing.assert_allclose(db, A2.sum(axis=0), **tol)
