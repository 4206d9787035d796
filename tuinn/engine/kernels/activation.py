"""Provides the elementwise kernels: relu, leaky relu, sigmoid, tanh, dropout, add.

Every kernel walks flat 1-D views of C-contiguous arrays (any (N, ...) shape) and
writes into buffers the caller owns. Forward and backward sit side by side.
"""

from __future__ import annotations

import math

import numpy as np

from tuinn.engine.jit import kernel


# ------------------------------------------------------------------------ relu
@kernel
def relu_forward(x, y, mask):
    """y = max(x, 0); mask = 1 where x > 0 else 0 (flat views)."""
    for i in range(x.size):
        if x[i] > 0.0:
            y[i] = x[i]
            mask[i] = 1.0
        else:
            y[i] = 0.0
            mask[i] = 0.0


@kernel
def relu_backward(dy, mask, dx):
    """dx = dy * mask."""
    for i in range(dy.size):
        dx[i] = dy[i] * mask[i]


# ------------------------------------------------------------------ leaky relu
@kernel
def leaky_relu_forward(x, slope, y, mask):
    """y = x where x > 0 else slope * x; mask = the local gradient (1 or slope)."""
    for i in range(x.size):
        if x[i] > 0.0:
            y[i] = x[i]
            mask[i] = 1.0
        else:
            y[i] = slope * x[i]
            mask[i] = slope


# leaky relu's backward is relu_backward with the slope-valued mask


# --------------------------------------------------------------------- sigmoid
@kernel
def sigmoid_forward(x, y):
    """y = 1 / (1 + exp(-x)), evaluated without overflow for large |x|."""
    for i in range(x.size):
        v = x[i]
        if v >= 0.0:
            y[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            y[i] = e / (1.0 + e)


@kernel
def sigmoid_backward(dy, y, dx):
    """dx = dy * y * (1 - y)."""
    for i in range(dy.size):
        dx[i] = dy[i] * y[i] * (1.0 - y[i])


# ------------------------------------------------------------------------ tanh
@kernel
def tanh_forward(x, y):
    """y = tanh(x)."""
    for i in range(x.size):
        y[i] = math.tanh(x[i])


@kernel
def tanh_backward(dy, y, dx):
    """dx = dy * (1 - y**2)."""
    for i in range(dy.size):
        dx[i] = dy[i] * (1.0 - y[i] * y[i])


# --------------------------------------------------------------------- dropout
@kernel
def dropout_mask(u, keep, mask):
    """Turn uniform draws u in [0, 1) into an inverted-dropout mask, in place.

    mask = 1/keep where u < keep (kept), else 0; keep = 1 - p.
    """
    scale = 1.0 / keep if keep > 0.0 else 0.0
    for i in range(u.size):
        mask[i] = scale if u[i] < keep else 0.0


@kernel
def mul_forward(x, mask, y):
    """y = x * mask (dropout forward and backward alike)."""
    for i in range(x.size):
        y[i] = x[i] * mask[i]


# ------------------------------------------------------------------------- add
@kernel
def add(a, b, out):
    """out = a + b (residual connections: forward and backward)."""
    for i in range(a.size):
        out[i] = a[i] + b[i]


def flat(a: np.ndarray) -> np.ndarray:
    """A flat 1-D view of a C-contiguous array (copying only if it is not contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)
