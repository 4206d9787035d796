"""Tests the rnn, lstm and gru layers against finite differences and
tests/naive_recurrent.py, the lstm-mse-adam contract case, and the sequence generators."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_recurrent as naive
from tuinn.engine.layers.base import LAYERS, build_layer
from tuinn.engine.layers.recurrent import LSTM
from tuinn.errors import TuinnError
from tuinn.scenario import data_seq
from tuinn.scenario.data import GENERATORS, generator_names
from tuinn.scenario.spec import LayerSpec

SETTINGS = settings(max_examples=25, deadline=None)
CELLS = ("rnn", "lstm", "gru")
CONTRACT = Path(__file__).parent / "contract" / "v1"
GATE_VIEWS = {"rnn": (), "lstm": ("i", "f", "g", "o", "c"), "gru": ("r", "z", "n")}
GRAD_VIEWS = {"rnn": ("dh", "da"), "lstm": ("dh", "dc", "di", "df", "dg", "do"),
              "gru": ("dh", "dr", "dz", "dn")}


def make(cell, T, I, H, seq=False, dtype=np.float64, seed=0, scale=0.6):
    """A layer with random (non-zero) weights and biases."""
    spec = LayerSpec(cell, f"{cell}1", {"hidden": H, "return_sequences": seq,
                                        "init": "xavier", "init_std": 0.01})
    layer = build_layer(spec, (T, I), np.random.default_rng(seed), dtype)
    rng = np.random.default_rng(seed + 100)
    for v in layer.params.values():
        v[...] = rng.normal(0.0, scale, v.shape)
    return layer


dims = dict(cell=st.sampled_from(CELLS), N=st.integers(1, 3), T=st.integers(1, 5),
            I=st.integers(1, 4), H=st.integers(1, 4), seq=st.booleans(),
            seed=st.integers(0, 10_000))


# ---------------------------------------------------------------- layer basics
def test_registered_with_contract_params():
    for cell, names in (("rnn", ("Wx", "Wh", "b")), ("lstm", ("Wx", "Wh", "b")),
                        ("gru", ("Wx", "Wh", "bx", "bh"))):
        layer = make(cell, T=4, I=3, H=5)
        G = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * 5
        assert LAYERS[cell] is type(layer)
        assert tuple(layer.params) == names
        assert layer.params["Wx"].shape == (3, G) and layer.params["Wh"].shape == (5, G)
        assert all(layer.params[k].shape == (G,) for k in names[2:])
        assert layer.l2_params() == ["Wx", "Wh"]
        assert layer.substeps() == 4
        assert layer.out_shape == (5,)
        assert make(cell, T=4, I=3, H=5, seq=True).out_shape == (4, 5)


def test_init_zero_biases_and_scaled_weights():
    spec = LayerSpec("lstm", "lstm1", {"hidden": 8, "return_sequences": False,
                                       "init": "xavier", "init_std": 0.01})
    layer = build_layer(spec, (3, 6), np.random.default_rng(0), np.float64)
    assert not layer.params["b"].any()
    assert 0.2 < layer.params["Wh"].std() < 0.8                      # sqrt(2 / (8 + 8)) = 0.35
    spec.options["init"] = "zeros"
    assert not build_layer(spec, (3, 6), np.random.default_rng(0), np.float64).params["Wx"].any()


@pytest.mark.parametrize("in_shape", [(5,), (2, 3, 4)])
def test_needs_sequence_input(in_shape):
    with pytest.raises(TuinnError, match=r"\[time, features\]"):
        build_layer(LayerSpec("gru", "gru1", {"hidden": 3}), in_shape,
                    np.random.default_rng(0), np.float64)


def test_bad_hidden():
    with pytest.raises(TuinnError, match="hidden"):
        build_layer(LayerSpec("rnn", "rnn1", {"hidden": 0}), (3, 2),
                    np.random.default_rng(0), np.float64)


# ---------------------------------------------------------------- vs the naive loop
@SETTINGS
@given(**dims)
def test_matches_naive(cell, N, T, I, H, seq, seed):
    layer = make(cell, T, I, H, seq, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, I))
    y = layer.forward(x, True, None)
    y_ref, cache = naive.FORWARD[cell](x, layer.params, seq)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    for k in GATE_VIEWS[cell] + ("h",):
        assert layer.cache[k].shape == (N, T, H)
        np.testing.assert_allclose(layer.cache[k], cache[k], rtol=1e-12, atol=1e-13, err_msg=k)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    grads, dx_ref, views = naive.BACKWARD[cell](x, layer.params, cache, dy, seq)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-11, atol=1e-13)
    for k in grads:
        np.testing.assert_allclose(layer.grads[k], grads[k], rtol=1e-11, atol=1e-13, err_msg=k)
    for k in GRAD_VIEWS[cell]:
        assert layer.cache[k].shape == (N, T, H)
        np.testing.assert_allclose(layer.cache[k], views[k], rtol=1e-11, atol=1e-13, err_msg=k)


# ---------------------------------------------------------------- finite differences
def fd_check(layer, x, seed):
    """dx and every parameter gradient of L = sum(y * G) against centred differences."""
    G = np.random.default_rng(seed + 1).normal(size=layer.forward(x, True, None).shape)

    def loss():
        return float(np.sum(layer.forward(x, True, None) * G))

    def numeric(a):
        out = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + 1e-6
            up = loss()
            a[idx] = old - 1e-6
            down = loss()
            a[idx] = old
            out[idx] = (up - down) / 2e-6
        return out

    layer.forward(x, True, None)
    dx = layer.backward(G).copy()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    np.testing.assert_allclose(dx, numeric(x), rtol=1e-6, atol=1e-8, err_msg="dx")
    for k, p in layer.params.items():
        np.testing.assert_allclose(grads[k], numeric(p), rtol=1e-6, atol=1e-8, err_msg=k)


@settings(max_examples=15, deadline=None)
@given(**dims)
def test_finite_differences(cell, N, T, I, H, seq, seed):
    layer = make(cell, T, I, H, seq, seed=seed)
    fd_check(layer, np.random.default_rng(seed).normal(size=(N, T, I)), seed)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seq", [False, True])
def test_finite_differences_longer(cell, seq):
    layer = make(cell, T=7, I=3, H=4, seq=seq, seed=3, scale=0.8)
    fd_check(layer, np.random.default_rng(3).normal(size=(2, 7, 3)), 3)


# ---------------------------------------------------------------- the hidden state
def test_rnn_chain_by_hand():
    """I = H = 1, Wx = Wh = 1, b = 0, x = (a, 0, 0): h3 = tanh(tanh(tanh(a)))."""
    layer = make("rnn", T=3, I=1, H=1)
    layer.params["Wx"][...] = 1.0
    layer.params["Wh"][...] = 1.0
    layer.params["b"][...] = 0.0
    a = 0.7
    x = np.array([[[a], [0.0], [0.0]]])
    h = layer.forward(x, True, None)
    np.testing.assert_allclose(h, [[np.tanh(np.tanh(np.tanh(a)))]], rtol=1e-15)
    dx = layer.backward(np.ones((1, 1)))
    h1, h2, h3 = np.tanh(a), np.tanh(np.tanh(a)), h[0, 0]
    want = (1 - h3 ** 2) * (1 - h2 ** 2) * (1 - h1 ** 2)
    np.testing.assert_allclose(dx[0, :, 0], [want, (1 - h3 ** 2) * (1 - h2 ** 2), 1 - h3 ** 2],
                               rtol=1e-14)
    np.testing.assert_allclose(layer.cache["dh"][0, :, 0],
                               [(1 - h3 ** 2) * (1 - h2 ** 2), 1 - h3 ** 2, 1.0], rtol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_first_step_reaches_the_end(cell):
    """Only x at t=0 varies; the last output moves with it and its gradient is non-zero."""
    layer = make(cell, T=6, I=2, H=3, seed=1)
    x = np.zeros((2, 6, 2))
    x[0, 0] = [1.0, -1.0]
    y = layer.forward(x, True, None).copy()
    assert np.abs(y[0] - y[1]).max() > 1e-4
    dx = layer.backward(np.ones_like(y))
    assert np.abs(dx[:, 0]).max() > 1e-6
    assert np.all(np.linalg.norm(layer.cache["dh"], axis=2) > 0)


def test_rnn_without_recurrent_weights_forgets():
    """With Wh = 0 the state carries nothing: h_T depends on x_T alone."""
    layer = make("rnn", T=5, I=2, H=3)
    layer.params["Wh"][...] = 0.0
    x = np.random.default_rng(0).normal(size=(2, 5, 2))
    y = layer.forward(x, True, None).copy()
    x2 = x.copy()
    x2[:, :-1] = 7.0
    np.testing.assert_array_equal(layer.forward(x2, True, None), y)
    dx = layer.backward(np.ones_like(y))
    assert not dx[:, :-1].any() and dx[:, -1].any()


def test_views_reset_on_forward_and_gradient_norm_over_time():
    layer = make("lstm", T=8, I=2, H=4, seq=False)
    x = np.random.default_rng(0).normal(size=(3, 8, 2))
    layer.forward(x, True, None)
    assert "dh" not in layer.cache and "i" in layer.cache
    layer.backward(np.ones((3, 4)))
    norms = np.linalg.norm(layer.cache["dh"], axis=(0, 2))           # ||dL/dh_t|| over t
    assert norms.shape == (8,) and np.all(np.isfinite(norms)) and norms[-1] > 0
    layer.forward(x, True, None)
    assert "dh" not in layer.cache and "dc" not in layer.cache and "di" not in layer.cache


def test_batch_size_can_change():
    layer = make("gru", T=4, I=2, H=3)
    for N in (5, 2, 5):
        x = np.random.default_rng(N).normal(size=(N, 4, 2))
        np.testing.assert_allclose(layer.forward(x, True, None),
                                   naive.gru_forward(x, layer.params)[0], rtol=1e-12)


# ---------------------------------------------------------------- float32, extremes
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seq", [False, True])
def test_float32_agrees_with_float64(cell, seq):
    l64 = make(cell, T=6, I=3, H=5, seq=seq)
    l32 = make(cell, T=6, I=3, H=5, seq=seq, dtype=np.float32)
    for k in l64.params:
        l32.params[k][...] = l64.params[k]
    x = np.random.default_rng(0).normal(size=(4, 6, 3))
    y64, y32 = l64.forward(x, True, None), l32.forward(x.astype(np.float32), True, None)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    dy = np.random.default_rng(1).normal(size=y64.shape)
    dx64, dx32 = l64.backward(dy), l32.backward(dy.astype(np.float32))
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        np.testing.assert_allclose(l32.grads[k], l64.grads[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_gates_and_nan(dtype):
    layer = make("lstm", T=3, I=1, H=2, dtype=dtype)
    x = np.array([[[1e4], [-1e4], [0.5]], [[np.nan], [0.0], [0.0]]], dtype=dtype)
    y = layer.forward(x, True, None)
    assert np.all(np.isfinite(y[0])) and np.all(np.abs(y[0]) <= 1)
    assert np.all(np.isnan(y[1]))                                    # a debugger must see NaN
    with np.errstate(over="ignore"):
        ref = naive.lstm_forward(x[:1].astype(np.float64), layer.params)[0]
    np.testing.assert_allclose(y[:1], ref, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_tanh_accuracy(dtype):
    """The kernels' polynomial exp: a few ulp from long-double references, NaN kept."""
    from numba import njit

    from tuinn.engine.kernels.recurrent import _sigmoid, _tanh

    @njit
    def apply(z, s, t):
        for k in range(z.size):
            s[k] = _sigmoid(z[k])
            t[k] = _tanh(z[k])

    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 1, 20000), rng.normal(0, 30, 20000),
                        rng.uniform(-800, 800, 2000), np.logspace(-30, 2.5, 2000),
                        -np.logspace(-30, 2.5, 2000), [0.0, 1e4, -1e4]]).astype(dtype)
    s, t = np.empty_like(z), np.empty_like(z)
    apply(z, s, t)
    zl = z.astype(np.longdouble)
    with np.errstate(over="ignore"):
        for got, want in ((s, 1 / (1 + np.exp(-zl))), (t, np.tanh(zl))):
            normal = np.abs(want) >= np.finfo(dtype).tiny
            ulp = np.abs(got[normal] - want[normal]) / np.abs(want[normal]) / np.finfo(dtype).eps
            assert ulp.max() < 8
            err = np.abs(got[~normal] - want[~normal].astype(dtype))
            assert err.max(initial=0) <= 2 * np.finfo(dtype).smallest_subnormal
    special = np.array([np.nan, np.inf, -np.inf], dtype)
    s, t = np.empty_like(special), np.empty_like(special)
    apply(special, s, t)
    np.testing.assert_array_equal(s, [np.nan, 1, 0])
    np.testing.assert_array_equal(t, [np.nan, 1, -1])


# ---------------------------------------------------------------- contract
def test_contract_lstm_mse_adam():
    spec = tomllib.loads((CONTRACT / "lstm-mse-adam.toml").read_text())
    expected = json.loads((CONTRACT / "lstm-mse-adam.expected.json").read_text())["history"][0]
    params = {k: np.array(v, dtype=np.float64) for k, v in spec["params"].items()}
    opts = {k: v for k, v in spec["model"]["layers"][0].items() if k != "type"}
    lstm = LSTM("lstm1", {"return_sequences": False, "init": "xavier", "init_std": 0.01, **opts},
                tuple(spec["model"]["input"]), np.random.default_rng(0), np.float64)
    for k in ("Wx", "Wh", "b"):
        lstm.params[k][...] = params[f"lstm1.{k}"]
    W, b = params["dense1.W"], params["dense1.b"]                     # (3, 1), (1,)
    x, target = np.array(spec["data"]["x"]), np.array(spec["data"]["y"])   # (2, 3, 2), (2, 1)
    h = lstm.forward(x, True, None)                                   # (2, 3)
    out = h @ W + b
    loss = np.mean((out - target) ** 2)
    dout = 2 * (out - target) / out.size
    lstm.backward(dout @ W.T)
    want = expected["params"]
    np.testing.assert_allclose(loss, expected["loss"], rtol=1e-6)
    for k in ("Wx", "Wh", "b"):
        np.testing.assert_allclose(lstm.grads[k], want[f"lstm1.{k}"]["grad"], rtol=1e-6,
                                   atol=1e-12, err_msg=k)
    np.testing.assert_allclose(h.T @ dout, want["dense1.W"]["grad"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dout.sum(0), want["dense1.b"]["grad"], rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------- generators
def test_generators_registered():
    names = generator_names()
    assert "copy" in names and "chars" in names
    assert GENERATORS["copy"] is data_seq.copy_task and GENERATORS["chars"] is data_seq.chars


@given(T=st.integers(1, 9), F=st.integers(2, 6), samples=st.integers(1, 40),
       seed=st.integers(0, 1000), data=st.data())
@settings(max_examples=25, deadline=None)
def test_copy_task(T, F, samples, seed, data):
    delay = data.draw(st.integers(0, T - 1))
    opts = {"samples": samples, "delay": delay, "noise": 0.0}
    x, y = data_seq.copy_task(opts, (T, F), np.random.default_rng(seed))
    assert x.shape == (samples, T, F) and x.dtype == np.float64
    assert y.shape == (samples,) and y.dtype == np.int64
    assert set(np.unique(y)) <= set(range(F))
    step = T - 1 - delay
    np.testing.assert_array_equal(x[:, step].argmax(1), y)
    np.testing.assert_array_equal(x.sum(axis=(1, 2)), 1.0)          # one symbol, blanks elsewhere
    x2, y2 = data_seq.copy_task(opts, (T, F), np.random.default_rng(seed))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_copy_defaults_noise_and_errors():
    x, y = data_seq.copy_task({"samples": 60, "noise": 0.2, "classes": 3}, (5, 4),
                              np.random.default_rng(0))
    np.testing.assert_array_equal(x[:, 0].argmax(1), y)              # default delay T-1
    np.testing.assert_array_equal(np.bincount(y), [20, 20, 20])      # balanced, classes used
    assert x[:, 1:].std() > 0.1                                      # noise on the blank steps
    with pytest.raises(TuinnError, match="delay"):
        data_seq.copy_task({"delay": 5}, (5, 4), np.random.default_rng(0))
    with pytest.raises(TuinnError, match="classes"):
        data_seq.copy_task({"classes": 5}, (5, 4), np.random.default_rng(0))
    with pytest.raises(TuinnError, match=r"time, features"):
        data_seq.copy_task({}, (5,), np.random.default_rng(0))


def test_chars_corpus_and_windows():
    vocab = data_seq.vocabulary()
    assert vocab == "".join(sorted(set(data_seq.CORPUS))) and len(set(vocab)) == len(vocab)
    assert 200 <= len(data_seq.CORPUS) and 10 <= len(vocab) <= 40
    V, T = len(vocab), 12
    x, y = data_seq.chars({"samples": 50}, (T, V), np.random.default_rng(4))
    assert x.shape == (50, T, V) and y.shape == (50,) and y.dtype == np.int64
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)
    for xi, yi in zip(x, y):
        window = "".join(vocab[k] for k in xi.argmax(1)) + vocab[yi]
        assert window in data_seq.CORPUS
    x2, y2 = data_seq.chars({"samples": 50}, (T, V), np.random.default_rng(4))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_chars_tells_the_right_input_size():
    V = len(data_seq.vocabulary())
    with pytest.raises(TuinnError) as err:
        data_seq.chars({}, (8, V + 1), np.random.default_rng(0))
    assert f"[8, {V}]" in str(err.value)
    with pytest.raises(TuinnError, match="timesteps"):
        data_seq.chars({}, (len(data_seq.CORPUS), V), np.random.default_rng(0))


@pytest.mark.parametrize("cell", CELLS)
def test_copy_task_learns(cell):
    """A small recurrent net trained with plain SGD remembers a symbol across 4 steps."""
    rng = np.random.default_rng(0)
    x, y = data_seq.copy_task({"samples": 64, "delay": 4, "noise": 0.0}, (5, 3), rng)
    layer = make(cell, T=5, I=3, H=8, seed=0, scale=0.5)
    W = rng.normal(0, 0.5, (8, 3))
    for _ in range(300):
        h = layer.forward(x, True, None)
        s = h @ W
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        gW = h.T @ d
        layer.backward(d @ W.T)
        W -= 0.5 * gW
        for k, v in layer.params.items():
            v -= 0.5 * layer.grads[k]
    assert (s.argmax(1) == y).mean() == 1.0
