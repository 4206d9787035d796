"""Provides the loss kernels: softmax cross-entropy, hinge, MSE, BCE on logits, L2.

Kernels take C-contiguous arrays (flat views are made inside). Each loss kernel
returns the batch-mean loss and writes the gradient of that mean into `dout` in the
same pass (the backward step then only hands it out). Class losses
return the index of the first out-of-range label through `bad[0]` (-1 when none), so
label checking costs nothing extra.

softmax_ce is the one softmax of every path (the layers, run mode's chain, `tuinn
train`'s epoch kernels): its exponentials come from `_exp_nonpos`, a polynomial exp
that LLVM vectorises (within 3 ulp of libm's; libm's exp was most of a small network's
softmax), with one reciprocal per row and one log per ~1e250 of the rows' running
product of sums; PyTorch's CrossEntropyLoss within float rounding (tests/test_contract*.py,
rtol 1e-6) and compiled equal to uncompiled, bit for bit (tests/test_uncompiled.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import overload

from tuinn.engine.jit import kernel


#: _exp_nonpos's constants: exp(x) = 2**k exp(r), k = round(x / ln 2), r = x - k ln 2 (ln 2 in
#: two parts, Cody-Waite), exp(r) = 1 + r P(r) with P the Taylor polynomial of expm1(r) / r
#: of degree 11 (truncation < 2e-16 for |r| <= ln2 / 2); k rounded by adding 1.5 * 2**52
_LOG2E, _LN2HI, _LN2LO = 1.4426950408889634, 6.93147180369123816490e-01, 1.90821492927058770002e-10
_MAGIC = 6755399441055744.0                     # 1.5 * 2**52
_MAGIC_BITS = 4843621399236968448               # its bits as an int64
_C = tuple(1.0 / math.factorial(k + 1) for k in range(12))
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11 = _C


def _exp_nonpos(x):
    """exp(x) for a float64 x <= 0 (or NaN: NaN), written out so
    that LLVM vectorises a loop of them (a libm call costs ~5 ns an element, the
    softmax's main cost in a small network): within 3 ulp of libm's exp. Below -745.2
    exp is 0 in float64."""
    x = -745.2 if x < -745.2 else x             # a NaN stays
    tk = x * _LOG2E + _MAGIC                    # k in the low bits (-1075 <= k <= 0)
    kf = tk - _MAGIC
    r = (x - kf * _LN2HI) - kf * _LN2LO
    r2 = r * r
    r4 = r2 * r2
    p = (((_C0 + _C1 * r) + r2 * (_C2 + _C3 * r)) + r4 * ((_C4 + _C5 * r) + r2 * (_C6 + _C7 * r))
         + (r4 * r4) * ((_C8 + _C9 * r) + r2 * (_C10 + _C11 * r)))   # Estrin: no FMA here
    k = np.float64(tk).view(np.int64) - _MAGIC_BITS
    k1 = k >> 1                                 # 2**k as two normal factors
    s1 = np.int64((1023 + k1) << 52).view(np.float64)
    s2 = np.int64((1023 + (k - k1)) << 52).view(np.float64)
    return (s1 * (1.0 + r * p)) * s2


@overload(_exp_nonpos, inline="always")
def _ov_exp_nonpos(x):
    return _exp_nonpos


@kernel
def softmax_ce(s, y, probs, dout, bad):
    """mean_i -log softmax(s_i)[y_i]; probs = softmax(s); dout = (probs - onehot) / N.
    Labels are checked first (bad[0] = the first out of range, NaN returned, nothing
    written). The exponentials are one vectorised pass over all N C scores less their
    row's maximum (_exp_nonpos, in float64 whatever the dtype); then per row one
    reciprocal of the sum, and 1 / N, multiply, and the rows' log-sums come from the log
    of their running product (PyTorch's CrossEntropyLoss within float rounding:
    tests/test_contract*.py)."""
    n, c = s.shape                                      # (N, C) scores, y (N,) int
    bad[0] = -1
    for i in range(n):
        if y[i] < 0 or y[i] >= c:
            bad[0] = i
            return math.nan
    for i in range(n):
        m = s[i, 0]
        for j in range(1, c):
            if s[i, j] > m:
                m = s[i, j]
        dout[i, 0] = m                                  # kept until the third pass
        for j in range(c):
            probs[i, j] = s[i, j] - m
    pf = probs.reshape(n * c)                           # (N * C,)
    for q in range(n * c):
        pf[q] = _exp_nonpos(float(pf[q]))
    total = 0.0                                         # sum of s[i, y_i] - m_i
    logs = 0.0                                          # sum of log z_i, in parts
    prod = 1.0                                          # z_i >= 1 (exp(0) is in it):
    inv_n = 1.0 / n                                     # a running product of them, one
    for i in range(n):                                  # log per 1e250 (NaN, inf stay)
        z = 0.0                                         # float(): float64 sums and
        for j in range(c):                              # products in float32 too, the
            z += float(probs[i, j])                     # same uncompiled (NumPy's rules)
        prod *= z
        if prod > 1e250:
            logs += math.log(prod)
            prod = 1.0
        yi = y[i]
        total += float(s[i, yi] - dout[i, 0])
        inv_z = 1.0 / z
        for j in range(c):
            p = float(probs[i, j]) * inv_z
            probs[i, j] = p
            dout[i, j] = p * inv_n
        dout[i, yi] = float(dout[i, yi]) - inv_n
    return ((logs + math.log(prod)) - total) * inv_n  # mean of -log_softmax[y], stable


@kernel
def hinge(s, y, margin, dout, bad):
    """mean_i sum_{j != y_i} max(0, s_ij - s_iy + margin); dout its (sub)gradient."""
    n, c = s.shape                                      # (N, C) scores, y (N,) int
    bad[0] = -1
    total = 0.0
    for i in range(n):
        yi = y[i]
        if yi < 0 or yi >= c:
            bad[0] = i
            return math.nan
        sy = s[i, yi]
        count = 0
        for j in range(c):
            dout[i, j] = 0.0
            if j == yi:
                continue
            d = s[i, j] - sy + margin
            if d > 0.0:
                total += d
                dout[i, j] = 1.0 / n
                count += 1
        dout[i, yi] = -count / n
    return total / n


@kernel
def mse(out, target, dout):
    """mean over all elements of (out - target)**2; dout = 2 (out - target) / size."""
    k = out.size
    of, tf, gf = out.reshape(k), target.reshape(k), dout.reshape(k)   # flat views
    total = 0.0
    for i in range(k):
        d = of[i] - tf[i]
        total += d * d
        gf[i] = 2.0 * d / k
    return total / k


@kernel
def bce_logits(s, t, dout):
    """mean of max(s, 0) - s t + log(1 + exp(-|s|)); dout = (sigmoid(s) - t) / size."""
    k = s.size
    sf, tf, gf = s.reshape(k), t.reshape(k), dout.reshape(k)          # flat views
    total = 0.0
    for i in range(k):
        v = sf[i]
        total += max(v, 0.0) - v * tf[i] + math.log1p(math.exp(-abs(v)))
        if v >= 0.0:
            p = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            p = e / (1.0 + e)
        gf[i] = (p - tf[i]) / k
    return total / k


@kernel
def sum_squares(w):
    """sum(w**2)."""
    wf = w.reshape(w.size)
    total = 0.0
    for i in range(wf.size):
        total += wf[i] * wf[i]
    return total


@kernel
def add_scaled(g, w, alpha):
    """g += alpha * w in place (L2's gradient: alpha = 2 * l2)."""
    gf, wf = g.reshape(g.size), w.reshape(w.size)
    for i in range(gf.size):
        gf[i] += alpha * wf[i]


@kernel
def softmax_rows(s, probs):
    """probs = softmax of each row of s, stable."""
    n, c = s.shape                                      # (N, C)
    for i in range(n):
        m = s[i, 0]
        for j in range(1, c):
            if s[i, j] > m:
                m = s[i, j]
        z = 0.0
        for j in range(c):
            e = math.exp(s[i, j] - m)
            probs[i, j] = e
            z += e
        for j in range(c):
            probs[i, j] /= z
