"""softmax_ce's polynomial exp (tuinn/engine/kernels/loss.py `_exp_nonpos`) against libm's
exp, and softmax_ce against a float64 NumPy reference, the running product of row sums
(one log per ~1e250) included; NaN and Inf as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from tuinn.engine.kernels import loss as L


@njit(cache=False, error_model="numpy")
def _exps(x, out):
    for i in range(x.size):
        out[i] = L._exp_nonpos(x[i])


def test_exp_nonpos_within_3_ulp_of_libm_and_its_edges():
    rng = np.random.default_rng(0)
    x = -np.abs(rng.standard_normal(100000)) * rng.choice([1.0, 10.0, 100.0, 700.0], 100000)
    edges = np.array([0.0, -0.0, -1e-300, -708.39, -708.4, -745.0, -745.13, -745.2, -746.0,
                      -1e300, -np.inf, np.nan])
    x = np.concatenate([x, edges])
    got = np.empty_like(x)
    _exps(x, got)
    want = np.array([math.exp(v) if v == v else math.nan for v in x])
    normal = want > 2.3e-308
    ulps = np.abs(got[normal] - want[normal]) / np.spacing(want[normal])
    assert ulps.max() <= 3
    sub = ~normal & ~np.isnan(want)
    assert np.abs(got[sub] - want[sub]).max() <= 5e-324            # a subnormal's last bit
    k = x.size - edges.size                                        # the edges' results
    assert np.isnan(got[-1]) and got[-2] == 0.0 and got[k] == got[k + 1] == 1.0
    py = np.array([L._exp_nonpos(float(v)) for v in x])           # uncompiled: the same
    assert np.array_equal(py, got, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, c", [(64, 3), (5, 1), (3000, 10), (700, 1000)])
def test_softmax_ce_against_numpy(n, c, dtype):
    rng = np.random.default_rng(n + c)
    s = (rng.standard_normal((n, c)) * 4).astype(dtype)
    y = rng.integers(0, c, n)
    probs, dout = np.empty((n, c), dtype), np.empty((n, c), dtype)
    bad = np.zeros(1, np.int64)
    value = L.softmax_ce(s, y, probs, dout, bad)
    s64 = s.astype(np.float64)
    e = np.exp(s64 - s64.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    want = -np.mean(np.log(p[np.arange(n), y]))
    tol = 1e-13 if dtype == np.float64 else 2e-6
    assert bad[0] == -1 and value == pytest.approx(want, rel=tol)
    np.testing.assert_allclose(probs, p, rtol=tol, atol=tol * 1e-3)
    d = p.copy()
    d[np.arange(n), y] -= 1
    np.testing.assert_allclose(dout, d / n, rtol=tol, atol=tol / n)


def test_softmax_ce_nan_inf_and_bad_labels():
    probs, dout, bad = np.empty((3, 3)), np.empty((3, 3)), np.zeros(1, np.int64)
    s = np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0], [-np.inf, 0.0, 1.0]])
    assert math.isnan(L.softmax_ce(s, np.array([0, 1, 2]), probs, dout, bad))
    assert np.isnan(probs[0]).all() and probs[2, 0] == 0.0 and bad[0] == -1
    s = np.array([[np.inf, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    assert math.isnan(L.softmax_ce(s, np.array([0, 1, 2]), probs, dout, bad))
    assert math.isnan(L.softmax_ce(np.zeros((3, 3)), np.array([0, 3, 2]), probs, dout, bad))
    assert bad[0] == 1
