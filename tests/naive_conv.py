"""Provides slow, obvious NumPy references for the conv2d and pooling kernels, and
centred finite differences."""

from __future__ import annotations

import numpy as np


def out_size(size, k, p, s):
    return (size - k + 2 * p) // s + 1


def pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv2d_forward(x, W, b, stride, padding):
    N, C, H, Wd = x.shape
    F, _, K, _ = W.shape
    OH, OW = out_size(H, K, padding, stride), out_size(Wd, K, padding, stride)
    xp = pad(x, padding)
    y = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    r, c = i * stride, j * stride
                    y[n, f, i, j] = np.sum(xp[n, :, r:r + K, c:c + K] * W[f]) + b[f]
    return y


def conv2d_backward(x, W, dy, stride, padding):
    """(dx, dW, db) for y = conv2d(x, W, b) and upstream dy."""
    N, C, H, Wd = x.shape
    F, _, K, _ = W.shape
    xp = pad(x, padding)
    dxp = np.zeros_like(xp, dtype=float)
    dW = np.zeros(W.shape)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    r, c = i * stride, j * stride
                    g = dy[n, f, i, j]
                    dW[f] += g * xp[n, :, r:r + K, c:c + K]
                    dxp[n, :, r:r + K, c:c + K] += g * W[f]
                    db[f] += g
    return dxp[:, :, padding:padding + H, padding:padding + Wd], dW, db


def pool_forward(x, size, stride, kind):
    """(y, winners) where winners[n, c, i, j] = (row, col) of the max (max pooling)."""
    N, C, H, Wd = x.shape
    OH, OW = out_size(H, size, 0, stride), out_size(Wd, size, 0, stride)
    y = np.zeros((N, C, OH, OW))
    winners = np.zeros((N, C, OH, OW, 2), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    r, q = i * stride, j * stride
                    win = x[n, c, r:r + size, q:q + size]
                    if kind == "max":
                        a = int(np.argmax(win))          # first maximum, row-major
                        y[n, c, i, j] = win.flat[a]
                        winners[n, c, i, j] = (r + a // size, q + a % size)
                    else:
                        y[n, c, i, j] = win.mean()
    return y, winners


def pool_backward(x, dy, size, stride, kind):
    _, winners = pool_forward(x, size, stride, kind)
    dx = np.zeros(x.shape)
    N, C, OH, OW = dy.shape
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    if kind == "max":
                        r, q = winners[n, c, i, j]
                        dx[n, c, r, q] += dy[n, c, i, j]
                    else:
                        r, q = i * stride, j * stride
                        dx[n, c, r:r + size, q:q + size] += dy[n, c, i, j] / size ** 2
    return dx


def numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def assert_grad_close(numeric, analytic, tol=1e-6):
    """Relative error |n - a| / max(1, |n|, |a|) below tol everywhere (the floor of 1
    keeps the round-off of (f(x+eps) - f(x-eps)) / 2eps, ~1e-8 here, from failing tiny
    gradients)."""
    err = np.abs(numeric - analytic) / np.maximum(1.0, np.maximum(np.abs(numeric),
                                                                  np.abs(analytic)))
    assert err.max(initial=0.0) < tol, f"max relative error {err.max():.3g}"
