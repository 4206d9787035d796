"""Provides the optimizer update kernels (sgd, momentum, rmsprop, adam), in place.

Every kernel walks flat views of a parameter, its gradient and its state, updating
the parameter and the state in place, exactly as PyTorch defines the rules without
weight decay.
"""

from __future__ import annotations

import math

from tuinn.engine.jit import kernel


@kernel
def sgd_step(w, g, lr):
    """w -= lr * g."""
    for i in range(w.size):
        w[i] -= lr * g[i]


@kernel
def momentum_step(w, g, v, lr, momentum):
    """v = momentum * v + g; w -= lr * v."""
    for i in range(w.size):
        v[i] = momentum * v[i] + g[i]
        w[i] -= lr * v[i]


@kernel
def rmsprop_step(w, g, v, lr, alpha, eps):
    """v = alpha * v + (1 - alpha) * g**2; w -= lr * g / (sqrt(v) + eps)."""
    for i in range(w.size):
        v[i] = alpha * v[i] + (1.0 - alpha) * g[i] * g[i]
        w[i] -= lr * g[i] / (math.sqrt(v[i]) + eps)


@kernel
def adam_step(w, g, m, v, lr, beta1, beta2, eps, t):
    """Adam step number t (from 1): bias-corrected moments, w -= lr m_hat / (sqrt(v_hat) + eps)."""
    c1 = 1.0 - beta1 ** t
    c2 = 1.0 - beta2 ** t
    for i in range(w.size):
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
        m_hat = m[i] / c1
        v_hat = v[i] / c2
        w[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
