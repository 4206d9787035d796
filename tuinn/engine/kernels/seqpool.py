"""Provides the sequence pooling kernels: (N, T, D) -> (N, D) by mean, max or last step.

Forward and backward side by side; outputs go into buffers the caller owns. max
routes each gradient to the first maximum over time (a NaN, once met, is the maximum,
so it propagates as in NumPy's max).
"""

from __future__ import annotations

from tuinn.engine.jit import kernel

MEAN, MAX, LAST = 0, 1, 2
MODES = {"mean": MEAN, "max": MAX, "last": LAST}


@kernel
def seqpool_forward(x, mode, y, arg):
    """y[n, j] = mean_t x[n, t, j] | max_t x[n, t, j] | x[n, T-1, j]; arg[n, j] = the
    time index max took (T-1 for last, 0 for mean)."""
    n, t, d = x.shape
    for i in range(n):
        for j in range(d):
            if mode == MEAN:
                acc = 0.0
                for s in range(t):
                    acc += x[i, s, j]
                y[i, j] = acc / t
                arg[i, j] = 0
            elif mode == MAX:
                best = x[i, 0, j]
                k = 0
                for s in range(1, t):
                    v = x[i, s, j]
                    if best == best and (v > best or v != v):
                        best = v
                        k = s
                y[i, j] = best
                arg[i, j] = k
            else:
                y[i, j] = x[i, t - 1, j]
                arg[i, j] = t - 1


@kernel
def seqpool_backward(dy, mode, arg, dx):
    """mean: dx[n, t] = dy[n] / T; max and last: dy[n, j] to dx[n, arg[n, j], j], 0 elsewhere."""
    n, t, d = dx.shape
    for i in range(n):
        for j in range(d):
            if mode == MEAN:
                g = dy[i, j] / t
                for s in range(t):
                    dx[i, s, j] = g
            else:
                for s in range(t):
                    dx[i, s, j] = 0.0
                dx[i, arg[i, j], j] = dy[i, j]
