"""Provides the Numba kernels of the recurrent layers (rnn, lstm, gru): forward and BPTT.

Layout: the caller's arrays are batch first, (N, T, I) in and (N, T, H) out, but the
kernels keep every per-timestep array time major, (T, N, ...), so that the state of one
timestep is a contiguous (N, H) block for the recurrent matmul. The input projection
x @ Wx of all timesteps is one matmul on the (T*N, I) array, the recurrent matmuls are
one per timestep, and the weight gradients are one matmul each over all timesteps
(dWx = X^T dA, dWh = H_prev^T dA, dx = dA Wx^T; db one column sum). The K = I products
(projection, dx, dWx) run in blocks of whole timesteps small enough for OpenBLAS's
small-matrix kernels (~1.5-2x faster): rows are independent, so the projection and dx
keep their values; dWx becomes a sum of up to 4 partial products, its summation order
changed within rounding (W3's two halves give the same bits here: OpenBLAS splits K at
256 itself). Gate blocks along the last axis follow the contract: lstm i, f, g, o; gru
r, z, n. The backward kernels take `need_dx`: off (a first layer in run mode), no dx.
Their calls from Python are in kernels/recurrent_calls.py. Where the time goes, and why
the loops stay one per gate block (a fused loop stops LLVM vectorising): benchmarks/
README.md, "W3 (the LSTM)".

sigmoid and tanh are computed from `_expneg`, an exp(-y) written out as a polynomial
so that LLVM vectorises the gate loops (there is no SVML, and a libm call costs
~5-20 ns an element); sigmoid and tanh are within a few ulp in float64 and float32
and keep NaN.
"""

from __future__ import annotations

from math import factorial

import numpy as np
from numba import types
from numba.extending import overload

from tuinn.engine.jit import kernel

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


# ------------------------------------------------------------------ sigmoid, tanh

def _expneg(y):
    """(exp(-y), expm1(-y)) for y >= 0, in the dtype of y. In a kernel run uncompiled
    (tuinn/engine/jit.py) the same code, for the NumPy scalar's type."""
    return _EXPNEG[_py_type(y)](y)


def _make_expneg(F, I, lim, ln2hi, ln2lo, mbits, bias, float64):
    """exp(-y) = 2**-k * exp(r), k = round(y / ln 2), |r| <= ln2 / 2, with
    expm1(r) = r * P(r), P the Taylor polynomial of (e**r - 1) / r evaluated by Estrin's
    scheme (short dependency chains: no FMA without fastmath, so Horner is latency bound).
    Degree 11 in float64 (truncation < 2e-16), 6 in float32 (< 6e-9).

    k = rint(y / ln 2) is read from the bits of y / ln 2 + 1.5 * 2**mbits (`magic`): no
    floor, NaN fix-up or float-to-int conversion (float64's vectorises only with
    AVX-512); exp ~18% faster in float64. A NaN y gives some k, and r stays NaN."""
    lim, log2e, one = F(lim), F(1.4426950408889634), F(1.0)
    magic = F(1.5 * 2.0 ** mbits)
    mbits_magic = magic.view(I)
    ln2hi, ln2lo = F(ln2hi), F(ln2lo)
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = (F(1.0 / factorial(k + 1))
                                                       for k in range(12))
    bias, mbits, ione = I(bias), I(mbits), I(1)

    # (written out twice: a kernel cannot call a plain Python helper)
    def impl64(y):
        y = np.minimum(y, lim)                      # exp(-lim) underflows to 0; NaN stays
        tk = y * log2e + magic                      # k in the low bits (0 <= k <= 1075)
        kf = tk - magic
        r = (kf * ln2hi - y) + kf * ln2lo           # -y + k ln2, Cody-Waite
        r2 = r * r
        r4 = r2 * r2
        p = (((c0 + c1 * r) + r2 * (c2 + c3 * r)) + r4 * ((c4 + c5 * r) + r2 * (c6 + c7 * r))
             + (r4 * r4) * ((c8 + c9 * r) + r2 * (c10 + c11 * r)))
        q = r * p                                   # expm1(r)
        k = F(tk).view(I) - mbits_magic
        k1 = k >> ione                              # 2**-k as two normal factors
        s1 = I((bias - k1) << mbits).view(F)
        s2 = I((bias - (k - k1)) << mbits).view(F)
        s = s1 * s2
        return (s1 * (one + q)) * s2, s * q + (s - one)

    def impl32(y):
        y = np.minimum(y, lim)
        tk = y * log2e + magic
        kf = tk - magic
        r = (kf * ln2hi - y) + kf * ln2lo
        r2 = r * r
        p = ((c0 + c1 * r) + r2 * (c2 + c3 * r)) + (r2 * r2) * ((c4 + c5 * r) + r2 * c6)
        q = r * p
        k = F(tk).view(I) - mbits_magic
        k1 = k >> ione
        s1 = I((bias - k1) << mbits).view(F)
        s2 = I((bias - (k - k1)) << mbits).view(F)
        s = s1 * s2
        return (s1 * (one + q)) * s2, s * q + (s - one)
    return impl64 if float64 else impl32


def _py_type(y):
    """The Numba type of a NumPy scalar's or array's dtype (a Python float: float64)."""
    return types.float32 if getattr(y, "dtype", None) == np.float32 else types.float64


_EXPNEG = {
    types.float64: _make_expneg(np.float64, np.int64, 745.2, 6.93147180369123816490e-01,
                                1.90821492927058770002e-10, 52, 1023, True),
    types.float32: _make_expneg(np.float32, np.int32, 104.0, 0.693359375,
                                -2.12194440e-4, 23, 127, False),
}


@overload(_expneg, inline="always")
def _ov_expneg(y):
    return _EXPNEG.get(y)


def _sigmoid(z):
    """Stable logistic function (uncompiled: the same code, as `_expneg`)."""
    return _ACT[_py_type(z)][0](z)


def _tanh(z):
    """tanh from expm1 (accurate near 0; uncompiled: the same code, as `_expneg`)."""
    return _ACT[_py_type(z)][1](z)


def _make_act(F):
    zero, one, two = F(0.0), F(1.0), F(2.0)

    def sigmoid(z):
        e, em = _expneg(abs(z))
        num = np.maximum(e, F(z >= zero))           # 1 for z >= 0, else e; NaN stays
        return np.divide(num, one + e)              # np.divide: no raise, vectorises

    def tanh(z):
        e, em = _expneg(two * abs(z))
        return np.copysign(np.divide(zero - em, two + em), z)
    return sigmoid, tanh


_ACT = {types.float64: _make_act(np.float64), types.float32: _make_act(np.float32)}


@overload(_sigmoid, inline="always")
def _ov_sigmoid(z):
    return _ACT[z][0] if z in _ACT else None


@overload(_tanh, inline="always")
def _ov_tanh(z):
    return _ACT[z][1] if z in _ACT else None


# ------------------------------------------------------------------ shared steps

SMALL_GEMM = 1 << 19     # multiply-adds; OpenBLAS's small-matrix kernels take up to 1e6


@kernel
def _chunk_steps(N, T, I, G):
    """Timesteps per block of a (T*N, I) x (I, G) product: <= SMALL_GEMM, at least 1."""
    return max(1, min(T, SMALL_GEMM // max(1, N * I * G)))


@kernel
def _project(x, Wx, xt, xp):
    """xt = x time major; xp = xt @ Wx for all timesteps, in blocks of timesteps."""
    N, T, I = x.shape
    G = xp.shape[2]
    for t in range(T):                                                # (T, N, I); loops, as
        for n in range(N):                                            # below: an array
            src, dst = x[n, t], xt[t, n]                              # assignment compiles
            for j in range(I):                                        # its shape errors'
                dst[j] = src[j]                                       # messages (seconds)
    xt2, xp2 = xt.reshape(T * N, I), xp.reshape(T * N, G)
    rows = _chunk_steps(N, T, I, G) * N
    for s in range(0, T * N, rows):
        e = min(s + rows, T * N)
        np.dot(xt2[s:e], Wx, xp2[s:e])                                # (rows, G*H)


@kernel
def _seed_dh(dh, dhrec, dy, t, seq):
    """dh[t] = what flows back from t+1 (dhrec) + the output gradient at t, in one pass
    (at T-1: 0 + dy, so that -0.0 becomes 0.0 as it always did)."""
    T, N, H = dh.shape
    zero = dh.dtype.type(0.0)
    for n in range(N):
        d = dh[t, n]                                                  # (H,)
        if t == T - 1:
            y = dy[n, t] if seq else dy[n, 0]
            for j in range(H):
                d[j] = zero + y[j]
        elif seq:
            r, y = dhrec[n], dy[n, t]
            for j in range(H):
                d[j] = r[j] + y[j]
        else:
            r = dhrec[n]
            for j in range(H):
                d[j] = r[j]


@kernel
def _colsum(a, out):
    """out = a summed over its leading (T, N) axes."""
    out[:] = 0.0
    T, N, G = a.shape
    for t in range(T):
        for n in range(N):
            row = a[t, n]
            for j in range(G):
                out[j] += row[j]


@kernel
def _input_grads(dA, Wx, xt, need_dx, dxt, dx, dWx, db):
    """dWx, db and (need_dx: a first layer's goes unused in run mode) dx from the
    pre-activation gradients of all timesteps."""
    T, N, G = dA.shape
    I = xt.shape[2]
    dA2, xt2 = dA.reshape(T * N, G), xt.reshape(T * N, I)             # (T*N, G*H), (T*N, I)
    rows = _chunk_steps(N, T, I, G) * N
    if rows * 4 < T * N:
        np.dot(xt2.T, dA2, dWx)                                       # (I, G*H)
    else:                    # up to 4 partial sums over blocks of timesteps (see above)
        np.dot(xt2[:rows].T, dA2[:rows], dWx)
        if rows < T * N:
            part = np.empty_like(dWx)
            for s in range(rows, T * N, rows):
                e = min(s + rows, T * N)
                np.dot(xt2[s:e].T, dA2[s:e], part)
                for i in range(I):
                    for j in range(G):
                        dWx[i, j] += part[i, j]
    if need_dx:
        dxt2 = dxt.reshape(T * N, I)
        for s in range(0, T * N, rows):                               # as in _project
            e = min(s + rows, T * N)
            np.dot(dA2[s:e], Wx.T, dxt2[s:e])                         # (rows, I)
        for n in range(N):
            for t in range(T):
                src, dst = dxt[t, n], dx[n, t]                        # (N, T, I)
                for j in range(I):
                    dst[j] = src[j]
    _colsum(dA, db)


# ------------------------------------------------------------------ rnn

@kernel
def rnn_forward_kernel(x, Wx, Wh, b, xt, xp, rec, hs):
    """hs[t+1] = tanh(x_t Wx + hs[t] Wh + b), hs[0] = 0."""
    T, N, H = xp.shape
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, H)
        for n in range(N):
            a, r, h = xp[t, n], rec[n], hs[t + 1, n]
            for j in range(H):
                h[j] = _tanh(a[j] + r[j] + b[j])


@kernel
def rnn_backward_kernel(dy, seq, need_dx, Wx, Wh, xt, hs, dh, dA, dhrec, dxt, dx, dWx, dWh,
                        db):
    T, N, H = dh.shape
    one = dA.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            np.dot(dA[t + 1], Wh.T, dhrec)                            # (N, H)
        _seed_dh(dh, dhrec, dy, t, seq)
        for n in range(N):
            d, h, da = dh[t, n], hs[t + 1, n], dA[t, n]
            for j in range(H):
                da[j] = d[j] * (one - h[j] * h[j])
    np.dot(hs[:T].reshape(T * N, H).T, dA.reshape(T * N, H), dWh)    # (H, H)
    _input_grads(dA, Wx, xt, need_dx, dxt, dx, dWx, db)


# ------------------------------------------------------------------ lstm

@kernel
def lstm_forward_kernel(x, Wx, Wh, b, xt, xp, rec, gates, cs, hs, tc):
    """gates[t] = (i, f, g, o) post-activation; cs, hs (T+1, N, H) with cs[0] = hs[0] = 0."""
    T, N, H4 = xp.shape
    H = H4 // 4
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    cs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, 4H)
        for n in range(N):
            a, r, g = xp[t, n], rec[n], gates[t, n]                   # (4H,)
            for j in range(2 * H):
                g[j] = _sigmoid(a[j] + r[j] + b[j])                   # i, f
            for j in range(2 * H, 3 * H):
                g[j] = _tanh(a[j] + r[j] + b[j])                      # g
            for j in range(3 * H, 4 * H):
                g[j] = _sigmoid(a[j] + r[j] + b[j])                   # o
            cp, c, h, th = cs[t, n], cs[t + 1, n], hs[t + 1, n], tc[t, n]
            for j in range(H):
                c[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j]
            for j in range(H):
                th[j] = _tanh(c[j])
                h[j] = g[3 * H + j] * th[j]


@kernel
def lstm_backward_kernel(dy, seq, need_dx, Wx, Wh, xt, gates, cs, hs, tc, dh, dc, dA,
                         dhrec, dxt, dx, dWx, dWh, db):
    """BPTT: dh, dc (T, N, H) are the total gradients at each t; dA (T, N, 4H) = d pre-acts."""
    T, N, H4 = dA.shape
    H = H4 // 4
    one, zero = dA.dtype.type(1.0), dA.dtype.type(0.0)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            np.dot(dA[t + 1], Wh.T, dhrec)                            # (N, H)
        _seed_dh(dh, dhrec, dy, t, seq)
        for n in range(N):
            g, d, da, dcr = gates[t, n], dh[t, n], dA[t, n], dc[t, n]
            cp, th = cs[t, n], tc[t, n]
            if t < T - 1:                                             # dc[t+1] * f[t+1] + ...
                dcn, fn = dc[t + 1, n], gates[t + 1, n, H:2 * H]
                for j in range(H):
                    o_, t_ = g[3 * H + j], th[j]
                    dcr[j] = dcn[j] * fn[j] + d[j] * o_ * (one - t_ * t_)
            else:
                for j in range(H):
                    o_, t_ = g[3 * H + j], th[j]
                    dcr[j] = zero + d[j] * o_ * (one - t_ * t_)
            for j in range(H):
                i_ = g[j]
                da[j] = dcr[j] * g[2 * H + j] * i_ * (one - i_)           # di
            for j in range(H):
                f_ = g[H + j]
                da[H + j] = dcr[j] * cp[j] * f_ * (one - f_)              # df
            for j in range(H):
                g_ = g[2 * H + j]
                da[2 * H + j] = dcr[j] * g[j] * (one - g_ * g_)           # dg
            for j in range(H):
                o_ = g[3 * H + j]
                da[3 * H + j] = d[j] * th[j] * o_ * (one - o_)            # do
    np.dot(hs[:T].reshape(T * N, H).T, dA.reshape(T * N, H4), dWh)   # (H, 4H)
    _input_grads(dA, Wx, xt, need_dx, dxt, dx, dWx, db)


# ------------------------------------------------------------------ gru

@kernel
def gru_forward_kernel(x, Wx, Wh, bx, bh, xt, xp, rec, gates, hn, hs):
    """gates[t] = (r, z, n); hn[t] = h[t-1] Whn + bhn (needed by backward)."""
    T, N, H3 = xp.shape
    H = H3 // 3
    one = x.dtype.type(1.0)
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, 3H)
        for n in range(N):
            a, r, g = xp[t, n], rec[n], gates[t, n]
            hp, h, hnr = hs[t, n], hs[t + 1, n], hn[t, n]
            for j in range(2 * H):
                g[j] = _sigmoid(a[j] + bx[j] + r[j] + bh[j])          # r, z
            for j in range(H):
                hnr[j] = r[2 * H + j] + bh[2 * H + j]                 # h Whn + bhn
            for j in range(H):
                g[2 * H + j] = _tanh(a[2 * H + j] + bx[2 * H + j] + g[j] * hnr[j])   # n
            for j in range(H):
                z_ = g[H + j]
                h[j] = (one - z_) * g[2 * H + j] + z_ * hp[j]


@kernel
def gru_backward_kernel(dy, seq, need_dx, Wx, Wh, xt, gates, hn, hs, dh, dA, dAh, dhrec,
                        dxt, dx, dWx, dWh, dbx, dbh):
    """BPTT: dA (T, N, 3H) = d pre-acts on the x side, dAh on the h side (n part times r)."""
    T, N, H3 = dA.shape
    H = H3 // 3
    one = dA.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            np.dot(dAh[t + 1], Wh.T, dhrec)                           # (N, H)
            for n in range(N):
                dr, d1, z1 = dhrec[n], dh[t + 1, n], gates[t + 1, n, H:2 * H]
                for j in range(H):
                    dr[j] += d1[j] * z1[j]
        _seed_dh(dh, dhrec, dy, t, seq)
        for n in range(N):
            g, d, da, dah = gates[t, n], dh[t, n], dA[t, n], dAh[t, n]
            hp, hnr = hs[t, n], hn[t, n]
            for j in range(H):
                z_, n_ = g[H + j], g[2 * H + j]
                da[2 * H + j] = d[j] * (one - z_) * (one - n_ * n_)      # dn
            for j in range(H):
                r_ = g[j]
                da[j] = da[2 * H + j] * hnr[j] * r_ * (one - r_)          # dr
            for j in range(H):
                z_ = g[H + j]
                da[H + j] = d[j] * (hp[j] - g[2 * H + j]) * z_ * (one - z_)  # dz
            for j in range(2 * H):
                dah[j] = da[j]
            for j in range(H):
                dah[2 * H + j] = da[2 * H + j] * g[j]                     # dn * r
    np.dot(hs[:T].reshape(T * N, H).T, dAh.reshape(T * N, H3), dWh)  # (H, 3H)
    _colsum(dAh, dbh)
    _input_grads(dA, Wx, xt, need_dx, dxt, dx, dWx, dbx)


from tuinn.engine.kernels import recurrent_np  # noqa: E402,F401  (cold start: their stand-ins)
