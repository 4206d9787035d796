"""Provides the optimizer update kernels (sgd, momentum, rmsprop, adam), in place.

Every kernel takes a C-contiguous parameter, its gradient and its state (all of one
shape), walks them through flat views made inside the kernel, and updates the
parameter and the state in place, exactly as PyTorch defines the rules without
weight decay.
"""

from __future__ import annotations

import math

import numpy as np

from tuinn.engine.jit import kernel


@kernel
def sgd_step(w, g, lr):
    """w -= lr * g."""
    wf, gf = w.reshape(w.size), g.reshape(g.size)
    for i in range(wf.size):
        wf[i] -= lr * gf[i]


@kernel
def momentum_step(w, g, v, lr, momentum):
    """v = momentum * v + g; w -= lr * v."""
    wf, gf, vf = w.reshape(w.size), g.reshape(g.size), v.reshape(v.size)
    for i in range(wf.size):
        vf[i] = momentum * vf[i] + gf[i]
        wf[i] -= lr * vf[i]


@kernel
def rmsprop_step(w, g, v, lr, alpha, eps):
    """v = alpha * v + (1 - alpha) * g**2; w -= lr * g / (sqrt(v) + eps)."""
    wf, gf, vf = w.reshape(w.size), g.reshape(g.size), v.reshape(v.size)
    for i in range(wf.size):
        vf[i] = alpha * vf[i] + (1.0 - alpha) * gf[i] * gf[i]
        wf[i] -= lr * gf[i] / (math.sqrt(vf[i]) + eps)


@kernel
def adam_step(w, g, m, v, lr, beta1, beta2, eps, t):
    """Adam step number t (from 1): bias-corrected moments, w -= lr m_hat / (sqrt(v_hat) + eps).

    The arithmetic runs in the parameters' dtype: the scalars (and the bias corrections,
    computed in float64) are rounded to it first, so float32 parameters are stepped in
    float32 throughout (no conversions per element; twice the lanes), as PyTorch does;
    float64's arithmetic is as it was. np.sqrt, not math.sqrt: uncompiled (a NumPy
    float32 scalar) it stays float32 as well. beta ** float(t): libm's pow, compiled and
    uncompiled alike (an integer power compiled to repeated products, up to an ulp off
    the uncompiled kernel's and PyTorch's bias corrections)."""
    F = w.dtype.type
    c1 = F(1.0 - beta1 ** float(t))
    c2 = F(1.0 - beta2 ** float(t))
    b1, b2, a1, a2 = F(beta1), F(beta2), F(1.0 - beta1), F(1.0 - beta2)
    lr_, eps_ = F(lr), F(eps)
    wf, gf = w.reshape(w.size), g.reshape(g.size)
    mf, vf = m.reshape(m.size), v.reshape(v.size)
    for i in range(wf.size):
        mf[i] = b1 * mf[i] + a1 * gf[i]
        vf[i] = b2 * vf[i] + a2 * gf[i] * gf[i]
        m_hat = mf[i] / c1
        v_hat = vf[i] / c2
        wf[i] -= lr_ * m_hat / (np.sqrt(v_hat) + eps_)


@kernel
def adam_step_packed(w, g, m, v, lr, beta1, beta2, eps, ts, bounds):
    """adam_step over packed parameters: segment k is w[bounds[k]:bounds[k + 1]] (and
    likewise g, m, v), with its own step count ts[k], advanced here."""
    for k in range(ts.size):
        lo, hi = bounds[k], bounds[k + 1]
        ts[k] += 1
        adam_step(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], lr, beta1, beta2, eps, ts[k])


@kernel
def all_finite(a):
    """True when no element of the 1-D array a is NaN or +-inf (run mode checks the
    packed parameters after every update)."""
    ok = True
    for i in range(a.size):
        ok &= abs(a[i]) < math.inf                   # False for NaN and for +-inf
    return ok
