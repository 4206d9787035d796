"""Provides the normalisation kernels: layer normalisation and batch normalisation.

layernorm works on rows (M, D): each row normalised over its D features. batchnorm
works on a (A, C, B) view, normalising each channel c over its A*B values: (N, C) is
(N, C, 1), (N, C, H, W) is (N, C, H*W) and (N, T, C) is (N*T, C, 1), so no layout is
ever copied. Statistics are accumulated in float64 whatever the arrays' dtype. Forward
and backward sit side by side; outputs go into buffers the caller owns.
"""

from __future__ import annotations

import math

from tuinn.engine.jit import kernel


# ------------------------------------------------------------------ layernorm
@kernel
def layernorm_forward(x, gamma, beta, eps, y, xhat, mean, rstd):
    """Per row: mean, biased variance, xhat = (x - mean) * rstd with rstd =
    1 / sqrt(var + eps), y = gamma * xhat + beta. x, y, xhat (M, D); mean, rstd (M,)."""
    m, d = x.shape
    for r in range(m):
        s = 0.0
        for j in range(d):
            s += x[r, j]
        mu = s / d
        v = 0.0
        for j in range(d):
            t = x[r, j] - mu
            v += t * t
        inv = 1.0 / math.sqrt(v / d + eps)
        mean[r] = mu
        rstd[r] = inv
        for j in range(d):
            h = (x[r, j] - mu) * inv
            xhat[r, j] = h
            y[r, j] = gamma[j] * h + beta[j]


@kernel
def layernorm_backward(dy, xhat, rstd, gamma, dx, dgamma, dbeta):
    """dgamma = sum_rows dy * xhat, dbeta = sum_rows dy; per row, with g = dy * gamma:
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))."""
    m, d = dy.shape
    for j in range(d):
        dgamma[j] = 0.0
        dbeta[j] = 0.0
    for r in range(m):
        s1 = 0.0
        s2 = 0.0
        for j in range(d):
            g = dy[r, j] * gamma[j]
            s1 += g
            s2 += g * xhat[r, j]
            dgamma[j] += dy[r, j] * xhat[r, j]
            dbeta[j] += dy[r, j]
        s1 /= d
        s2 /= d
        for j in range(d):
            dx[r, j] = rstd[r] * (dy[r, j] * gamma[j] - s1 - xhat[r, j] * s2)


# ------------------------------------------------------------------ batchnorm
@kernel
def batchnorm_forward_train(x, gamma, beta, eps, momentum, running_mean, running_var,
                            y, xhat, mean, var, rstd):
    """Training: per channel c of x (A, C, B), the batch mean and the biased variance
    over its A*B values; xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps);
    y = gamma * xhat + beta. The running statistics become (1 - momentum) * running +
    momentum * batch statistic, with the unbiased variance var * n / (n - 1) (n = A*B;
    n = 1 has no unbiased variance: the biased one, 0, is used)."""
    a, c, b = x.shape
    n = a * b
    for k in range(c):
        s = 0.0
        for i in range(a):
            for j in range(b):
                s += x[i, k, j]
        mu = s / n
        v = 0.0
        for i in range(a):
            for j in range(b):
                t = x[i, k, j] - mu
                v += t * t
        v /= n
        inv = 1.0 / math.sqrt(v + eps)
        mean[k] = mu
        var[k] = v
        rstd[k] = inv
        for i in range(a):
            for j in range(b):
                h = (x[i, k, j] - mu) * inv
                xhat[i, k, j] = h
                y[i, k, j] = gamma[k] * h + beta[k]
        unbiased = v * n / (n - 1) if n > 1 else v
        running_mean[k] = (1.0 - momentum) * running_mean[k] + momentum * mu
        running_var[k] = (1.0 - momentum) * running_var[k] + momentum * unbiased


@kernel
def batchnorm_forward_eval(x, gamma, beta, eps, running_mean, running_var, y, xhat, rstd):
    """Evaluation: the running statistics in place of the batch's; nothing is updated."""
    a, c, b = x.shape
    for k in range(c):
        inv = 1.0 / math.sqrt(running_var[k] + eps)
        mu = running_mean[k]
        rstd[k] = inv
        for i in range(a):
            for j in range(b):
                h = (x[i, k, j] - mu) * inv
                xhat[i, k, j] = h
                y[i, k, j] = gamma[k] * h + beta[k]


@kernel
def batchnorm_backward(dy, xhat, rstd, gamma, train, dx, dgamma, dbeta):
    """dgamma = sum dy * xhat, dbeta = sum dy per channel. Training (the batch
    statistics depend on x): dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy *
    xhat)); evaluation (constant running statistics): dx = gamma * rstd * dy."""
    a, c, b = dy.shape
    n = a * b
    for k in range(c):
        s1 = 0.0
        s2 = 0.0
        for i in range(a):
            for j in range(b):
                s1 += dy[i, k, j]
                s2 += dy[i, k, j] * xhat[i, k, j]
        dgamma[k] = s2
        dbeta[k] = s1
        scale = gamma[k] * rstd[k]
        if train:
            m1 = s1 / n
            m2 = s2 / n
            for i in range(a):
                for j in range(b):
                    dx[i, k, j] = scale * (dy[i, k, j] - m1 - xhat[i, k, j] * m2)
        else:
            for i in range(a):
                for j in range(b):
                    dx[i, k, j] = scale * dy[i, k, j]
