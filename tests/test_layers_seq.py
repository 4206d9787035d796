"""Tests gelu, embedding, position, layernorm, batchnorm, seq_pool and skipgram: each
against tests/naive_seq.py and centred finite differences in float64 over random
shapes, and float32 against float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_network as nn
import naive_seq as naive
from tuinn.engine.layers.base import LAYERS, build_layer
from tuinn.errors import TuinnError
from tuinn.scenario.spec import LayerSpec

SETTINGS = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**31 - 1)
dims = st.integers(1, 4)


def make(type_, in_shape, dtype=np.float64, seed=0, **options):
    spec = LayerSpec(type_, f"{type_}1", options)
    return build_layer(spec, tuple(in_shape), np.random.default_rng(seed), dtype)


def fd_check(layer, x, seed, train=True, dx_expected=True):
    """dx (where the input is not ids) and every param grad of L = sum(y * G) against
    centred differences; returns (y, dx, grads, G)."""
    y = layer.forward(x, train, None).copy()
    G = np.random.default_rng(seed + 1).normal(size=y.shape)

    def loss():
        return float(np.sum(layer.forward(x, train, None) * G))

    layer.forward(x, train, None)
    dx = layer.backward(G.copy())
    dx = None if dx is None else np.array(dx, copy=True)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    if dx_expected:
        np.testing.assert_allclose(dx, nn.numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    else:
        assert dx is None                         # ids have no gradient
    for k, p in layer.params.items():
        np.testing.assert_allclose(grads[k], nn.numeric_grad(loss, p), rtol=1e-6, atol=1e-8,
                                   err_msg=k)
    return y, dx, grads, G


def test_registered_with_the_contract_params():
    for kind in ("gelu", "embedding", "position", "layernorm", "batchnorm", "seq_pool",
                 "skipgram"):
        assert kind in LAYERS
    assert set(make("embedding", (3,), vocab=5, dim=2).params) == {"W"}
    assert make("embedding", (3,), vocab=5, dim=2).params["W"].shape == (5, 2)
    assert make("position", (3, 4)).params["P"].shape == (3, 4)
    ln = make("layernorm", (3, 4))
    assert list(ln.params) == ["gamma", "beta"] and ln.l2_params() == []
    np.testing.assert_array_equal(ln.params["gamma"], np.ones(4))
    np.testing.assert_array_equal(ln.params["beta"], np.zeros(4))
    bn = make("batchnorm", (2, 3, 3))
    assert bn.params["gamma"].shape == (2,) and bn.l2_params() == []
    np.testing.assert_array_equal(bn.running["running_mean"], [0, 0])
    np.testing.assert_array_equal(bn.running["running_var"], [1, 1])
    assert make("batchnorm", (5, 3)).params["gamma"].shape == (3,)      # (T, C): last axis
    sg = make("skipgram", (2,), vocab=4, dim=3)
    assert sg.out_shape == (1,) and sorted(sg.l2_params()) == ["W_in", "W_out"]
    assert make("position", (3, 4)).l2_params() == []
    assert make("seq_pool", (3, 4), mode="max").out_shape == (4,)


def test_default_inits_follow_the_contract():
    W = make("embedding", (2,), vocab=400, dim=300, seed=1).params["W"]
    assert abs(W.std() - 1.0) < 0.01
    P = make("position", (300, 400), seed=1).params["P"]
    assert abs(P.std() - 0.02) < 0.001
    S = make("skipgram", (2,), vocab=400, dim=300, seed=1).params["W_in"]
    assert abs(S.std() - 0.1) < 0.002


# ------------------------------------------------------------------ gelu
@SETTINGS
@given(st.lists(dims, min_size=1, max_size=3), seeds)
def test_gelu_fd_and_naive(shape, seed):
    x = np.random.default_rng(seed).normal(size=(2, *shape)) * 2
    layer = make("gelu", shape)
    y, dx, _, G = fd_check(layer, x, seed)
    np.testing.assert_allclose(y, naive.gelu(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, naive.gelu_grad(x, G), rtol=1e-12, atol=1e-14)


def test_gelu_known_values_and_extremes():
    layer = make("gelu", (5,))
    y = layer.forward(np.array([[-40.0, -1.0, 0.0, 1.0, 40.0]]), True, None)
    np.testing.assert_allclose(y, [[0.0, -0.15865525393145707, 0.0, 0.8413447460685429, 40.0]],
                               rtol=1e-14, atol=1e-300)


# ------------------------------------------------------------------ layernorm
@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 5), seeds)
def test_layernorm_fd_and_naive(n, t, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d)) * 3 + 1
    layer = make("layernorm", (t, d), eps=1e-5)
    layer.params["gamma"][...] = rng.normal(size=d)
    layer.params["beta"][...] = rng.normal(size=d)
    y, dx, grads, G = fd_check(layer, x, seed)
    g, b = layer.params["gamma"], layer.params["beta"]
    np.testing.assert_allclose(y, naive.layernorm(x, g, b, 1e-5), rtol=1e-12, atol=1e-12)
    ndx, ndg, ndb = naive.layernorm_grads(x, g, 1e-5, G)
    np.testing.assert_allclose(dx, ndx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["gamma"], ndg, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["beta"], ndb, rtol=1e-12, atol=1e-12)


def test_layernorm_flat_features_and_eps():
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    y = make("layernorm", (4,), eps=0.5).forward(x, True, None)
    np.testing.assert_allclose(y, (x - 2.5) / np.sqrt(1.25 + 0.5))


# ------------------------------------------------------------------ batchnorm
BN_SHAPES = st.sampled_from([(3,), (2, 3), (2, 3, 2), (1, 2, 3)])


@SETTINGS
@given(BN_SHAPES, st.integers(2, 4), seeds, st.booleans())
def test_batchnorm_fd_and_naive(shape, n, seed, train):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)) * 2 + 0.5
    layer = make("batchnorm", shape, momentum=0.3)
    c = layer.channels
    layer.params["gamma"][...] = rng.normal(size=c)
    layer.params["beta"][...] = rng.normal(size=c)
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    layer.running["running_mean"][...] = rm0
    layer.running["running_var"][...] = rv0
    y, dx, grads, G = fd_check(layer, x, seed, train=train)
    want, _, _ = naive.batchnorm(x, layer.params["gamma"], layer.params["beta"], 1e-5,
                                 rm0, rv0, 0.3, train)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    if not train:                                     # evaluation never moves the buffers
        np.testing.assert_array_equal(layer.running["running_mean"], rm0)
        np.testing.assert_array_equal(layer.running["running_var"], rv0)
        assert layer.mode == "eval"


@pytest.mark.parametrize("shape", [(3,), (4, 3), (3, 2, 2)])
def test_batchnorm_running_statistics_as_pytorch(shape):
    rng = np.random.default_rng(5)
    layer = make("batchnorm", shape, momentum=0.25)
    rm, rv = np.zeros(layer.channels), np.ones(layer.channels)
    for _ in range(3):
        x = rng.normal(size=(5, *shape)) * 3 + 2
        y = layer.forward(x, True, None)
        want, rm, rv = naive.batchnorm(x, 1.0, 0.0, 1e-5, rm, rv, 0.25, True)
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.running["running_mean"], rm, rtol=1e-13)
        np.testing.assert_allclose(layer.running["running_var"], rv, rtol=1e-13)
    x = rng.normal(size=(2, *shape))
    want, _, _ = naive.batchnorm(x, 1.0, 0.0, 1e-5, rm, rv, 0.25, False)
    np.testing.assert_allclose(layer.forward(x, False, None), want, rtol=1e-12, atol=1e-12)


def test_batchnorm_one_value_per_channel_uses_the_biased_variance():
    layer = make("batchnorm", (2,), momentum=0.5)
    y = layer.forward(np.array([[3.0, -1.0]]), True, None)
    np.testing.assert_array_equal(y, [[0.0, 0.0]])
    np.testing.assert_allclose(layer.running["running_var"], [0.5, 0.5])
    np.testing.assert_allclose(layer.running["running_mean"], [1.5, -0.5])


def test_batchnorm_rejects_other_ranks():
    with pytest.raises(TuinnError, match="batchnorm needs"):
        make("batchnorm", (1, 2, 3, 4))


# ------------------------------------------------------------------ embedding
@SETTINGS
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), seeds)
def test_embedding_fd_and_naive(n, t, vocab, dim, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(n, t)).astype(np.float64)
    layer = make("embedding", (t,), vocab=vocab, dim=dim, seed=seed)
    y, _, grads, G = fd_check(layer, ids, seed, dx_expected=False)
    np.testing.assert_array_equal(y, naive.embedding(ids, layer.params["W"]))
    np.testing.assert_allclose(grads["W"], naive.embedding_grad(ids, G, vocab), rtol=1e-13,
                               atol=1e-14)


@pytest.mark.parametrize("bad", [-1.0, 5.0, 1.5, np.nan, np.inf])
def test_embedding_refuses_a_bad_id_by_name(bad):
    layer = make("embedding", (3,), vocab=5, dim=2)
    x = np.array([[0.0, 1.0, 2.0], [3.0, bad, 4.0]])
    with pytest.raises(TuinnError, match=r"row 1, position 1.*\[0, 5\)"):
        layer.forward(x, True, None)


def test_embedding_needs_ids_input():
    with pytest.raises(TuinnError, match=r"input = \[T\]"):
        make("embedding", (3, 2), vocab=5, dim=2)
    with pytest.raises(TuinnError, match="too large for float32 ids"):
        make("embedding", (3,), np.float32, vocab=2 ** 24 + 1, dim=1)


# ------------------------------------------------------------------ position
@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), seeds)
def test_position_fd_and_naive(n, t, d, seed):
    x = np.random.default_rng(seed).normal(size=(n, t, d))
    layer = make("position", (t, d), seed=seed)
    y, dx, grads, G = fd_check(layer, x, seed)
    np.testing.assert_allclose(y, x + layer.params["P"][None], rtol=1e-15)
    np.testing.assert_allclose(grads["P"], G.sum(axis=0), rtol=1e-13)
    np.testing.assert_array_equal(dx, G)


# ------------------------------------------------------------------ seq_pool
@SETTINGS
@given(st.sampled_from(["mean", "max", "last"]), st.integers(1, 3), st.integers(1, 5),
       st.integers(1, 4), seeds)
def test_seq_pool_fd_and_naive(mode, n, t, d, seed):
    x = np.random.default_rng(seed).normal(size=(n, t, d))
    layer = make("seq_pool", (t, d), mode=mode)
    y, dx, _, G = fd_check(layer, x, seed)
    np.testing.assert_allclose(y, naive.seq_pool(x, mode), rtol=1e-13)
    np.testing.assert_allclose(dx, naive.seq_pool_grad(x, G, mode), rtol=1e-13)


def test_seq_pool_max_routes_to_the_first_maximum():
    layer = make("seq_pool", (3, 1), mode="max")
    x = np.array([[[2.0], [5.0], [5.0]]])
    np.testing.assert_array_equal(layer.forward(x, True, None), [[5.0]])
    np.testing.assert_array_equal(layer.backward(np.array([[1.0]])), [[[0.0], [1.0], [0.0]]])
    assert np.isnan(layer.forward(np.array([[[1.0], [np.nan], [3.0]]]), True, None)[0, 0])


# ------------------------------------------------------------------ skipgram
@SETTINGS
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), seeds)
def test_skipgram_fd_and_naive(n, vocab, dim, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(n, 2)).astype(np.float64)
    layer = make("skipgram", (2,), vocab=vocab, dim=dim, seed=seed)
    y, _, grads, G = fd_check(layer, ids, seed, dx_expected=False)
    Wi, Wo = layer.params["W_in"], layer.params["W_out"]
    np.testing.assert_allclose(y, naive.skipgram(ids, Wi, Wo), rtol=1e-13)
    ndi, ndo = naive.skipgram_grads(ids, Wi, Wo, G)
    np.testing.assert_allclose(grads["W_in"], ndi, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grads["W_out"], ndo, rtol=1e-13, atol=1e-15)


def test_skipgram_needs_pairs():
    with pytest.raises(TuinnError, match=r"input = \[2\]"):
        make("skipgram", (3,), vocab=4, dim=2)
    layer = make("skipgram", (2,), vocab=4, dim=2)
    with pytest.raises(TuinnError, match=r"id 4 at row 0, position 1"):
        layer.forward(np.array([[0.0, 4.0]]), True, None)


# ------------------------------------------------------------------ float32
CASES = [("gelu", (3, 4), {}, "normal"), ("layernorm", (3, 4), {}, "normal"),
         ("batchnorm", (2, 3, 3), {}, "normal"), ("batchnorm", (3, 4), {}, "normal"),
         ("position", (3, 4), {}, "normal"), ("seq_pool", (3, 4), {"mode": "max"}, "normal"),
         ("embedding", (3,), {"vocab": 6, "dim": 4}, "ids"),
         ("skipgram", (2,), {"vocab": 6, "dim": 4}, "ids")]


@pytest.mark.parametrize("kind,shape,opts,data", CASES, ids=[c[0] for c in CASES])
def test_float32_agrees_with_float64(kind, shape, opts, data):
    rng = np.random.default_rng(2)
    x = (rng.integers(0, 6, size=(5, *shape)).astype(float) if data == "ids"
         else rng.normal(size=(5, *shape)))
    a = make(kind, shape, np.float64, seed=4, **opts)
    b = make(kind, shape, np.float32, seed=4, **opts)
    for k in a.params:
        assert b.params[k].dtype == np.float32
        b.params[k][...] = a.params[k]
    ya = a.forward(x, True, None)
    yb = b.forward(x.astype(np.float32), True, None)
    assert yb.dtype == np.float32
    np.testing.assert_allclose(yb, ya, rtol=1e-4, atol=1e-5)
    G = rng.normal(size=ya.shape)
    da, db = a.backward(G), b.backward(G.astype(np.float32))
    if da is not None:
        assert db.dtype == np.float32
        np.testing.assert_allclose(db, da, rtol=1e-4, atol=1e-4)
    for k in a.grads:
        assert b.grads[k].dtype == np.float32
        np.testing.assert_allclose(b.grads[k], a.grads[k], rtol=1e-4, atol=1e-4)
