"""Provides the Numba kernels of the recurrent layers (rnn, lstm, gru): forward and BPTT.

Layout: the caller's arrays are batch first, (N, T, I) in and (N, T, H) out, but the
kernels keep every per-timestep array time major, (T, N, ...), so that the state of one
timestep is a contiguous (N, H) block for the recurrent matmul. The input projection
x @ Wx of all timesteps is one matmul on the (T*N, I) array, the recurrent matmuls are
one per timestep, and the weight gradients are one matmul each over all timesteps.
Gate blocks along the last axis follow the contract: lstm i, f, g, o; gru r, z, n.

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
    Degree 11 in float64 (truncation < 2e-16), 6 in float32 (< 6e-9)."""
    lim, log2e, half, zero, one = F(lim), F(1.4426950408889634), F(0.5), F(0.0), F(1.0)
    ln2hi, ln2lo = F(ln2hi), F(ln2lo)
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = (F(1.0 / factorial(k + 1))
                                                       for k in range(12))
    bias, mbits, ione = I(bias), I(mbits), I(1)

    # (written out twice: a kernel cannot call a plain Python helper)
    def impl64(y):
        y = np.minimum(y, lim)                      # exp(-lim) underflows to 0; NaN stays
        kf = np.fmax(np.floor(y * log2e + half), zero)   # NaN -> k = 0 (r stays NaN)
        r = (kf * ln2hi - y) + kf * ln2lo           # -y + k ln2, Cody-Waite
        r2 = r * r
        r4 = r2 * r2
        p = (((c0 + c1 * r) + r2 * (c2 + c3 * r)) + r4 * ((c4 + c5 * r) + r2 * (c6 + c7 * r))
             + (r4 * r4) * ((c8 + c9 * r) + r2 * (c10 + c11 * r)))
        q = r * p                                   # expm1(r)
        k = I(kf)
        k1 = k >> ione                              # 2**-k as two normal factors
        s1 = I((bias - k1) << mbits).view(F)
        s2 = I((bias - (k - k1)) << mbits).view(F)
        s = s1 * s2
        return (s1 * (one + q)) * s2, s * q + (s - one)

    def impl32(y):
        y = np.minimum(y, lim)
        kf = np.fmax(np.floor(y * log2e + half), zero)
        r = (kf * ln2hi - y) + kf * ln2lo
        r2 = r * r
        p = ((c0 + c1 * r) + r2 * (c2 + c3 * r)) + (r2 * r2) * ((c4 + c5 * r) + r2 * c6)
        q = r * p
        k = I(kf)
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

@kernel
def _project(x, Wx, xt, xp):
    """xt = x time major; xp = xt @ Wx for all timesteps in one matmul."""
    N, T, I = x.shape
    for t in range(T):
        for n in range(N):
            xt[t, n, :] = x[n, t, :]                                  # (T, N, I)
    np.dot(xt.reshape(T * N, I), Wx, xp.reshape(T * N, xp.shape[2]))  # (T*N, G*H)


@kernel
def _seed_dh(dh, dhrec, dy, t, seq):
    """dh[t] = what flows back from t+1 (dhrec) + the output gradient at t."""
    T, N, H = dh.shape
    for n in range(N):
        d = dh[t, n]
        if t == T - 1:
            d[:] = 0.0
        else:
            d[:] = dhrec[n]
        if seq:
            d += dy[n, t]
        elif t == T - 1:
            d += dy[n, 0]


@kernel
def _colsum(a, out):
    """out = a summed over its leading (T, N) axes."""
    out[:] = 0.0
    T, N, G = a.shape
    for t in range(T):
        for n in range(N):
            out += a[t, n]


@kernel
def _input_grads(dA, Wx, xt, dxt, dx, dWx, db):
    """dWx, db and dx from the pre-activation gradients of all timesteps."""
    T, N, G = dA.shape
    I = xt.shape[2]
    dA2 = dA.reshape(T * N, G)                                        # (T*N, G*H)
    np.dot(xt.reshape(T * N, I).T, dA2, dWx)                          # (I, G*H)
    np.dot(dA2, Wx.T, dxt.reshape(T * N, I))                          # (T*N, I)
    for n in range(N):
        for t in range(T):
            dx[n, t, :] = dxt[t, n, :]                                # (N, T, I)
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
def rnn_backward_kernel(dy, seq, Wx, Wh, xt, hs, dh, dA, dhrec, dxt, dx, dWx, dWh, db):
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
    _input_grads(dA, Wx, xt, dxt, dx, dWx, db)


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
def lstm_backward_kernel(dy, seq, Wx, Wh, xt, gates, cs, hs, tc, dh, dc, dA, dhrec,
                         dxt, dx, dWx, dWh, db):
    """BPTT: dh, dc (T, N, H) are the total gradients at each t; dA (T, N, 4H) = d pre-acts."""
    T, N, H4 = dA.shape
    H = H4 // 4
    one = dA.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            np.dot(dA[t + 1], Wh.T, dhrec)                            # (N, H)
        _seed_dh(dh, dhrec, dy, t, seq)
        for n in range(N):
            g, d, da, dcr = gates[t, n], dh[t, n], dA[t, n], dc[t, n]
            cp, th = cs[t, n], tc[t, n]
            if t < T - 1:
                dcn, fn = dc[t + 1, n], gates[t + 1, n, H:2 * H]
                for j in range(H):
                    dcr[j] = dcn[j] * fn[j]
            else:
                dcr[:] = 0.0
            for j in range(H):
                o_, t_ = g[3 * H + j], th[j]
                dcr[j] += d[j] * o_ * (one - t_ * t_)
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
    _input_grads(dA, Wx, xt, dxt, dx, dWx, db)


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
def gru_backward_kernel(dy, seq, Wx, Wh, xt, gates, hn, hs, dh, dA, dAh, dhrec,
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
    _input_grads(dA, Wx, xt, dxt, dx, dWx, dbx)


# ------------------------------------------------------------------ wrappers

def workspace_shapes(cell: str, N: int, T: int, I: int, H: int) -> dict[str, tuple[int, ...]]:
    """The buffers one (cell, N, T, I, H) needs, by name; the kernels overwrite all of them."""
    G = GATES[cell] * H
    shapes = dict(xt=(T, N, I), xp=(T, N, G), rec=(N, G), hs=(T + 1, N, H), dh=(T, N, H),
                  dA=(T, N, G), dhrec=(N, H), dxt=(T, N, I), dx=(N, T, I))
    if cell == "lstm":
        shapes.update(gates=(T, N, G), cs=(T + 1, N, H), tc=(T, N, H), dc=(T, N, H))
    elif cell == "gru":
        shapes.update(gates=(T, N, G), hn=(T, N, H), dAh=(T, N, G))
    return shapes


def _c(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def recurrent_forward(cell: str, x: np.ndarray, params: dict[str, np.ndarray],
                      ws: dict[str, np.ndarray]) -> None:
    """Run the forward kernel of `cell` on x (N, T, I); the results stay in `ws`."""
    dt = ws["hs"].dtype
    x = _c(x, dt)
    Wx, Wh = _c(params["Wx"], dt), _c(params["Wh"], dt)
    if cell == "rnn":
        rnn_forward_kernel(x, Wx, Wh, _c(params["b"], dt), ws["xt"], ws["xp"], ws["rec"], ws["hs"])
    elif cell == "lstm":
        lstm_forward_kernel(x, Wx, Wh, _c(params["b"], dt), ws["xt"], ws["xp"], ws["rec"],
                            ws["gates"], ws["cs"], ws["hs"], ws["tc"])
    else:
        gru_forward_kernel(x, Wx, Wh, _c(params["bx"], dt), _c(params["bh"], dt), ws["xt"],
                           ws["xp"], ws["rec"], ws["gates"], ws["hn"], ws["hs"])


def recurrent_backward(cell: str, dy: np.ndarray, seq: bool, params: dict[str, np.ndarray],
                       ws: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> np.ndarray:
    """BPTT for the last forward: dy is (N, T, H) if seq else (N, H). Writes every
    gradient into `grads` (replacing an entry that is not a contiguous array of the
    dtype) and returns dx (N, T, I), a view of ws["dx"]."""
    dt = ws["hs"].dtype
    N, H = ws["hs"].shape[1:]
    dy3 = _c(dy, dt).reshape(N, -1, H)                                # (N, T or 1, H)
    Wx, Wh = _c(params["Wx"], dt), _c(params["Wh"], dt)
    for k, p in params.items():
        g = grads.get(k)
        if g is None or g.shape != p.shape or g.dtype != dt or not g.flags.c_contiguous:
            grads[k] = np.zeros(p.shape, dt)
    common = (dy3, bool(seq), Wx, Wh, ws["xt"])
    if cell == "rnn":
        rnn_backward_kernel(*common, ws["hs"], ws["dh"], ws["dA"], ws["dhrec"],
                            ws["dxt"], ws["dx"], grads["Wx"], grads["Wh"], grads["b"])
    elif cell == "lstm":
        lstm_backward_kernel(*common, ws["gates"], ws["cs"], ws["hs"], ws["tc"],
                             ws["dh"], ws["dc"], ws["dA"], ws["dhrec"], ws["dxt"], ws["dx"],
                             grads["Wx"], grads["Wh"], grads["b"])
    else:
        gru_backward_kernel(*common, ws["gates"], ws["hn"], ws["hs"], ws["dh"],
                            ws["dA"], ws["dAh"], ws["dhrec"], ws["dxt"], ws["dx"],
                            grads["Wx"], grads["Wh"], grads["bx"], grads["bh"])
    return ws["dx"]


from tuinn.engine.kernels import recurrent_np  # noqa: E402,F401  (cold start: their stand-ins)
