"""Provides the elementwise kernels: relu, leaky relu, sigmoid, tanh, dropout, add.

Every kernel takes C-contiguous arrays of one (N, ...) shape, walks them through flat
views made inside the kernel (cheaper than reshaping in Python on every call), and
writes into buffers the caller owns. Forward and backward sit side by side.
"""

from __future__ import annotations

import math

from tuinn.engine.jit import kernel


# ------------------------------------------------------------------------ relu
@kernel
def relu_forward(x, y, mask):
    """y = max(x, 0); mask = 1 where x > 0 else 0."""
    xf, yf, mf = x.reshape(x.size), y.reshape(y.size), mask.reshape(mask.size)  # (N*...,)
    for i in range(xf.size):
        if xf[i] > 0.0:
            yf[i] = xf[i]
            mf[i] = 1.0
        else:
            yf[i] = 0.0
            mf[i] = 0.0


@kernel
def relu_backward(dy, mask, dx):
    """dx = dy * mask (also leaky relu's backward: its mask holds 1 or slope)."""
    gf, mf, df = dy.reshape(dy.size), mask.reshape(mask.size), dx.reshape(dx.size)
    for i in range(gf.size):
        df[i] = gf[i] * mf[i]


# ------------------------------------------------------------------ leaky relu
@kernel
def leaky_relu_forward(x, slope, y, mask):
    """y = x where x > 0 else slope * x; mask = the local gradient (1 or slope)."""
    xf, yf, mf = x.reshape(x.size), y.reshape(y.size), mask.reshape(mask.size)
    for i in range(xf.size):
        if xf[i] > 0.0:
            yf[i] = xf[i]
            mf[i] = 1.0
        else:
            yf[i] = slope * xf[i]
            mf[i] = slope


# --------------------------------------------------------------------- sigmoid
@kernel
def sigmoid_forward(x, y):
    """y = 1 / (1 + exp(-x)), evaluated without overflow for large |x|."""
    xf, yf = x.reshape(x.size), y.reshape(y.size)
    for i in range(xf.size):
        v = xf[i]
        if v >= 0.0:
            yf[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            yf[i] = e / (1.0 + e)


@kernel
def sigmoid_backward(dy, y, dx):
    """dx = dy * y * (1 - y)."""
    gf, yf, df = dy.reshape(dy.size), y.reshape(y.size), dx.reshape(dx.size)
    for i in range(gf.size):
        df[i] = gf[i] * yf[i] * (1.0 - yf[i])


# ------------------------------------------------------------------------ tanh
@kernel
def tanh_forward(x, y):
    """y = tanh(x)."""
    xf, yf = x.reshape(x.size), y.reshape(y.size)
    for i in range(xf.size):
        yf[i] = math.tanh(xf[i])


@kernel
def tanh_backward(dy, y, dx):
    """dx = dy * (1 - y**2)."""
    gf, yf, df = dy.reshape(dy.size), y.reshape(y.size), dx.reshape(dx.size)
    for i in range(gf.size):
        df[i] = gf[i] * (1.0 - yf[i] * yf[i])


# --------------------------------------------------------------------- dropout
@kernel
def dropout_mask(u, keep, mask):
    """Turn uniform draws u in [0, 1) into an inverted-dropout mask.

    mask = 1/keep where u < keep (kept), else 0; keep = 1 - p.
    """
    uf, mf = u.reshape(u.size), mask.reshape(mask.size)
    scale = 1.0 / keep if keep > 0.0 else 0.0
    for i in range(uf.size):
        mf[i] = scale if uf[i] < keep else 0.0


@kernel
def mul_forward(x, mask, y):
    """y = x * mask (dropout forward and backward alike)."""
    xf, mf, yf = x.reshape(x.size), mask.reshape(mask.size), y.reshape(y.size)
    for i in range(xf.size):
        yf[i] = xf[i] * mf[i]


# ------------------------------------------------------------------------- add
@kernel
def add(a, b, out):
    """out = a + b (residual connections: forward and backward)."""
    af, bf, of = a.reshape(a.size), b.reshape(b.size), out.reshape(out.size)
    for i in range(af.size):
        of[i] = af[i] + bf[i]
