"""Provides the matmul and full-reduction (sum, mean) gate kernels, forward and backward.

Arrays are C-contiguous and of one float dtype; the wrapper in `tuinn.engine.gates`
promotes 1-D matmul operands, flattens the batch axes, maps each output matrix to
its operands' (ia, ib) and allocates. Sums accumulate in float64.

    matmul  fwd(a, b, ia, ib, out)  bwd(a, b, ia, ib, up, da, db)
            out[t] = a[ia[t]] @ b[ib[t]]; da[x] = sum of up[t] @ b[ib[t]].T over ia[t] = x,
            db[y] = sum of a[ia[t]].T @ up[t] over ib[t] = y
    sum     fwd(x, c, out)          local(x, y, c, d)         same signatures as unary
    mean    fwd(x, c, out)          local(x, y, c, d)         ops; out is (1,), d is like x
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import kernel

# ========================================================================= matmul
# numpy.matmul over a flattened batch: output t multiplies a[ia[t]] by b[ib[t]], so a
# batch axis that broadcasts is read in place (never copied) and its gradient sums back
# into the one matrix it came from.


@kernel
def matmul_fwd(a, b, ia, ib, out):          # a (A, n, k), b (B, k, m) -> out (T, n, m)
    n, k = a.shape[1], a.shape[2]
    m = b.shape[2]
    for t in range(out.shape[0]):
        x, y = ia[t], ib[t]
        for i in range(n):
            for j in range(m):
                acc = 0.0
                for p in range(k):
                    acc += a[x, i, p] * b[y, p, j]
                out[t, i, j] = acc


@kernel
def matmul_bwd(a, b, ia, ib, up, da, db):   # up (T, n, m); da like a, db like b
    n, k = a.shape[1], a.shape[2]
    m = b.shape[2]
    da[...] = 0.0
    db[...] = 0.0
    for t in range(up.shape[0]):
        x, y = ia[t], ib[t]
        for i in range(n):                  # da[x] += up[t] @ b[y].T      (n, k)
            for p in range(k):
                acc = 0.0
                for j in range(m):
                    acc += up[t, i, j] * b[y, p, j]
                da[x, i, p] += acc
        for p in range(k):                  # db[y] += a[x].T @ up[t]      (k, m)
            for j in range(m):
                acc = 0.0
                for i in range(n):
                    acc += a[x, i, p] * up[t, i, j]
                db[y, p, j] += acc


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
