"""Provides the dense (affine) kernels: y = x @ W + b and its backward pass.

np.dot inside Numba calls the BLAS that SciPy ships; every output goes into a buffer
the caller allocated (and reuses), so a training step allocates nothing here but the
transposed copy of a small W (dense_dx). Loops of our own were measured against it for
run mode's small MLP (2-16-16-3, batch 64): OpenBLAS wins at every one of its shapes
(64x16x16: 0.52 us against 1.85 for the best 4-row blocked loop; no FMA here, never
fastmath), so BLAS does every product, at every size.
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


#: dense_dx's cut-over: W of at most this fan-in and this many weights goes through a
#: transposed copy (see there)
SMALL_FAN_IN, SMALL_WEIGHTS = 64, 4096


@kernel
def dense_dx(W, dy, dx):
    """dx = dy @ W.T. A small W is copied transposed first and multiplied as it is:
    OpenBLAS's plain (NN) product beats its transposed-operand (NT) one at small sizes
    by more than the copy costs (measured, one thread, float64: N x I x O = 64x16x16
    0.56 us against 0.89, 64x16x3 0.20 against 0.38, 128x64x64 16.6 against 21.9) and
    loses at larger ones (128x256x10 20.6 against 16.6, 128x64x256 128 against 116).
    The two can differ in the last bits; every path (the layer's and run mode's fused
    chain) calls this one kernel, so they agree with each other bit for bit."""
    if W.shape[0] <= SMALL_FAN_IN and W.size <= SMALL_WEIGHTS:
        np.dot(dy, np.ascontiguousarray(W.T), dx)       # (N, I) = (N, O) @ (O, I) copy
    else:
        np.dot(dy, W.T, dx)                             # (N, I) = (N, O) @ (O, I)


@kernel
def dense_backward(x, W, dy, dx, dW, db):
    """dx = dy @ W.T (dense_dx), dW = x.T @ dy, db = sum of dy over the batch."""
    dense_dx(W, dy, dx)                                 # (N, I)
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
