"""Tests the dense, elementwise, dropout, flatten and residual layers against finite
differences and tests/naive_network.py, and the MLP contract case."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_network as naive
from tuinn.engine.layers.base import LAYERS, build_layer
from tuinn.engine.layers.dense import Dense
from tuinn.engine.layers.elementwise import Dropout
from tuinn.engine.layers.residual import Residual
from tuinn.engine.losses import Loss, add_l2_grad, l2_penalty
from tuinn.engine.optim import Optimizer
from tuinn.errors import TuinnError
from tuinn.scenario.spec import LayerSpec, LossSpec, OptimizerSpec

SETTINGS = settings(max_examples=25, deadline=None)
CONTRACT = pathlib.Path(__file__).parent / "contract" / "v1" / "mlp-softmax-l2-sgd.expected.json"


def make(type_, in_shape, name=None, dtype=np.float64, seed=0, **options):
    spec = LayerSpec(type_, name or f"{type_}1", options)
    return build_layer(spec, tuple(in_shape), np.random.default_rng(seed), dtype)


def fd_check(layer, x, seed=0, train=True):
    """dx and every param grad of L = sum(y * G) against centred differences."""
    rng = np.random.default_rng(seed)
    y = layer.forward(x, train, rng).copy()
    G = np.random.default_rng(seed + 1).normal(size=y.shape)

    def loss():
        return float(np.sum(layer.forward(x, train, np.random.default_rng(seed)) * G))

    layer.forward(x, train, np.random.default_rng(seed))
    dx = np.array(layer.backward(G.copy()), copy=True)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    for sub in layer.sublayers():
        grads.update({f"{sub.name}.{k}": g.copy() for k, g in sub.grads.items()})
    np.testing.assert_allclose(dx, naive.numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    targets = [(k, p) for k, p in layer.params.items()]
    for sub in layer.sublayers():
        targets += [(f"{sub.name}.{k}", p) for k, p in sub.params.items()]
    for k, p in targets:
        np.testing.assert_allclose(grads[k], naive.numeric_grad(loss, p), rtol=1e-6, atol=1e-8,
                                   err_msg=k)
    return y, dx, grads


shapes = st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6))
seeds = st.integers(0, 2**31 - 1)


# -------------------------------------------------------------------- dense
@SETTINGS
@given(shapes, seeds, st.sampled_from(["normal", "xavier", "he"]))
def test_dense_grads_fd_and_naive(shape, seed, init):
    n, i, o = shape
    layer = make("dense", (i,), units=o, init=init, init_std=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    layer.params["b"][...] = rng.normal(size=o)
    x = rng.normal(size=(n, i))
    y, dx, grads = fd_check(layer, x, seed)
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(y, naive.dense_forward(x, W, b), rtol=1e-12, atol=1e-12)
    G = np.random.default_rng(seed + 1).normal(size=y.shape)
    ndx, ndW, ndb = naive.dense_backward(x, W, G)
    np.testing.assert_allclose(dx, ndx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["W"], ndW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["b"], ndb, rtol=1e-12, atol=1e-12)


def test_dense_float32_matches_naive():
    layer = make("dense", (5,), units=4, dtype=np.float32)
    assert layer.params["W"].dtype == np.float32 and layer.params["b"].dtype == np.float32
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    y = layer.forward(x, True, rng)
    assert y.dtype == np.float32
    W = layer.params["W"].astype(np.float64)
    np.testing.assert_allclose(y, naive.dense_forward(x.astype(float), W, np.zeros(4)), rtol=1e-5,
                               atol=1e-5)
    dy = rng.normal(size=(7, 4)).astype(np.float32)
    dx = layer.backward(dy)
    ndx, ndW, _ = naive.dense_backward(x.astype(float), W, dy.astype(float))
    np.testing.assert_allclose(dx, ndx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.grads["W"], ndW, rtol=1e-5, atol=1e-5)


def test_dense_params_init_and_shapes():
    layer = make("dense", (3,), units=2, init="zeros")
    assert layer.out_shape == (2,) and layer.l2_params() == ["W"]
    assert layer.params["W"].shape == (3, 2) and not layer.params["W"].any()
    assert layer.params["b"].shape == (2,) and not layer.params["b"].any()
    assert set(layer.grads) == {"W", "b"} and layer.param_count() == 8
    he = make("dense", (400,), units=300, init="he", seed=1).params["W"]
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.01 * np.sqrt(2 / 400) * 5
    xa = make("dense", (400,), units=300, init="xavier", seed=1).params["W"]
    assert abs(xa.std() - np.sqrt(2 / 700)) < 0.05 * np.sqrt(2 / 700)
    no = make("dense", (400,), units=300, init="normal", init_std=0.3, seed=1).params["W"]
    assert abs(no.std() - 0.3) < 0.015
    same = make("dense", (400,), units=300, init="he", seed=1).params["W"]
    np.testing.assert_array_equal(he, same)


def test_dense_caches_and_reuses_buffers():
    layer = make("dense", (3,), units=2)
    x = np.ones((4, 3))
    y1 = layer.forward(x, True, None)
    assert layer.cache["x"] is x and layer.cache["y"] is y1
    y2 = layer.forward(2 * x, True, None)
    assert y2 is y1                                   # same batch shape: same buffer
    y3 = layer.forward(np.ones((5, 3)), True, None)
    assert y3.shape == (5, 2)
    layer.need_dx = False
    assert layer.backward(np.ones((5, 2))) is None
    np.testing.assert_allclose(layer.grads["b"], [5.0, 5.0])


def test_dense_rejects_unflattened_inputs():
    with pytest.raises(TuinnError, match="flatten"):
        make("dense", (1, 2, 3), units=4)                # an image; (T, F) is a sequence
    layer = make("dense", (6,), units=4)
    with pytest.raises(TuinnError, match="flatten"):
        layer.forward(np.ones((2, 2, 3)), True, None)
    with pytest.raises(TuinnError, match="units"):
        make("dense", (6,), units=0)


def test_build_layer_attaches_the_spec_line():
    spec = LayerSpec("dense", "dense1", {"units": 2}, line=12)
    with pytest.raises(TuinnError) as err:
        build_layer(spec, (1, 2, 2), np.random.default_rng(0), np.float64)
    assert err.value.line == 12


# ------------------------------------------------------------- elementwise
ELEMENTWISE = {
    "relu": (naive.relu, naive.relu_grad, {}),
    "leaky_relu": (lambda x: naive.leaky_relu(x, 0.1),
                   lambda x, dy: naive.leaky_relu_grad(x, dy, 0.1), {"slope": 0.1}),
    "sigmoid": (naive.sigmoid, naive.sigmoid_grad, {}),
    "tanh": (naive.tanh, naive.tanh_grad, {}),
}


@SETTINGS
@given(st.sampled_from(sorted(ELEMENTWISE)),
       st.lists(st.integers(1, 4), min_size=1, max_size=3), seeds)
def test_elementwise_fd_and_naive(kind, shape, seed):
    fwd, bwd, opts = ELEMENTWISE[kind]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *shape)) * 2
    x = np.where(np.abs(x) < 1e-3, 0.5, x)            # keep away from the kink at 0
    layer = make(kind, shape, **opts)
    y, dx, _ = fd_check(layer, x, seed)
    assert y.shape == x.shape and layer.out_shape == tuple(shape)
    np.testing.assert_allclose(y, fwd(x), rtol=1e-12, atol=1e-14)
    G = np.random.default_rng(seed + 1).normal(size=y.shape)
    np.testing.assert_allclose(dx, bwd(x, G), rtol=1e-12, atol=1e-14)
    assert layer.params == {} and layer.grads == {}


def test_elementwise_caches_for_views():
    x = np.array([[-1.0, 2.0, 0.0]])
    relu = make("relu", (3,))
    relu.forward(x, True, None)
    np.testing.assert_array_equal(relu.cache["mask"], [[0.0, 1.0, 0.0]])
    leaky = make("leaky_relu", (3,), slope=0.2)
    np.testing.assert_allclose(leaky.forward(x, True, None), [[-0.2, 2.0, 0.0]])
    np.testing.assert_allclose(leaky.cache["mask"], [[0.2, 1.0, 0.2]])
    sig = make("sigmoid", (3,))
    y = sig.forward(x, True, None)
    assert sig.cache["y"] is y
    np.testing.assert_allclose(y, naive.sigmoid(x))


def test_sigmoid_and_tanh_saturate_without_nan():
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    s = make("sigmoid", (5,)).forward(x, True, None)
    assert np.all(np.isfinite(s)) and s[0, 0] == 0.0 and s[0, -1] == 1.0 and s[0, 2] == 0.5
    t = make("tanh", (5,)).forward(x, True, None)
    np.testing.assert_allclose(t, np.tanh(x))


def test_elementwise_float32():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for kind, (fwd, bwd, opts) in ELEMENTWISE.items():
        layer = make(kind, (4,), dtype=np.float32, **opts)
        y = layer.forward(x, True, None)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, fwd(x.astype(float)), rtol=1e-6, atol=1e-6)
        dx = layer.backward(np.ones_like(x))
        np.testing.assert_allclose(dx, bwd(x.astype(float), np.ones((3, 4))), rtol=1e-5,
                                   atol=1e-6)


# ----------------------------------------------------------------- dropout
def test_dropout_fixed_mask_fd():
    layer = make("dropout", (3, 4), p=0.3)
    layer.freeze_mask = True
    x = np.random.default_rng(0).normal(size=(5, 3, 4))
    layer.forward(x, True, np.random.default_rng(9))    # draws the mask, then holds it
    mask = layer.cache["mask"].copy()
    y, dx, _ = fd_check(layer, x)
    np.testing.assert_array_equal(layer.cache["mask"], mask)
    np.testing.assert_allclose(y, naive.dropout(x, mask))
    assert set(np.unique(mask)) <= {0.0, 1.0 / 0.7}


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_and_scale(p):
    layer = make("dropout", (1000,), p=p)
    x = np.ones((200, 1000))
    y = layer.forward(x, True, np.random.default_rng(1))
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - p))
    assert abs(y.mean() - 1.0) < 0.02                 # inverted: the mean is kept
    dy = np.full_like(x, 2.0)
    np.testing.assert_allclose(layer.backward(dy), 2.0 * layer.cache["mask"])


def test_dropout_eval_identity_and_seeding():
    layer = make("dropout", (6,), p=0.5)
    x = np.arange(12.0).reshape(2, 6)
    assert layer.forward(x, False, None) is x
    dy = np.ones((2, 6))
    assert layer.backward(dy) is dy
    a = layer.forward(x, True, np.random.default_rng(5)).copy()
    b = layer.forward(x, True, np.random.default_rng(5)).copy()
    c = layer.forward(x, True, np.random.default_rng(6)).copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    zero = make("dropout", (6,), p=0.0)
    np.testing.assert_array_equal(zero.forward(x, True, np.random.default_rng(0)), x)
    with pytest.raises(TuinnError, match="p must be"):
        make("dropout", (6,), p=1.0)


def test_dropout_float32_sees_the_same_masks():
    x = np.ones((4, 8))
    a = make("dropout", (8,), p=0.5).forward(x, True, np.random.default_rng(2))
    b = make("dropout", (8,), p=0.5, dtype=np.float32).forward(
        x.astype(np.float32), True, np.random.default_rng(2))
    assert b.dtype == np.float32
    np.testing.assert_array_equal(a != 0, b != 0)


# ----------------------------------------------------------------- flatten
def test_flatten_roundtrip():
    layer = make("flatten", (2, 3, 4))
    assert layer.out_shape == (24,)
    x = np.random.default_rng(0).normal(size=(5, 2, 3, 4))
    y = layer.forward(x, True, None)
    np.testing.assert_array_equal(y, x.reshape(5, 24))
    dx = layer.backward(np.arange(5 * 24.0).reshape(5, 24))
    assert dx.shape == (5, 2, 3, 4)
    np.testing.assert_array_equal(dx.reshape(5, 24), np.arange(5 * 24.0).reshape(5, 24))
    fd_check(layer, x)


# ---------------------------------------------------------------- residual
def residual_spec(units, line=0):
    inner = [LayerSpec("dense", "dense2", {"units": units, "init": "normal", "init_std": 0.5}),
             LayerSpec("tanh", "tanh1"),
             LayerSpec("dense", "dense3", {"units": 4, "init": "normal", "init_std": 0.5})]
    return LayerSpec("residual", "block", {}, layers=inner, line=line)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 5), seeds)
def test_residual_fd(n, units, seed):
    layer = build_layer(residual_spec(units), (4,), np.random.default_rng(seed), np.float64)
    for sub in layer.sublayers():
        if "b" in sub.params:
            sub.params["b"][...] = np.random.default_rng(seed).normal(size=sub.params["b"].shape)
    x = np.random.default_rng(seed + 7).normal(size=(n, 4))
    y, dx, grads = fd_check(layer, x, seed)
    h = x
    for sub in layer.sublayers():
        h = {"dense": lambda h, s=sub: naive.dense_forward(h, s.params["W"], s.params["b"]),
             "tanh": naive.tanh}[sub.type](h)
    np.testing.assert_allclose(y, x + h, rtol=1e-12, atol=1e-12)
    assert set(grads) == {"dense2.W", "dense2.b", "dense3.W", "dense3.b"}


def test_residual_structure_and_options_form():
    spec = residual_spec(3)
    layer = build_layer(spec, (4,), np.random.default_rng(0), np.float64)
    assert isinstance(layer, Residual) and layer.out_shape == (4,)
    assert [s.name for s in layer.sublayers()] == ["dense2", "tanh1", "dense3"]
    assert layer.params == {} and layer.param_count() == 4 * 3 + 3 + 3 * 4 + 4
    opts = LayerSpec("residual", "block", {"layers": spec.layers})
    again = build_layer(opts, (4,), np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(again.sublayers()[0].params["W"],
                                  layer.sublayers()[0].params["W"])


def test_residual_shape_mismatch_names_the_block():
    bad = LayerSpec("residual", "skip1", {}, line=7,
                    layers=[LayerSpec("dense", "dense2", {"units": 3})])
    with pytest.raises(TuinnError, match="skip1") as err:
        build_layer(bad, (4,), np.random.default_rng(0), np.float64)
    assert err.value.line == 7 and "[3]" in str(err.value)
    with pytest.raises(TuinnError, match="no layers"):
        build_layer(LayerSpec("residual", "r", {}), (4,), np.random.default_rng(0), np.float64)


def test_registry_holds_every_type():
    for kind in ("dense", "relu", "leaky_relu", "sigmoid", "tanh", "dropout", "flatten",
                 "residual"):
        assert kind in LAYERS
    assert LAYERS["dense"] is Dense and LAYERS["dropout"] is Dropout


# ---------------------------------------------------------------- contract
def test_mlp_contract_case():
    expected = json.loads(CONTRACT.read_text())
    it0 = expected["history"][0]["params"]
    x = np.array([[0.0012301533574825742, 0.2987455375084699],
                  [-0.2741378553622176, -0.8905918387572742],
                  [-0.45467078517172255, -0.9916465549964624],
                  [0.060143602597438485, 1.3402152455545335]])
    y = np.array([0, 1, 1, 0])
    rng = np.random.default_rng(0)
    dense1 = make("dense", (2,), "dense1", units=3)
    relu1 = make("relu", (3,), "relu1")
    dense2 = make("dense", (3,), "dense2", units=2)
    for layer in (dense1, dense2):
        for k in ("W", "b"):
            layer.params[k][...] = it0[f"{layer.name}.{k}"]["value"]
    loss = Loss(LossSpec("softmax_ce", l2=0.001))
    h = x
    for layer in (dense1, relu1, dense2):
        h = layer.forward(h, True, rng)
    value = loss.forward(h, y) + l2_penalty(0.001, [dense1.params["W"], dense2.params["W"]])
    d = loss.backward()
    for layer in (dense2, relu1, dense1):
        d = layer.backward(d)
    for layer in (dense1, dense2):
        add_l2_grad(0.001, layer.params["W"], layer.grads["W"])
    np.testing.assert_allclose(value, expected["history"][0]["loss"], rtol=1e-6)
    ref_loss, ref_grads = naive.mlp_softmax_l2(x, y, *(np.array(it0[k]["value"]) for k in
                                               ("dense1.W", "dense1.b", "dense2.W", "dense2.b")),
                                               0.001)
    np.testing.assert_allclose(ref_loss, value, rtol=1e-12)
    for layer in (dense1, dense2):
        for k in ("W", "b"):
            key = f"{layer.name}.{k}"
            np.testing.assert_allclose(layer.grads[k], it0[key]["grad"], rtol=1e-6, atol=1e-12,
                                       err_msg=key)
            np.testing.assert_allclose(layer.grads[k], ref_grads[key], rtol=1e-10, atol=1e-14)
    # one SGD step (lr 0.5) later: iteration 1's parameters, loss and gradients
    opt = Optimizer(OptimizerSpec("sgd", lr=0.5))
    for layer in (dense1, dense2):
        for k in ("W", "b"):
            opt.step(f"{layer.name}.{k}", layer.params[k], layer.grads[k])
    it1 = expected["history"][1]
    h = x
    for layer in (dense1, relu1, dense2):
        h = layer.forward(h, True, rng)
    value = loss.forward(h, y) + l2_penalty(0.001, [dense1.params["W"], dense2.params["W"]])
    d = loss.backward()
    for layer in (dense2, relu1, dense1):
        d = layer.backward(d)
    np.testing.assert_allclose(value, it1["loss"], rtol=1e-6)
    for layer in (dense1, dense2):
        add_l2_grad(0.001, layer.params["W"], layer.grads["W"])
        for k in ("W", "b"):
            key = f"{layer.name}.{k}"
            np.testing.assert_allclose(layer.params[k], it1["params"][key]["value"], rtol=1e-6)
            np.testing.assert_allclose(layer.grads[k], it1["params"][key]["grad"], rtol=1e-6,
                                       atol=1e-12, err_msg=key)
