"""`tuinn train`'s epoch kernels on flat buffers (tuinn/engine/kernels/flatchain.py) and
their products (kernels/gemm.py `mm`) give the numbers of the kernels they stand for,
bit for bit: mm those of np.dot on the same views in a kernel (every transposition,
vector shapes included, both dtypes); the epoch kernels those of chain.py's chain_classes
/ chain_values with each optimizer step (tests/test_bulk.py checks whole runs against
the one-by-one path)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from numba import njit

from test_bulk import session
from test_fastpath import scenario
from tuinn.engine.kernels import chain as K
from tuinn.engine.kernels import flatchain as F
from tuinn.engine.kernels.gemm import mm
from tuinn.engine.run import bulk


@njit(cache=False)
def _mm(tx, ty, m, k, n, X, xo, Y, yo, C, co):
    mm(tx, ty, m, k, n, X, xo, Y, yo, C, co)


@njit(cache=False)
def _dot_nn(x, y, c):
    np.dot(x, y, c)


@njit(cache=False)
def _dot_tn(x, y, c):
    np.dot(x.T, y, c)


@njit(cache=False)
def _dot_nt(x, y, c):
    np.dot(x, y.T, c)


@njit(cache=False)
def _dot_tt(x, y, c):
    np.dot(x.T, y.T, c)


DOTS = {(0, 0): _dot_nn, (1, 0): _dot_tn, (0, 1): _dot_nt, (1, 1): _dot_tt}
SHAPES = [(64, 16, 16), (64, 2, 16), (64, 16, 3), (16, 64, 16), (2, 64, 16), (1, 5, 7),
          (7, 5, 1), (1, 1, 1), (1, 9, 1), (6, 1, 4), (3, 64, 1), (1, 64, 3), (33, 17, 129)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tx", [0, 1])
@pytest.mark.parametrize("ty", [0, 1])
@pytest.mark.parametrize("shape", SHAPES)
def test_mm_is_the_dot_of_a_kernel_bit_for_bit(shape, tx, ty, dtype):
    m, k, n = shape
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    xo, yo, co = (int(v) for v in rng.integers(0, 9, 3))
    X = rng.standard_normal(xo + m * k + 5).astype(dtype)
    Y = rng.standard_normal(yo + k * n + 5).astype(dtype)
    x = X[xo:xo + m * k].reshape((k, m) if tx else (m, k))
    y = Y[yo:yo + k * n].reshape((n, k) if ty else (k, n))
    want = np.zeros((m, n), dtype)
    DOTS[tx, ty](x, y, want)
    C = np.full(co + m * n + 4, 7.0, dtype)
    _mm(tx, ty, m, k, n, X, xo, Y, yo, C, co)
    assert C[co:co + m * n].tobytes() == want.reshape(-1).tobytes()
    assert (C[:co] == 7).all() and (C[co + m * n:] == 7).all()      # nothing else written
    U = np.full_like(C, 7.0)
    mm(tx, ty, m, k, n, X, xo, Y, yo, U, co)                         # uncompiled: NumPy
    np.testing.assert_allclose(U, C, rtol=1e-5 if dtype == np.float32 else 1e-12)


def _args(hidden, acts, loss, optim, dtype, batch=16):
    prog = session(scenario(hidden, acts, loss, optim, dtype, batch=batch)).program
    prog.train_iteration()
    plan = prog._plans.get(prog.x, prog.y, batch)
    if plan is None:
        pytest.skip("data the chain does not take (the layers train it)")
    order = np.random.default_rng(1).permutation(len(prog.x))
    state = bulk._State(prog, 2)
    fresh = lambda args: tuple(a.copy() if isinstance(a, np.ndarray) else a  # noqa: E731
                               for a in args)
    return ((prog.x, prog.y, order, 0) + fresh(plan.args) + fresh(state.args())
            + (np.empty(4),) + state.snapshots() + (np.zeros(1, np.int64),))


CHAINS = [([], []), ([8], ["relu"]), ([8, 5], ["relu", "relu"]), ([8], ["leaky_relu"]),
          ([8, 4], ["tanh", "sigmoid"]), ([6, 6], ["sigmoid", "relu"]), ([70], ["relu"])]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["softmax_ce", "hinge", "mse", "bce"])
@pytest.mark.parametrize("chain", CHAINS)
def test_the_flat_epoch_kernels_are_the_chain_kernels_iteration_by_iteration(chain, loss,
                                                                              dtype):
    """epoch_classes / epoch_values against chain_classes / chain_values and
    optimizer_step_finite called one iteration at a time on copies of the same buffers."""
    args = _args(*chain, loss, "momentum", dtype)
    flat = copy.deepcopy(args)
    classes = loss in ("softmax_ce", "hinge")
    kern = F.epoch_classes if classes else F.epoch_values
    assert kern(*flat) == 4
    (X, Y, order, start, x, target, w, g, a, table, slopes, loss_kind) = args[:12]
    if classes:
        margin, probs, dout, bad = args[12:16]
        opt, hyper, v, m, ts, bounds, losses = args[16:23]
    else:
        dout = args[12]
        opt, hyper, v, m, ts, bounds, losses = args[13:20]
    n = x.shape[0]
    for b in range(4):
        rows = order[start + b * n:start + (b + 1) * n]
        if classes:
            losses[b] = K.chain_classes(X, Y, rows, x, target, w, g, a, table, slopes,
                                        loss_kind, margin, probs, dout, bad, False, 0.0)
        else:
            losses[b] = K.chain_values(X, Y, rows, x, target, w, g, a, table, slopes,
                                       loss_kind, dout, False, 0.0)
        assert K.optimizer_step_finite(opt, hyper, w, g, v, m, ts, bounds)
    for got, want in zip(flat[:-5], args[:-5]):  # (not the snapshots and the count)
        if isinstance(want, np.ndarray):
            assert got.tobytes() == want.tobytes()
