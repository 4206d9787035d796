"""Tests the computation-graph gates against NumPy references and finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import naive_gates as naive
from tuinn.engine import gates as G
from tuinn.errors import TuinnError

BINARY = ["add", "sub", "mul", "div", "max", "min"]
UNARY = ["neg", "addc", "mulc", "inv", "powc", "exp", "log", "sigmoid", "tanh", "relu",
         "abs", "maxc", "minc", "sum", "mean"]
EPS = 1e-6
TOL = 1e-6
HYP = settings(max_examples=25, deadline=None)

FIXED_PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)),
               ((), (2, 2)), ((2, 2), ()), ((1,), (3,)), ((4, 1, 3), (2, 1))]
pair_shapes = st.one_of(
    st.sampled_from(FIXED_PAIRS),
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
    .map(lambda s: tuple(s.input_shapes)))
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)
matmul_shapes = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
                          st.booleans(), st.booleans()).map(
    lambda t: ((t[1],) if t[3] else (t[0], t[1]), (t[1],) if t[4] else (t[1], t[2])))


# ------------------------------------------------------------------------ helpers

def values(op: str, shape, rng, role: int = 0) -> np.ndarray:
    """Test inputs for `op`, kept away from kinks, ties and poles."""
    if op in ("inv", "log", "powc") or (op == "div" and role == 1):
        v = rng.uniform(0.5, 2.0, shape)
    elif op in ("relu", "abs"):
        v = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.05, 2.0, shape)
    elif op in ("max", "min", "maxc", "minc"):      # a on k/10 + 0.05, b and c on k/10
        v = rng.integers(-20, 21, shape) * 0.1 + (0.05 if role == 0 else 0.0)
    else:
        v = rng.uniform(-2.0, 2.0, shape)
    return np.asarray(v, dtype=np.float64)


def const_for(op: str, rng) -> float | None:
    if op in ("addc", "mulc"):
        return float(rng.uniform(-3.0, 3.0))
    if op == "powc":
        return float(rng.choice([0.0, 1.0, 2.0, 3.0, 0.5, -1.0, -1.5, 2.5]))
    if op in ("maxc", "minc"):
        return float(rng.integers(-10, 11) * 0.1)
    return None


def numeric_grads(op, args, c, up) -> list[np.ndarray]:
    """Centred differences of sum(out * up), through the NumPy reference."""
    grads = []
    for k, arg in enumerate(args):
        g = np.zeros_like(arg)
        for idx in np.ndindex(arg.shape):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[k][idx] += EPS
            minus[k][idx] -= EPS
            diff = naive.forward(op, plus, c) - naive.forward(op, minus, c)
            g[idx] = np.sum(diff * up) / (2 * EPS)
        grads.append(g)
    return grads


def assert_close(got, want, tol=TOL):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    err = np.abs(got - want) / np.maximum(1.0, np.maximum(np.abs(got), np.abs(want)))
    assert np.all(err < tol), f"max relative error {err.max():.3g}\ngot {got}\nwant {want}"


def check_op(op, args, c, rng):
    """Forward and local grads against the reference; backward against differences."""
    out = G.forward(op, args, c)
    want = naive.forward(op, args, c)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    for got, ref in zip(G.local_grads(op, args, out, c), naive.local_grads(op, args, c),
                        strict=True):
        assert isinstance(got, np.ndarray) and got.shape == np.shape(ref)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    up = np.asarray(rng.standard_normal(out.shape))
    grads = G.backward(op, args, out, up, c)
    assert len(grads) == len(args)
    for arg, g, num in zip(args, grads, numeric_grads(op, args, c, up), strict=True):
        assert isinstance(g, np.ndarray) and g.shape == arg.shape and g.dtype == np.float64
        assert_close(g, num)


# -------------------------------------------------------------- property tests

@pytest.mark.parametrize("op", BINARY)
@HYP
@given(shape_pair=pair_shapes, seed=seeds)
def test_binary(op, shape_pair, seed):
    rng = np.random.default_rng(seed)
    args = [values(op, s, rng, role) for role, s in enumerate(shape_pair)]
    check_op(op, args, None, rng)


@pytest.mark.parametrize("op", UNARY)
@HYP
@given(shape=shapes, seed=seeds)
def test_unary(op, shape, seed):
    rng = np.random.default_rng(seed)
    check_op(op, [values(op, shape, rng)], const_for(op, rng), rng)


@HYP
@given(shape_pair=matmul_shapes, seed=seeds)
def test_matmul(shape_pair, seed):
    rng = np.random.default_rng(seed)
    check_op("matmul", [values("matmul", s, rng) for s in shape_pair], None, rng)


@pytest.mark.parametrize("op", BINARY + UNARY + ["matmul"])
@HYP
@given(seed=seeds, data=st.data())
def test_float32_agrees_with_float64(op, seed, data):
    rng = np.random.default_rng(seed)
    if op == "matmul":
        shape_list = data.draw(matmul_shapes)
    elif op in BINARY:
        shape_list = data.draw(pair_shapes)
    else:
        shape_list = [data.draw(shapes)]
    a32 = [values(op, s, rng, role).astype(np.float32) for role, s in enumerate(shape_list)]
    a64 = [a.astype(np.float64) for a in a32]
    c = const_for(op, rng)
    out32, out64 = G.forward(op, a32, c), G.forward(op, a64, c)
    assert out32.dtype == np.float32 and out32.shape == out64.shape
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    up = np.asarray(rng.standard_normal(out64.shape))
    g32 = G.backward(op, a32, out32, up.astype(np.float32), c)
    g64 = G.backward(op, a64, out64, up, c)
    for x, y in zip(g32, g64, strict=True):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------- hand-checked

def arr(*v):
    return np.array(v[0] if len(v) == 1 else v, dtype=np.float64)


def test_mul_swaps():
    x, y = arr(3.0), arr(-4.0)
    assert [float(g) for g in G.local_grads("mul", [x, y], None, None)] == [-4.0, 3.0]
    dx, dy = G.backward("mul", [x, y], None, arr(1.0), None)
    assert dx.shape == () and dy.shape == () and isinstance(dx, np.ndarray)
    assert (float(dx), float(dy)) == (-4.0, 3.0)


def test_add_distributes_in_the_classic_circuit():
    x, y, z = arr(-2.0), arr(5.0), arr(-4.0)        # q = x + y; f = q * z
    q = G.forward("add", [x, y], None)
    f = G.forward("mul", [q, z], None)
    assert float(f) == -12.0
    dq, dz = G.backward("mul", [q, z], f, arr(1.0), None)
    dx, dy = G.backward("add", [x, y], q, dq, None)
    assert (float(dx), float(dy), float(dz)) == (-4.0, -4.0, 3.0)


def test_max_routes_and_ties_split():
    assert [float(g) for g in G.backward("max", [arr(2.0), arr(5.0)], None, arr(3.0), None)] \
        == [0.0, 3.0]
    assert [float(g) for g in G.backward("min", [arr(2.0), arr(5.0)], None, arr(3.0), None)] \
        == [3.0, 0.0]
    for op in ("max", "min"):
        assert [float(g) for g in G.backward(op, [arr(2.0), arr(2.0)], None, arr(3.0), None)] \
            == [1.5, 1.5]
    for op in ("maxc", "minc"):
        assert G.local_grads(op, [arr([0.5, 1.0])], None, 0.5)[0].tolist()[0] == 0.5


def test_sigmoid_at_zero_and_extremes():
    s = G.forward("sigmoid", [arr(0.0)], None)
    assert float(s) == 0.5
    assert float(G.local_grads("sigmoid", [arr(0.0)], s, None)[0]) == 0.25
    big = G.forward("sigmoid", [arr([-1000.0, 1000.0])], None)
    assert big.tolist() == [0.0, 1.0]


def test_sigmoid_circuit():
    """The 8-gate circuit f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))."""
    w0, x0, w1, x1, w2 = arr(2.0), arr(-1.0), arr(-3.0), arr(-2.0), arr(-3.0)
    chain = [("mul", [w0, x0], None), ("mul", [w1, x1], None)]
    m0 = G.forward("mul", [w0, x0], None)
    m1 = G.forward("mul", [w1, x1], None)
    a0 = G.forward("add", [m0, m1], None)
    a1 = G.forward("add", [a0, w2], None)
    unary = [("neg", None), ("exp", None), ("addc", 1.0), ("inv", None)]
    vals = [a1]
    for op, c in unary:
        vals.append(G.forward(op, [vals[-1]], c))
    assert abs(float(vals[-1]) - 0.7310585786300049) < 1e-15
    up = arr(1.0)
    for (op, c), x, y in reversed(list(zip(unary, vals[:-1], vals[1:]))):
        (up,) = G.backward(op, [x], y, up, c)
    da0, dw2 = G.backward("add", [a0, w2], a1, up, None)
    dm0, dm1 = G.backward("add", [m0, m1], a0, da0, None)
    dw0, dx0 = G.backward(*chain[0][:2], m0, dm0, None)
    dw1, dx1 = G.backward(*chain[1][:2], m1, dm1, None)
    got = [float(g) for g in (dw0, dx0, dw1, dx1, dw2)]
    s = 0.7310585786300049
    want = [-1 * s * (1 - s), 2 * s * (1 - s), -2 * s * (1 - s), -3 * s * (1 - s), s * (1 - s)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dense_layer_broadcasting():
    """W (2, 3), b (3,), x (1, 2): s = x @ W + b, upstream up (1, 3)."""
    W = arr([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = arr([0.1, 0.2, 0.3])
    x = arr([[1.0, -1.0]])
    up = arr([[1.0, 10.0, 100.0]])
    h = G.forward("matmul", [x, W], None)
    s = G.forward("add", [h, b], None)
    assert s.shape == (1, 3)
    np.testing.assert_allclose(s, [[-2.9, -2.8, -2.7]], rtol=1e-12)
    dh, db = G.backward("add", [h, b], s, up, None)
    assert dh.shape == (1, 3) and db.shape == (3,)
    np.testing.assert_array_equal(db, [1.0, 10.0, 100.0])
    dx, dW = G.backward("matmul", [x, W], h, dh, None)
    np.testing.assert_array_equal(dx, [[321.0, 654.0]])                  # up @ W.T
    np.testing.assert_array_equal(dW, [[1.0, 10.0, 100.0], [-1.0, -10.0, -100.0]])
    assert [g.shape for g in G.local_grads("matmul", [x, W], h, None)] == [(2, 3), (1, 2)]


def test_reductions_spread_a_scalar_upstream():
    x = arr([[1.0, 2.0], [3.0, 4.0]])
    assert G.forward("sum", [x], None).shape == ()
    assert float(G.forward("mean", [x], None)) == 2.5
    (dx,) = G.backward("mean", [x], None, arr(2.0), None)
    np.testing.assert_array_equal(dx, np.full((2, 2), 0.5))
    (dx,) = G.backward("sum", [x], None, arr(2.0), None)
    np.testing.assert_array_equal(dx, np.full((2, 2), 2.0))


def test_matmul_vectors_follow_numpy():
    a, b = arr([1.0, 2.0]), arr([3.0, 4.0])
    out = G.forward("matmul", [a, b], None)
    assert out.shape == () and float(out) == 11.0
    da, db = G.backward("matmul", [a, b], out, arr(2.0), None)
    np.testing.assert_array_equal(da, [6.0, 8.0])
    np.testing.assert_array_equal(db, [2.0, 4.0])


# ------------------------------------------------------------- conventions

def test_kink_conventions_match_pytorch():
    z = arr([0.0])
    assert G.local_grads("relu", [z], None, None)[0].tolist() == [0.0]
    assert G.local_grads("abs", [z], None, None)[0].tolist() == [0.0]
    assert G.local_grads("powc", [z], None, 0.0)[0].tolist() == [0.0]        # torch: 0
    np.testing.assert_array_equal(G.local_grads("powc", [arr([-3.0])], None, 2.0)[0], [-6.0])


def test_poles_give_inf_and_nan_without_exceptions():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = G.forward("log", [arr([-1.0, 0.0, 1.0])], None)
        assert np.isnan(log[0]) and log[1] == -np.inf and log[2] == 0.0
        assert G.local_grads("log", [arr(0.0)], None, None)[0] == np.inf
        assert G.forward("inv", [arr(0.0)], None) == np.inf
        d = G.forward("div", [arr([1.0, 0.0]), arr(0.0)], None)
        assert d[0] == np.inf and np.isnan(d[1])
        da, db = G.backward("div", [arr(1.0), arr(0.0)], None, arr(1.0), None)
        assert da == np.inf and db == -np.inf
        assert np.isnan(G.forward("mean", [np.zeros(0)], None))
        assert np.isnan(G.forward("powc", [arr(-2.0)], 0.5))


def test_nan_propagates_through_max_and_relu():
    nan = arr(np.nan)
    assert np.isnan(G.forward("max", [nan, arr(1.0)], None))
    assert np.isnan(G.forward("max", [arr(1.0), nan], None))
    assert np.isnan(G.forward("relu", [nan], None))
    assert np.isnan(G.forward("maxc", [nan], 0.0))


def test_integers_become_float64_and_results_are_fresh():
    out = G.forward("add", [np.array(1), np.array([2, 3])], None)
    assert out.dtype == np.float64 and out.tolist() == [3.0, 4.0]
    up = arr([1.0, 2.0])
    for g in G.backward("add", [arr([1.0, 2.0]), arr([3.0, 4.0])], None, up, None):
        assert not np.shares_memory(g, up)


def test_unbroadcast():
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(G.unbroadcast(g, (3,)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(G.unbroadcast(g, (2, 1)), [[3.0], [12.0]])
    s = G.unbroadcast(g, ())
    assert isinstance(s, np.ndarray) and s.shape == () and float(s) == 15.0
    for bad in [(4,), (3, 2), (1, 2, 3, 1)]:
        with pytest.raises(TuinnError):
            G.unbroadcast(g, bad)


# ------------------------------------------------------------- registry, labels

def test_registry_is_complete():
    assert set(G.GATES) == set(BINARY + UNARY + ["matmul"])
    for name, gate in G.GATES.items():
        assert gate.name == name and gate.pattern and gate.symbol
        assert gate.arity == (2 if name in BINARY + ["matmul"] else 1)
        assert gate.const == (name in ("addc", "mulc", "powc", "maxc", "minc"))


@pytest.mark.parametrize("op, c, want", [
    ("addc", 1.0, "+1"), ("addc", -2.0, "-2"), ("addc", 0.25, "+0.25"), ("neg", None, "*-1"),
    ("mulc", -1.0, "*-1"), ("powc", 2.0, "**2"), ("powc", 0.5, "**0.5"),
    ("maxc", 0.5, "max(·,0.5)"), ("minc", 0.0, "min(·,0)"), ("mul", None, "*"),
    ("matmul", None, "@"), ("inv", None, "1/x"), ("sigmoid", None, "σ"),
])
def test_label(op, c, want):
    assert G.label(op, c) == want


# ------------------------------------------------------------------- errors

@pytest.mark.parametrize("op, args, const, message", [
    ("add", [np.ones((2, 3)), np.ones(4)], None, "add: cannot broadcast shapes (2, 3) and (4,)"),
    ("max", [np.ones(2), np.ones(3)], None, "max: cannot broadcast shapes (2,) and (3,)"),
    ("matmul", [np.ones((1, 2)), np.ones((3, 3))], None,
     "matmul: (1, 2) @ (3, 3): inner sizes 2 and 3 differ"),
    ("matmul", [np.ones(()), np.ones((3, 3))], None, "operands must be arrays, not scalars"),
    ("matmul", [np.ones((2, 2, 3)), np.ones((3, 3, 2))], None,
     "batch axes (2,) and (3,) cannot be broadcast together"),
    ("mull", [np.ones(2), np.ones(2)], None, "unknown gate 'mull'"),
    ("add", [np.ones(2)], None, "add: takes 2 input(s), got 1"),
    ("addc", [np.ones(2)], None, "addc: this gate needs a constant"),
])
def test_bad_input_raises_tuinn_error(op, args, const, message):
    for call in (lambda: G.forward(op, args, const),
                 lambda: G.local_grads(op, args, None, const),
                 lambda: G.backward(op, args, None, np.ones(()), const)):
        with pytest.raises(TuinnError) as info:
            call()
        assert message in info.value.message


def test_unknown_gate_hint_and_bad_upstream():
    with pytest.raises(TuinnError) as info:
        G.forward("mull", [np.ones(2), np.ones(2)], None)
    assert info.value.hint == "did you mean 'mul'?"
    with pytest.raises(TuinnError, match="upstream gradient has shape"):
        G.backward("add", [np.ones(2), np.ones(2)], None, np.ones(3), None)
    with pytest.raises(TuinnError, match="output has shape"):
        G.local_grads("exp", [np.ones(2)], np.ones(3), None)
