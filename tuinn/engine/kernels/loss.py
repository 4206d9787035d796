"""Provides the loss kernels: softmax cross-entropy, hinge, MSE, BCE on logits, L2.

Kernels take C-contiguous arrays (flat views are made inside). Each loss kernel
returns the batch-mean loss and writes the gradient of that mean into `dout` in the
same pass (the backward step then only hands it out). Class losses
return the index of the first out-of-range label through `bad[0]` (-1 when none), so
label checking costs nothing extra.
"""

from __future__ import annotations

import math

from tuinn.engine.jit import kernel


@kernel
def softmax_ce(s, y, probs, dout, bad):
    """mean_i -log softmax(s_i)[y_i]; probs = softmax(s); dout = (probs - onehot) / N."""
    n, c = s.shape                                      # (N, C) scores, y (N,) int
    bad[0] = -1
    total = 0.0
    for i in range(n):
        yi = y[i]
        if yi < 0 or yi >= c:
            bad[0] = i
            return math.nan
        m = s[i, 0]
        for j in range(1, c):
            if s[i, j] > m:
                m = s[i, j]
        z = 0.0
        for j in range(c):
            e = math.exp(s[i, j] - m)
            probs[i, j] = e
            z += e
        total += math.log(z) - (s[i, yi] - m)           # -log_softmax[y], stable
        for j in range(c):
            p = probs[i, j] / z
            probs[i, j] = p
            dout[i, j] = p / n
        dout[i, yi] -= 1.0 / n
    return total / n


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
