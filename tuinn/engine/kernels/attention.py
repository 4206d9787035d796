"""Provides the Numba kernels of multi-head self-attention: forward and backward.

Shapes: x (N, T, D); Wq, Wk, Wv, Wo (D, D); bq, bk, bv, bo (D,); heads h with
dk = D / heads, head h owning columns h*dk .. (h+1)*dk - 1 of Q, K, V and C.
The projections are one matmul each over the (N*T, D) rows; the per-head products
(scores, softmax, weighted sums) are plain loops, T and dk being small.

    Q = x Wq + bq, K = x Wk + bk, V = x Wv + bv                 (N, T, D)
    S[n, h, t, j] = Q_h[n, t] . K_h[n, j] / sqrt(dk)             (N, heads, T, T)
    A[n, h, t]    = softmax over j of S + M (M = -inf for j > t when causal)
    C_h[n, t]     = sum_j A[n, h, t, j] V_h[n, j]                (N, T, D)
    y = C Wo + bo                                                (N, T, D)

S is kept without the mask (the view writes the scores out); masked weights are
exactly 0 and pass no gradient.
"""

from __future__ import annotations

import math

import numpy as np

from tuinn.engine.jit import kernel


@kernel
def _affine(x2, W, b, out2):
    """out2 = x2 @ W + b over rows: (M, D) @ (D, D) + (D,)."""
    np.dot(x2, W, out2)
    M, D = out2.shape
    for m in range(M):
        for d in range(D):
            out2[m, d] += b[d]


@kernel
def attention_forward(x, Wq, Wk, Wv, Wo, bq, bk, bv, bo, heads, causal,
                      Q, K, V, S, A, C, y):
    """Fill Q, K, V, C, y (N, T, D) and S, A (N, heads, T, T) from x (N, T, D)."""
    N, T, D = x.shape
    dk = D // heads
    scale = x.dtype.type(1.0 / math.sqrt(dk))
    zero = x.dtype.type(0.0)
    x2 = x.reshape(N * T, D)
    _affine(x2, Wq, bq, Q.reshape(N * T, D))                       # (N*T, D)
    _affine(x2, Wk, bk, K.reshape(N * T, D))
    _affine(x2, Wv, bv, V.reshape(N * T, D))
    for n in range(N):
        for h in range(heads):
            c0 = h * dk
            for t in range(T):
                q, s, a = Q[n, t], S[n, h, t], A[n, h, t]          # (D,), (T,), (T,)
                for j in range(T):
                    acc = zero
                    k = K[n, j]
                    for d in range(c0, c0 + dk):
                        acc += q[d] * k[d]
                    s[j] = acc * scale
                last = t + 1 if causal else T                      # keys 0 .. last-1
                top = s[0]
                for j in range(1, last):
                    if s[j] > top:                                 # a NaN score makes
                        top = s[j]                                 # the whole row NaN
                total = zero
                for j in range(last):
                    a[j] = math.exp(s[j] - top)    # libm's (so is np.exp compiled; NumPy's
                    total += a[j]                  # own differs: a cold start, jit.py)
                for j in range(last):
                    a[j] = a[j] / total
                for j in range(last, T):
                    a[j] = zero                                    # masked: weight 0
                c = C[n, t]
                for d in range(c0, c0 + dk):
                    c[d] = zero
                for j in range(last):
                    w, v = a[j], V[n, j]
                    for d in range(c0, c0 + dk):
                        c[d] += w * v[d]
    _affine(C.reshape(N * T, D), Wo, bo, y.reshape(N * T, D))       # (N*T, D)


@kernel
def _colsum(a2, out):
    """out = a2 summed over its rows: (M, D) -> (D,)."""
    out[:] = 0.0
    for m in range(a2.shape[0]):
        out += a2[m]


@kernel
def attention_backward(dy, x, Wq, Wk, Wv, Wo, heads, causal, Q, K, V, A, C,
                       dC, dA, dS, dQ, dK, dV, dx,
                       dWq, dWk, dWv, dWo, dbq, dbk, dbv, dbo):
    """From dy (N, T, D): dC, dQ, dK, dV, dx (N, T, D); dA, dS (N, heads, T, T) = the
    gradients at the weights and at the (scaled) scores; every parameter gradient."""
    N, T, D = x.shape
    dk = D // heads
    scale = x.dtype.type(1.0 / math.sqrt(dk))
    zero = x.dtype.type(0.0)
    M = N * T
    dy2, C2, x2 = dy.reshape(M, D), C.reshape(M, D), x.reshape(M, D)
    np.dot(C2.T, dy2, dWo)                                         # (D, D)
    _colsum(dy2, dbo)
    np.dot(dy2, Wo.T, dC.reshape(M, D))                            # (M, D)
    dQ[:] = 0.0
    dK[:] = 0.0
    dV[:] = 0.0
    for n in range(N):
        for h in range(heads):
            c0 = h * dk
            for t in range(T):
                last = t + 1 if causal else T
                a, da, ds, g = A[n, h, t], dA[n, h, t], dS[n, h, t], dC[n, t]
                for j in range(T):
                    da[j] = zero
                    ds[j] = zero
                for j in range(last):
                    acc = zero
                    v, dv = V[n, j], dV[n, j]
                    w = a[j]
                    for d in range(c0, c0 + dk):
                        acc += g[d] * v[d]                         # dA = dC_h . V_h
                        dv[d] += w * g[d]                          # dV_h += A^T dC_h
                    da[j] = acc
                dot = zero
                for j in range(last):
                    dot += a[j] * da[j]
                for j in range(last):
                    ds[j] = a[j] * (da[j] - dot)                   # softmax backward
                q, dq = Q[n, t], dQ[n, t]
                for j in range(last):
                    f = ds[j] * scale
                    k, dkk = K[n, j], dK[n, j]
                    for d in range(c0, c0 + dk):
                        dq[d] += f * k[d]
                        dkk[d] += f * q[d]
    dQ2, dK2, dV2, dx2 = dQ.reshape(M, D), dK.reshape(M, D), dV.reshape(M, D), dx.reshape(M, D)
    np.dot(x2.T, dQ2, dWq)                                         # (D, D)
    np.dot(x2.T, dK2, dWk)
    np.dot(x2.T, dV2, dWv)
    _colsum(dQ2, dbq)
    _colsum(dK2, dbk)
    _colsum(dV2, dbv)
    np.dot(dQ2, Wq.T, dx2)                                         # (M, D)
    dx2 += np.dot(dK2, Wk.T)
    dx2 += np.dot(dV2, Wv.T)
