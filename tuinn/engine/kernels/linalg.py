"""Provides the matmul and full-reduction (sum, mean) gate kernels, forward and backward.

Arrays are C-contiguous and of one float dtype; the wrapper in `tuinn.engine.gates`
promotes 1-D matmul operands to 2-D and allocates. Sums accumulate in float64.

    matmul  fwd(a, b, out)          bwd(a, b, up, da, db)     da = up @ b.T, db = a.T @ up
    sum     fwd(x, c, out)          local(x, y, c, d)         same signatures as unary
    mean    fwd(x, c, out)          local(x, y, c, d)         ops; out is (1,), d is like x
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import kernel

# ========================================================================= matmul


@kernel
def matmul_fwd(a, b, out):                  # (n, k) @ (k, m) -> (n, m)
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            out[i, j] = acc


@kernel
def matmul_bwd(a, b, up, da, db):           # a (n, k), b (k, m), up (n, m)
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):                      # da = up @ b.T          (n, k)
        for p in range(k):
            acc = 0.0
            for j in range(m):
                acc += up[i, j] * b[p, j]
            da[i, p] = acc
    for p in range(k):                      # db = a.T @ up          (k, m)
        for j in range(m):
            acc = 0.0
            for i in range(n):
                acc += a[i, p] * up[i, j]
            db[p, j] = acc


# ===================================================================== reductions


@kernel
def sum_fwd(x, c, out):                     # (n,) -> (1,)
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i]
    out[0] = acc


@kernel
def sum_local(x, y, c, d):                  # (n,): 1 for every element
    for i in range(x.shape[0]):
        d[i] = 1.0


@kernel
def mean_fwd(x, c, out):                    # (n,) -> (1,); empty gives nan
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i]
    out[0] = np.divide(acc, x.shape[0])


@kernel
def mean_local(x, y, c, d):                 # (n,): 1/n for every element
    n = x.shape[0]
    for i in range(n):
        d[i] = 1.0 / n


REDUCTIONS = {                              # name -> (fwd, local)
    "sum": (sum_fwd, sum_local),
    "mean": (mean_fwd, mean_local),
}
