"""Provides the exact GELU kernels: y = x * Phi(x) with Phi the normal CDF (erf form).

Forward and backward side by side; every array is C-contiguous, of one (N, ...) shape,
walked through flat views, and written into buffers the caller owns.
"""

from __future__ import annotations

import math

from tuinn.engine.jit import kernel

_SQRT_HALF = 0.7071067811865476            # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327         # 1 / sqrt(2 pi)


@kernel
def gelu_forward(x, y):
    """y = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 (as torch's approximate='none')."""
    xf, yf = x.reshape(x.size), y.reshape(y.size)                  # (N*...,)
    for i in range(xf.size):
        v = xf[i]
        yf[i] = v * 0.5 * (1.0 + math.erf(v * _SQRT_HALF))


@kernel
def gelu_backward(x, dy, dx):
    """dx = dy * (Phi(x) + x * phi(x)), phi the normal density."""
    xf, gf, df = x.reshape(x.size), dy.reshape(dy.size), dx.reshape(dx.size)
    for i in range(xf.size):
        v = xf[i]
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT_HALF))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
        df[i] = gf[i] * (cdf + v * pdf)
