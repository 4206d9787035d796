"""Run mode's lean conv -> relu -> maxpool (kernels/fused.py `*_lean`, run/lazygroup.py).

The lean kernels keep a sample's intermediates in scratch and leave the layers' caches
to be made on demand. Checked here: the kernels against the layers' own kernels (bit
for bit) and plain NumPy (within rounding) over random shapes, strides, paddings,
channels, pools and both dtypes; the on-demand caches (every way of reading a dict,
copies, settling before a layer's own pass overwrites their sources); and run mode
followed by the step-by-step path. tests/test_fused.py compares whole training runs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import naive_conv as naive
from test_fastpath import assert_same, state
from test_fused import build, maxpool_reference, scenario
from tuinn.engine.kernels import conv as CK
from tuinn.engine.kernels import fused as FK
from tuinn.engine.kernels import pool as PK
from tuinn.engine.run.lazygroup import LazyCache


def _cases():
    rng = np.random.default_rng(11)
    out = []
    while len(out) < 24:
        N, C, F = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        H, W = int(rng.integers(4, 10)), int(rng.integers(4, 10))
        k, s, p = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 3))
        z, ps = [(2, 2), (2, 2), (3, 1), (2, 1), (3, 3), (1, 1), (2, 3)][int(rng.integers(0, 7))]
        OH, OW = CK.conv_out(H, k, p, s), CK.conv_out(W, k, p, s)
        if OH < z or OW < z:
            continue
        out.append((N, C, H, W, F, k, s, p, z, ps))
    return out


def _layers(x, w, b, s, p, z, ps):
    """The layers one by one, their own kernels: conv, relu, maxpool forward."""
    ws = CK.Workspace()
    yc = CK.conv2d_forward(x, w, b, s, p, ws).copy()
    y = np.where(yc > 0, yc, 0).astype(x.dtype)
    mask = (yc > 0).astype(x.dtype)
    yp, am = maxpool_reference(y, z, ps)
    return ws, yc, y, mask, yp, am


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _cases())
def test_lean_kernels_match_the_layers_and_numpy(case, dtype):
    N, C, H, W, F, k, s, p, z, ps = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    ws, yc, y, mask, ryp, ram = _layers(x, w, b, s, p, z, ps)
    OH, OW = yc.shape[2:]
    PH, PW = ryp.shape[2:]
    xpn = np.zeros((C, H + 2 * p, W + 2 * p), dtype)
    kept = N > 1 and sum(case) % 2 == 0         # the batch's columns kept, or a sample's
    colsn = np.zeros((N if kept else 1, C * k * k + 1, OH * OW), dtype)   # and a row of ones
    planes = [np.full((F, OH, OW), 7.0, dtype) for _ in range(5)]     # scratch: any values
    yp, am = np.empty((N, F, PH, PW), dtype), np.empty((N, F, PH, PW), np.int64)
    # the batch gathered by the kernel: rows of a larger data set, in a shuffled order
    data = rng.standard_normal((N + 3, C, H, W)).astype(dtype)
    rows = rng.permutation(N + 3)[:N].astype(np.int64)
    data[rows] = x
    FK.conv_relu_maxpool_lean(data, rows, p, w, b, s, xpn, colsn, *planes[:3], z, ps, yp, am)
    assert np.array_equal(yp, ryp) and np.array_equal(am, ram)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    rel = np.where(naive.conv2d_forward(x.astype(np.float64), w.astype(np.float64),
                                        b.astype(np.float64), s, p) > 0, 1, 0)
    assert np.allclose(np.where(rel > 0, yc, 0), y, atol=tol)

    # backward: the pool's and relu's backward, then conv2d_backward, as the layers do
    dy = rng.standard_normal(yp.shape).astype(dtype)
    dxp = np.empty_like(yc)
    PK.maxpool_backward_kernel(dy, am, dxp)
    dxr = dxp * mask
    rdw, rdb = np.zeros_like(w), np.zeros_like(b)
    rdx = CK.conv2d_backward(dxr, x.shape, w, s, p, ws, rdw, rdb, need_dx=True)
    for need_dx in (False, True):
        dw, db = np.full_like(w, 3.0), np.full_like(b, 3.0)                 # zeroed there
        dw_tmp, dcols = np.empty((F, C * k * k + 1), dtype), np.empty((C * k * k, OH * OW), dtype)
        dxpad = np.full((N, C, H + 2 * p, W + 2 * p), 5.0, dtype) if need_dx else \
            np.zeros((1, 1, 1, 1), dtype)
        FK.maxpool_relu_conv_backward_lean(dy, am, yp, z, ps, data, rows, p, w, s, need_dx,
                                           dw, db, dw_tmp, dcols, xpn, colsn, *planes[3:],
                                           dxpad)
        assert np.array_equal(dw, rdw) and np.array_equal(db, rdb)
        if need_dx:
            dx = dxpad[:, :, p:p + H, p:p + W]
            assert np.array_equal(dx, rdx)
    ndx, ndw, ndb = naive.conv2d_backward(x.astype(np.float64), w.astype(np.float64),
                                          dxr.astype(np.float64), s, p)
    assert np.allclose(dw, ndw, rtol=tol, atol=tol * 10)
    assert np.allclose(db, ndb, rtol=tol, atol=tol * 10)
    assert np.allclose(dx, ndx, rtol=tol, atol=tol * 10)


def test_relu_maxpool_sample_ties_zeros_and_nan():
    """relu then the pool's first-maximum rule on ties, all-negative windows (relu's
    zeros: the window's first element wins), NaN (relu makes it 0) and infinities."""
    for dtype in (np.float64, np.float32):
        cf = np.array([[1, 1, -1, -2, 3, 3],
                       [1, 0, -3, -4, np.nan, 3],
                       [np.inf, -np.inf, np.nan, np.nan, -0.0, 0.0],
                       [2, np.inf, np.nan, 5, -1, 0.0]], dtype)
        bf = dtype(0.0)
        for z, s in ((2, 2), (2, 1)):
            oh, ow = (4 - z) // s + 1, (6 - z) // s + 1
            pf, af = np.empty(oh * ow, dtype), np.empty(oh * ow, np.int64)
            scratch = np.empty(cf.size, dtype), np.empty(cf.size, dtype)
            FK.relu_maxpool_sample(cf.copy().reshape(-1), 4, 6, np.array([bf]), z, s,
                                   *scratch, pf, af, 0, oh, ow)
            relu = np.where(cf > 0, cf, 0).astype(dtype)[None, None]
            ry, ra = maxpool_reference(relu, z, s)
            assert np.array_equal(pf, ry.reshape(-1)) and np.array_equal(af, ra.reshape(-1))


def test_lazy_cache_reads_every_way():
    made = []

    def make():
        made.append(1)
        return np.arange(3.0)

    c = LazyCache({"x": np.zeros(2)})
    c.put_lazy("y", make)
    assert "y" in c and len(c) == 2 and c.pending() == ["y"] and made == []
    assert list(c) == ["x", "y"] and made == []                  # keys: nothing made
    assert np.array_equal(c["y"], np.arange(3.0)) and made == [1]
    c.put_lazy("y", make)
    assert np.array_equal(c.get("y"), np.arange(3.0)) and made == [1, 1]
    for read in (lambda d: dict(d), lambda d: dict(d.items()), lambda d: list(d.values()),
                 lambda d: d.copy(), lambda d: copy.deepcopy(d), lambda d: {**d}):
        c.put_lazy("y", make)
        got = read(c)
        values = got if isinstance(got, list) else list(got.values())
        assert all(isinstance(v, np.ndarray) for v in values) and not c.pending()
    c.put_lazy("y", make)
    c["y"] = np.ones(1)                                           # a write drops it
    assert not c.pending() and np.array_equal(c["y"], np.ones(1))
    c.put_lazy("z", make)
    assert c.pop("z") is not None and "z" not in c and not c.pending()
    c.put_lazy("z", make)
    c.settle()
    assert not c.pending() and isinstance(c["z"], np.ndarray)


CONV_FIRST = """
[[model.layers]]
type = "conv2d"
filters = 3
kernel = 3
padding = 1
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 2
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_step_path_after_run_mode_sees_the_layers_values(dtype):
    """Run mode leaves caches pending; the layers' own forward (a step after run mode)
    settles them first, from the iteration that made them, not from what the step
    overwrites; then both programs go on alike."""
    text = scenario(CONV_FIRST, dtype)
    fused, plain = build(text, True), build(text, False)
    for _ in range(3):
        fused.train_iteration(), plain.train_iteration()
    conv, relu, pool = fused.layers[:3]
    assert set(relu.cache.pending()) == {"mask", "y"}
    assert {"y", "dy", "dx"} <= set(conv.cache.pending())
    want = {k: np.array(v) for k, v in plain.layers[1].cache.items()}
    want_dx = np.array(plain.layers[0].cache["dx"])
    x = fused.x[:5]
    conv.forward(x, True, None)                    # a step: conv's own forward first
    assert not relu.cache.pending() and not pool.cache.pending()
    assert_same({k: np.array(v) for k, v in relu.cache.items()}, want)
    assert_same(np.array(conv.cache["dx"]), want_dx)
    plain.layers[0].forward(x, True, None)
    for _ in range(2):                             # and on, fused and plain alike
        assert fused.train_iteration() == plain.train_iteration()
        assert_same(state(fused), state(plain))


def test_first_conv_dx_is_made_only_when_read():
    prog = build(scenario(CONV_FIRST), True)
    prog.train_iteration()
    conv = prog.layers[0]
    assert "dx" in conv.cache.pending()
    dx = conv.cache["dx"]
    assert dx.shape == (16, 1, 7, 7) and np.isfinite(dx).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_first_group_reads_the_batch_rows_from_the_data(dtype):
    """A first conv -> relu -> maxpool reads the batch's rows from the data set itself:
    no copy of the batch; conv's cache["x"] is x[rows], made when read (and equal to the
    layers one by one's), and the iterations agree with them bit for bit."""
    text = scenario(CONV_FIRST, dtype)
    fused, plain = build(text, True), build(text, False)
    for it in range(4):
        rows = fused.batch_rows(fused.iteration)
        assert fused.train_iteration() == plain.train_iteration()
        conv = fused.layers[0]
        assert "x" in conv.cache.pending()
        assert conv.cache["x"].flags.owndata                # made now, a copy
        assert np.array_equal(conv.cache["x"], fused.x[rows])
        assert_same(np.array(conv.cache["x"]), np.array(plain.layers[0].cache["x"]))
    from tuinn.engine.run.iteration import fused_stack
    assert fused_stack(fused).gathers(fused.x)
    assert not fused_stack(fused).gathers(np.asfortranarray(fused.x))
    assert_same(state(fused), state(plain))
