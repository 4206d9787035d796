"""Provides the dense (affine) kernels: y = x @ W + b and its backward pass.

np.dot inside Numba calls the BLAS that SciPy ships; every output goes into a buffer
the caller allocated (and reuses), so a training step allocates nothing here.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import kernel


@kernel
def dense_forward(x, W, b, y):
    """y = x @ W + b, written into y."""
    np.dot(x, W, y)                                     # (N, O) = (N, I) @ (I, O)
    n, m = y.shape
    for i in range(n):
        for j in range(m):
            y[i, j] += b[j]                             # (N, O) + (O,)


@kernel
def dense_backward(x, W, dy, dx, dW, db):
    """dx = dy @ W.T, dW = x.T @ dy, db = sum of dy over the batch."""
    np.dot(dy, W.T, dx)                                 # (N, I) = (N, O) @ (O, I)
    np.dot(x.T, dy, dW)                                 # (I, O) = (I, N) @ (N, O)
    n, m = dy.shape
    for j in range(m):
        db[j] = 0.0
    for i in range(n):
        for j in range(m):
            db[j] += dy[i, j]                           # (O,)


@kernel
def dense_backward_params(x, dy, dW, db):
    """dW and db only (the first layer's dx is never needed)."""
    np.dot(x.T, dy, dW)                                 # (I, O)
    n, m = dy.shape
    for j in range(m):
        db[j] = 0.0
    for i in range(n):
        for j in range(m):
            db[j] += dy[i, j]                           # (O,)


def dense(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Allocating wrapper of dense_forward: checks shapes, returns a new y."""
    x = np.ascontiguousarray(x, dtype=W.dtype)
    if x.ndim != 2 or x.shape[1] != W.shape[0] or b.shape != (W.shape[1],):
        raise ValueError(f"dense: x {x.shape}, W {W.shape}, b {b.shape} do not fit")
    y = np.empty((x.shape[0], W.shape[1]), dtype=W.dtype)
    dense_forward(x, W, b, y)
    return y


def dense_grads(x: np.ndarray, W: np.ndarray, dy: np.ndarray):
    """Allocating wrapper of dense_backward: returns (dx, dW, db)."""
    x = np.ascontiguousarray(x, dtype=W.dtype)
    dy = np.ascontiguousarray(dy, dtype=W.dtype)
    if dy.shape != (x.shape[0], W.shape[1]):
        raise ValueError(f"dense: dy {dy.shape} does not fit x {x.shape} and W {W.shape}")
    dx = np.empty_like(x)
    dW = np.empty_like(W)
    db = np.empty(W.shape[1], dtype=W.dtype)
    dense_backward(x, W, dy, dx, dW, db)
    return dx, dW, db
