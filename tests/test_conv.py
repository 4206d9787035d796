"""Tests for conv2d / maxpool / avgpool: kernels vs naive loops and finite differences,
window-by-window helpers, receptive fields, routing, image generators, and the
conv-mse-sgd contract case."""

from __future__ import annotations

import json

try:
    import tomllib
except ImportError:                      # Python 3.10
    import tomli as tomllib

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import naive_conv as naive
from conftest import CONTRACT
from naive_conv import assert_grad_close, numeric_grad
from tuinn.engine import conv_steps as cs
from tuinn.engine.layers.conv import AvgPool, Conv2D, MaxPool
from tuinn.errors import TuinnError
from tuinn.scenario import data_images

SETTINGS = settings(max_examples=25, deadline=None)


def conv_layer(C, H, W, F, K, S=1, P=0, seed=0, dtype=np.float64, name="conv2d1"):
    opts = {"filters": F, "kernel": K, "stride": S, "padding": P, "init": "normal",
            "init_std": 1.0}
    layer = Conv2D(name, opts, (C, H, W), np.random.default_rng(seed), dtype)
    layer.params["b"][:] = np.random.default_rng(seed + 1).standard_normal(F)
    return layer


def pool_layer(kind, C, H, W, Z, S=None):
    cls = MaxPool if kind == "max" else AvgPool
    return cls(f"{kind}pool1", {"size": Z, "stride": S}, (C, H, W),
               np.random.default_rng(0), np.float64)


def distinct(rng, shape):
    """Values at least 0.1 apart (no ties for max pooling, safe for finite differences)."""
    v = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    return v - v.mean() + rng.uniform(-0.01, 0.01, size=shape)


@st.composite
def conv_cases(draw):
    K = draw(st.integers(1, 4))
    S = draw(st.integers(1, 3))
    P = draw(st.integers(0, 2))
    H = draw(st.integers(1, 8))
    W = draw(st.integers(1, 8))
    assume(naive.out_size(H, K, P, S) >= 1 and naive.out_size(W, K, P, S) >= 1)
    return dict(N=draw(st.integers(1, 3)), C=draw(st.integers(1, 3)), H=H, W=W,
                F=draw(st.integers(1, 3)), K=K, S=S, P=P, seed=draw(st.integers(0, 99)))


@st.composite
def pool_cases(draw):
    Z = draw(st.integers(1, 3))
    S = draw(st.integers(1, 3))
    H = draw(st.integers(Z, 8))
    W = draw(st.integers(Z, 8))
    return dict(N=draw(st.integers(1, 3)), C=draw(st.integers(1, 3)), H=H, W=W, Z=Z, S=S,
                seed=draw(st.integers(0, 99)), kind=draw(st.sampled_from(["max", "avg"])))


def run_conv(c):
    rng = np.random.default_rng(c["seed"])
    layer = conv_layer(c["C"], c["H"], c["W"], c["F"], c["K"], c["S"], c["P"], c["seed"])
    x = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    y = layer.forward(x, True, rng).copy()
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy).copy()
    return layer, x, y, dy, dx


# ------------------------------------------------------------------- conv2d

@SETTINGS
@given(conv_cases())
def test_conv_matches_naive(c):
    layer, x, y, dy, dx = run_conv(c)
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(y, naive.conv2d_forward(x, W, b, c["S"], c["P"]),
                               rtol=1e-12, atol=1e-12)
    ndx, ndW, ndb = naive.conv2d_backward(x, W, dy, c["S"], c["P"])
    np.testing.assert_allclose(dx, ndx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], ndW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], ndb, rtol=1e-12, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(conv_cases())
def test_conv_finite_differences(c):
    layer, x, y, dy, dx = run_conv(c)
    rng = np.random.default_rng(0)

    def loss():
        return float(np.sum(layer.forward(x, True, rng) * dy))

    W, b = layer.params["W"], layer.params["b"]
    dW, db = layer.grads["W"].copy(), layer.grads["b"].copy()
    for analytic, arr in ((dx, x), (dW, W), (db, b)):
        assert_grad_close(numeric_grad(loss, arr), analytic)


def test_conv_float32_and_buffers():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2, 9, 7))
    l64 = conv_layer(2, 9, 7, 3, 3, 2, 1)
    l32 = conv_layer(2, 9, 7, 3, 3, 2, 1, dtype=np.float32)
    l32.params["W"][:] = l64.params["W"]
    l32.params["b"][:] = l64.params["b"]
    y64, y32 = l64.forward(x, True, rng), l32.forward(x, True, rng)
    assert y32.dtype == np.float32 and y32.shape == (4, 3, 5, 4)
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y64.shape)
    dx32 = l32.backward(dy)
    assert dx32.dtype == np.float32 and l32.grads["W"].dtype == np.float32
    np.testing.assert_allclose(dx32, l64.backward(dy), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(l32.grads["W"], l64.grads["W"], rtol=1e-4, atol=1e-3)
    # same shapes: the same buffers come back; the grads arrays keep their identity
    gW = l64.grads["W"]
    assert l64.forward(x, True, rng) is y64
    l64.backward(dy)
    assert l64.grads["W"] is gW
    assert l64.substeps() == 5 * 4


def test_conv_first_layer_skips_dx():
    layer, x, y, dy, dx = run_conv(dict(N=2, C=2, H=6, W=5, F=3, K=3, S=1, P=1, seed=4))
    dW = layer.grads["W"].copy()
    layer.need_dx = False
    assert layer.backward(dy) is None
    np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-12)


def test_output_size_below_one_is_a_user_error():
    with pytest.raises(TuinnError) as e:
        conv_layer(1, 3, 3, 2, 5)
    msg = str(e.value)
    assert "conv2d1" in msg and "floor((3 - 5 + 2*0) / 1) + 1 = -1" in msg
    with pytest.raises(TuinnError, match=r"maxpool1.*floor\(\(2 - 3 \+ 2\*0\) / 3\)"):
        pool_layer("max", 1, 2, 2, 3)
    with pytest.raises(TuinnError, match="channels, height, width"):
        Conv2D("conv2d1", {"filters": 1, "kernel": 1}, (4,), np.random.default_rng(), np.float64)
    # a non-integer fit is floored, not an error: (6 - 3 + 0) / 2 + 1 -> 2
    assert conv_layer(1, 6, 6, 1, 3, S=2).out_shape == (1, 2, 2)


# -------------------------------------------------------------------- pools

def run_pool(c):
    rng = np.random.default_rng(c["seed"])
    layer = pool_layer(c["kind"], c["C"], c["H"], c["W"], c["Z"], c["S"])
    x = distinct(rng, (c["N"], c["C"], c["H"], c["W"]))
    y = layer.forward(x, True, rng).copy()
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy).copy()
    return layer, x, y, dy, dx


@SETTINGS
@given(pool_cases())
def test_pool_matches_naive_and_finite_differences(c):
    layer, x, y, dy, dx = run_pool(c)
    ny, _ = naive.pool_forward(x, c["Z"], c["S"], c["kind"])
    np.testing.assert_allclose(y, ny, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, naive.pool_backward(x, dy, c["Z"], c["S"], c["kind"]),
                               rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(0)
    num = numeric_grad(lambda: float(np.sum(layer.forward(x, True, rng) * dy)), x)
    assert_grad_close(num, dx)


def test_maxpool_routes_gradient_to_the_winner():
    x = np.array([[[[1., 5., 2., 0.],
                    [3., 4., 8., 1.],
                    [0., 0., 2., 2.],
                    [9., 1., 2., 7.]]]])
    layer = pool_layer("max", 1, 4, 4, 2)
    y = layer.forward(x, True, None)
    np.testing.assert_array_equal(y[0, 0], [[5., 8.], [9., 7.]])
    dx = layer.backward(np.array([[[[10., 20.], [30., 40.]]]]))
    want = np.zeros((4, 4))
    want[0, 1], want[1, 2], want[3, 0], want[3, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], want)
    # overlapping windows (stride 1): the shared winner collects both gradients
    layer = pool_layer("max", 1, 2, 3, 2, 1)
    layer.forward(np.array([[[[1., 9., 2.], [0., 3., 4.]]]]), True, None)
    dx = layer.backward(np.array([[[[1., 2.]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[0., 3., 0.], [0., 0., 0.]])
    # a NaN wins its window, so the debugger sees it downstream
    layer = pool_layer("max", 1, 2, 2, 2)
    y = layer.forward(np.array([[[[1., np.nan], [7., 2.]]]]), True, None)
    assert np.isnan(y[0, 0, 0, 0]) and layer.cache["argmax"][0, 0, 0, 0] == 1
    y = layer.forward(np.array([[[[1., 9.], [np.nan, np.nan]]]]), True, None)
    assert np.isnan(y[0, 0, 0, 0]) and layer.cache["argmax"][0, 0, 0, 0] == 2   # the first
    # average pooling spreads 1/size**2
    layer = pool_layer("avg", 1, 2, 2, 2)
    layer.forward(np.ones((1, 1, 2, 2)), True, None)
    np.testing.assert_array_equal(layer.backward(np.array([[[[8.]]]]))[0, 0], [[2., 2.], [2., 2.]])


# ------------------------------------------------------------ window helpers

@settings(max_examples=15, deadline=None)
@given(conv_cases())
def test_conv_windows_reproduce_outputs_and_grads(c):
    layer, x, y, dy, dx = run_conv(c)
    count = layer.substeps()
    prev = None
    for k in range(count):
        w = cs.window(layer, k)
        np.testing.assert_allclose(w["result"], y[0, :, w["oh"], w["ow"]], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(w["result"], w["y"], rtol=1e-12, atol=1e-12)
        r0, r1 = w["rows"]
        assert r1 - r0 == c["K"] and w["patch"].shape == (c["C"], c["K"], c["K"])
        bw = cs.backward_window(layer, k)
        if prev is not None:   # each window adds exactly its own contribution
            np.testing.assert_allclose(bw["dW"] - prev["dW"], bw["dW_step"], atol=1e-12)
            np.testing.assert_allclose(bw["db"] - prev["db"], bw["db_step"], atol=1e-12)
            step = bw["dX_padded"][0] - prev["dX_padded"][0]
            c0, c1 = bw["cols"]
            np.testing.assert_allclose(step[:, r0:r1, c0:c1], bw["dX_step_padded"], atol=1e-12)
        prev = bw
    np.testing.assert_allclose(prev["dW"], layer.grads["W"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prev["db"], layer.grads["b"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prev["dX"], dx, rtol=1e-12, atol=1e-12)


def test_conv_window_details():
    layer = conv_layer(2, 5, 5, 3, 3, S=2, P=1)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    y = layer.forward(x, True, None)
    w = cs.window(layer, 4)                       # OW = 3: position (1, 1)
    assert (w["oh"], w["ow"], w["count"]) == (1, 1, 9)
    assert w["rows"] == (2, 5) and w["cols"] == (2, 5)
    assert w["input_padded"].shape == (2, 7, 7)
    np.testing.assert_array_equal(w["patch"], x[0, :, 1:4, 1:4])
    np.testing.assert_allclose(w["products"][1], x[0, :, 1:4, 1:4] * layer.params["W"][1])
    np.testing.assert_allclose(w["sums"] + w["bias"], y[0, :, 1, 1], rtol=1e-12)
    assert w["formula"] == {"H": 5, "W": 5, "K": 3, "P": 1, "S": 2, "OH": 3, "OW": 3}
    w0 = cs.window(layer, 0)                      # the corner window reads the zero padding
    assert np.all(w0["patch"][:, 0, :] == 0) and np.all(w0["patch"][:, :, 0] == 0)
    with pytest.raises(IndexError):
        cs.window(layer, 9)
    assert cs.conv_output_size(5, 3, 1, 2) == 3 and cs.conv_output_size(28, 3, 1, 1) == 28


@SETTINGS
@given(pool_cases())
def test_pool_windows(c):
    layer, x, y, dy, dx = run_pool(c)
    _, winners = naive.pool_forward(x, c["Z"], c["S"], c["kind"])
    last = None
    for k in range(layer.substeps()):
        w = cs.pool_window(layer, k)
        oh, ow = w["oh"], w["ow"]
        np.testing.assert_array_equal(w["result"], y[0, :, oh, ow])
        if c["kind"] == "max":
            np.testing.assert_array_equal(w["winner"], winners[0, :, oh, ow])
            np.testing.assert_array_equal(w["input"].max(axis=(1, 2)), w["result"])
            assert np.all(w["mask"].sum(axis=(1, 2)) == 1)
        else:
            np.testing.assert_allclose(np.sum(w["input"] * w["mask"], axis=(1, 2)), w["result"],
                                       rtol=1e-12)
            assert w["weight"] == 1 / c["Z"] ** 2
        last = cs.pool_backward_window(layer, k)
        np.testing.assert_allclose(last["dX_step"].sum(axis=(1, 2)), dy[0, :, oh, ow], atol=1e-12)
    np.testing.assert_allclose(last["dX"], dx, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------- receptive field

def stack(*specs, C=1, H=12, W=12):
    """Build layers in order from ("conv", K, S, P) / ("max"|"avg", Z, S) tuples."""
    layers, shape = [], (C, H, W)
    for i, s in enumerate(specs):
        if s[0] == "conv":
            layer = conv_layer(shape[0], shape[1], shape[2], 2, s[1], s[2], s[3], seed=i,
                               name=f"conv2d{i + 1}")
        else:
            layer = pool_layer(s[0], shape[0], shape[1], shape[2], s[1], s[2])
        layers.append(layer)
        shape = layer.out_shape
    return layers


def test_receptive_field_of_two_3x3_convs_is_5x5():
    layers = stack(("conv", 3, 1, 0), ("conv", 3, 1, 0))
    rf = cs.receptive_field(layers, 1, 2, 3)
    assert tuple(rf) == (2, 7, 3, 8) and rf.size == (5, 5)
    assert cs.receptive_field(layers, 0, 2, 3).size == (3, 3)
    # padding 1 shifts the window up-left and the corner is clipped to the image
    padded = stack(("conv", 3, 1, 1), ("conv", 3, 1, 1))
    assert tuple(cs.receptive_field(padded, 1, 0, 0)) == (0, 3, 0, 3)
    assert cs.receptive_field(padded, 1, 5, 5).size == (5, 5)
    # conv 3 -> pool 2 -> conv 3: 3, then 4, then 4 + 2 * 2 = 8
    assert cs.receptive_field(stack(("conv", 3, 1, 0), ("max", 2, 2), ("conv", 3, 1, 0)),
                              2, 0, 0).size == (8, 8)


def test_receptive_field_through_a_residual_block():
    pytest.importorskip("tuinn.engine.layers.residual")
    pytest.importorskip("tuinn.engine.layers.elementwise")     # registers relu
    from tuinn.engine.layers.base import build_layer
    from tuinn.scenario.spec import LayerSpec
    conv = {"filters": 2, "kernel": 3, "padding": 1}
    spec = LayerSpec("residual", "residual1", layers=[
        LayerSpec("conv2d", "conv2d1", dict(conv)), LayerSpec("relu", "relu1"),
        LayerSpec("conv2d", "conv2d2", dict(conv))])
    block = build_layer(spec, (2, 12, 12), np.random.default_rng(0), np.float64)
    rf = cs.receptive_field([block], 0, 5, 5)
    assert tuple(rf) == (3, 8, 3, 8)                   # f's two 3x3 convs: 5x5
    first = stack(("conv", 3, 1, 1), C=1)             # (1, 12, 12) -> (2, 12, 12)
    assert cs.receptive_field(first + [block], 1, 5, 5).size == (7, 7)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1)),
    st.tuples(st.just("avg"), st.integers(1, 2), st.integers(1, 2))), min_size=1, max_size=3),
    st.integers(0, 50), st.integers(0, 50))
def test_receptive_field_is_the_support_of_the_gradient(specs, a, b):
    """Backpropagate a one-hot output gradient: the input pixels it reaches are the field."""
    try:
        layers = stack(*specs, H=11, W=11)
    except TuinnError:
        assume(False)
    x = np.random.default_rng(0).standard_normal((1, 1, 11, 11))
    for layer in layers:
        x = layer.forward(x, True, None)
    oh, ow = a % x.shape[2], b % x.shape[3]
    g = np.zeros(x.shape)
    g[0, 0, oh, ow] = 1.0
    for layer in reversed(layers):
        g = layer.backward(g)
    rows, cols = np.nonzero(np.any(g[0] != 0, axis=0))
    rf = cs.receptive_field(layers, len(layers) - 1, oh, ow)
    if rows.size == 0:                     # a window over padding only: an empty field
        assert rf.height == 0 or rf.width == 0
        return
    assert rows.min() >= rf.row0 and rows.max() < rf.row1
    assert cols.min() >= rf.col0 and cols.max() < rf.col1
    # the field is tight when every window adds (no zero weights here, no max routing)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == tuple(rf)


# -------------------------------------------------------------- generators

def test_bars_generator():
    x, y = data_images.bars({"samples": 40, "noise": 0.0}, (1, 6, 6), np.random.default_rng(0))
    assert x.shape == (40, 1, 6, 6) and x.dtype == np.float64 and y.dtype == np.int64
    assert sorted(np.bincount(y)) == [20, 20]
    for img, label in zip(x[:, 0], y):
        axis = 1 if label == 0 else 0          # a horizontal bar fills one whole row
        assert np.sum(np.all(img == 1, axis=axis)) == 1 and img.sum() == 6
    xn, _ = data_images.bars({"samples": 40, "noise": 0.5}, (1, 6, 6), np.random.default_rng(0))
    assert 0.3 < np.std(xn - x) < 0.7
    with pytest.raises(TuinnError, match="2 classes"):
        data_images.bars({"classes": 3}, (1, 6, 6), np.random.default_rng(0))
    with pytest.raises(TuinnError, match="channels, height, width"):
        data_images.bars({}, (36,), np.random.default_rng(0))


def test_shapes_generator():
    opts = {"samples": 70, "classes": 7, "noise": 0.0}
    x, y = data_images.shapes(opts, (2, 10, 9), np.random.default_rng(1))
    assert x.shape == (70, 2, 10, 9) and y.dtype == np.int64
    assert np.all(np.bincount(y) == 10)
    assert np.all(x[:, 0] == x[:, 1])                      # every channel holds the shape
    assert set(np.unique(x)) <= {0.0, 1.0} and np.all(x.sum(axis=(1, 2, 3)) > 0)
    x2, y2 = data_images.shapes(opts, (2, 10, 9), np.random.default_rng(1))
    np.testing.assert_array_equal(x, x2)                   # the seed decides everything
    with pytest.raises(TuinnError, match="classes must be 2..7"):
        data_images.shapes({"classes": 8}, (1, 8, 8), np.random.default_rng(0))
    with pytest.raises(TuinnError, match=">= 5"):
        data_images.shapes({}, (1, 4, 4), np.random.default_rng(0))


# ---------------------------------------------------------------- contract

def test_contract_conv_mse_sgd():
    spec = tomllib.loads((CONTRACT / "conv-mse-sgd.toml").read_text())
    expected = json.loads((CONTRACT / "conv-mse-sgd.expected.json").read_text())["history"][0]
    params = {k: np.array(v, dtype=np.float64) for k, v in spec["params"].items()}
    x = np.array(spec["data"]["x"])                        # (2, 1, 4, 4)
    target = np.array(spec["data"]["y"])                   # (2, 1)
    conv_opts = {k: v for k, v in spec["model"]["layers"][0].items() if k != "type"}
    conv = Conv2D("conv2d1", conv_opts, tuple(spec["model"]["input"]),
                  np.random.default_rng(0), np.float64)
    conv.params["W"][...] = params["conv2d1.W"]
    conv.params["b"][...] = params["conv2d1.b"]
    Wd, bd = params["dense1.W"], params["dense1.b"]        # (18, 1), (1,)
    h = conv.forward(x, True, None)                        # (2, 2, 3, 3)
    r = np.maximum(h, 0)
    flat = r.reshape(len(x), -1)                           # (2, 18)
    out = flat @ Wd + bd
    loss = np.mean((out - target) ** 2)
    dout = 2 * (out - target) / out.size
    dflat = dout @ Wd.T
    dh = dflat.reshape(h.shape) * (h > 0)
    conv.backward(dh)
    np.testing.assert_allclose(loss, expected["loss"], rtol=1e-6)
    want = expected["params"]
    np.testing.assert_allclose(conv.grads["W"], want["conv2d1.W"]["grad"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], want["conv2d1.b"]["grad"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(flat.T @ dout, want["dense1.W"]["grad"], rtol=1e-6, atol=1e-12)
