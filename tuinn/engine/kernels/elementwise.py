"""Provides the elementwise gate kernels: forward and local gradient per op, on flat arrays.

Every array here is 1-D, C-contiguous and of one float dtype (float64 or float32); the
wrapper in `tuinn.engine.gates` broadcasts, ravels and allocates. Signatures:

    binary  fwd(a, b, out)          local(a, b, da, db)       da[i] = d out[i] / d a[i]
    unary   fwd(x, c, out)          local(x, y, c, d)         y = fwd's out, c = constant

Divisions go through `np.divide` so a zero divisor gives inf/nan as in NumPy (plain `/`
raises ZeroDivisionError under Numba's default error model); a debugger must show them.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import kernel

# ===================================================================== binary ops


@kernel
def add_fwd(a, b, out):                     # (n,), (n,) -> (n,)
    for i in range(out.shape[0]):
        out[i] = a[i] + b[i]


@kernel
def add_local(a, b, da, db):                # (n,) each: 1, 1
    for i in range(a.shape[0]):
        da[i] = 1.0
        db[i] = 1.0


@kernel
def sub_fwd(a, b, out):
    for i in range(out.shape[0]):
        out[i] = a[i] - b[i]


@kernel
def sub_local(a, b, da, db):                # 1, -1
    for i in range(a.shape[0]):
        da[i] = 1.0
        db[i] = -1.0


@kernel
def mul_fwd(a, b, out):
    for i in range(out.shape[0]):
        out[i] = a[i] * b[i]


@kernel
def mul_local(a, b, da, db):                # swap: b, a
    for i in range(a.shape[0]):
        da[i] = b[i]
        db[i] = a[i]


@kernel
def div_fwd(a, b, out):
    for i in range(out.shape[0]):
        out[i] = np.divide(a[i], b[i])


@kernel
def div_local(a, b, da, db):                # 1/b, -a/b**2
    for i in range(a.shape[0]):
        da[i] = np.divide(1.0, b[i])
        db[i] = -np.divide(a[i], b[i] * b[i])


@kernel
def max_fwd(a, b, out):                     # NaN wins, as np.maximum
    for i in range(out.shape[0]):
        out[i] = a[i] if (a[i] >= b[i] or a[i] != a[i]) else b[i]


@kernel
def max_local(a, b, da, db):                # route to the larger; a tie splits 0.5/0.5
    for i in range(a.shape[0]):
        if a[i] == b[i]:
            da[i] = 0.5
            db[i] = 0.5
        else:                               # as torch.maximum: NaN gives 1 to both
            da[i] = 0.0 if a[i] < b[i] else 1.0
            db[i] = 0.0 if a[i] > b[i] else 1.0


@kernel
def min_fwd(a, b, out):                     # NaN wins, as np.minimum
    for i in range(out.shape[0]):
        out[i] = a[i] if (a[i] <= b[i] or a[i] != a[i]) else b[i]


@kernel
def min_local(a, b, da, db):                # route to the smaller; a tie splits 0.5/0.5
    for i in range(a.shape[0]):
        if a[i] == b[i]:
            da[i] = 0.5
            db[i] = 0.5
        else:
            da[i] = 0.0 if a[i] > b[i] else 1.0
            db[i] = 0.0 if a[i] < b[i] else 1.0


# ====================================================================== unary ops


@kernel
def neg_fwd(x, c, out):                     # (n,) -> (n,)
    for i in range(out.shape[0]):
        out[i] = -x[i]


@kernel
def neg_local(x, y, c, d):                  # (n,): -1
    for i in range(x.shape[0]):
        d[i] = -1.0


@kernel
def addc_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = x[i] + c


@kernel
def addc_local(x, y, c, d):                 # 1
    for i in range(x.shape[0]):
        d[i] = 1.0


@kernel
def mulc_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = x[i] * c


@kernel
def mulc_local(x, y, c, d):                 # c
    for i in range(x.shape[0]):
        d[i] = c


@kernel
def inv_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = np.divide(1.0, x[i])


@kernel
def inv_local(x, y, c, d):                  # -1/x**2 = -y**2
    for i in range(x.shape[0]):
        d[i] = -(y[i] * y[i])


@kernel
def powc_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = x[i] ** c


@kernel
def powc_local(x, y, c, d):                 # c * x**(c-1); 0 when c == 0, as torch
    for i in range(x.shape[0]):
        d[i] = 0.0 if c == 0.0 else c * x[i] ** (c - 1.0)


@kernel
def exp_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = np.exp(x[i])


@kernel
def exp_local(x, y, c, d):                  # exp(x) = y
    for i in range(x.shape[0]):
        d[i] = y[i]


@kernel
def log_fwd(x, c, out):                     # x <= 0 gives nan / -inf, no exception
    for i in range(out.shape[0]):
        out[i] = np.log(x[i])


@kernel
def log_local(x, y, c, d):                  # 1/x
    for i in range(x.shape[0]):
        d[i] = np.divide(1.0, x[i])


@kernel
def sigmoid_fwd(x, c, out):                 # two branches so exp never overflows
    for i in range(out.shape[0]):
        if x[i] >= 0.0:
            out[i] = 1.0 / (1.0 + np.exp(-x[i]))
        else:
            e = np.exp(x[i])
            out[i] = e / (1.0 + e)


@kernel
def sigmoid_local(x, y, c, d):              # (1 - s) * s, s = y
    for i in range(x.shape[0]):
        d[i] = (1.0 - y[i]) * y[i]


@kernel
def tanh_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = np.tanh(x[i])


@kernel
def tanh_local(x, y, c, d):                 # 1 - t**2, t = y
    for i in range(x.shape[0]):
        d[i] = 1.0 - y[i] * y[i]


@kernel
def relu_fwd(x, c, out):                    # NaN stays NaN
    for i in range(out.shape[0]):
        out[i] = x[i] if (x[i] > 0.0 or x[i] != x[i]) else 0.0


@kernel
def relu_local(x, y, c, d):                 # 1 where x > 0, else 0 (relu'(0) = 0)
    for i in range(x.shape[0]):
        d[i] = 1.0 if x[i] > 0.0 else 0.0


@kernel
def abs_fwd(x, c, out):
    for i in range(out.shape[0]):
        out[i] = np.abs(x[i])


@kernel
def abs_local(x, y, c, d):                  # sign(x); abs'(0) = 0; NaN stays NaN
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            d[i] = 1.0
        elif x[i] < 0.0:
            d[i] = -1.0
        else:
            d[i] = x[i] * 0.0


@kernel
def maxc_fwd(x, c, out):                    # max(x, c), NaN wins
    for i in range(out.shape[0]):
        out[i] = x[i] if (x[i] >= c or x[i] != x[i]) else c


@kernel
def maxc_local(x, y, c, d):                 # 1 where x > c, 0.5 at a tie, 0 below
    for i in range(x.shape[0]):
        if x[i] == c:
            d[i] = 0.5
        else:
            d[i] = 0.0 if x[i] < c else 1.0


@kernel
def minc_fwd(x, c, out):                    # min(x, c), NaN wins
    for i in range(out.shape[0]):
        out[i] = x[i] if (x[i] <= c or x[i] != x[i]) else c


@kernel
def minc_local(x, y, c, d):                 # 1 where x < c, 0.5 at a tie, 0 above
    for i in range(x.shape[0]):
        if x[i] == c:
            d[i] = 0.5
        else:
            d[i] = 0.0 if x[i] > c else 1.0


# ======================================================================= registry

BINARY = {                                  # name -> (fwd, local)
    "add": (add_fwd, add_local),
    "sub": (sub_fwd, sub_local),
    "mul": (mul_fwd, mul_local),
    "div": (div_fwd, div_local),
    "max": (max_fwd, max_local),
    "min": (min_fwd, min_local),
}

UNARY = {                                   # name -> (fwd, local)
    "neg": (neg_fwd, neg_local),
    "addc": (addc_fwd, addc_local),
    "mulc": (mulc_fwd, mulc_local),
    "inv": (inv_fwd, inv_local),
    "powc": (powc_fwd, powc_local),
    "exp": (exp_fwd, exp_local),
    "log": (log_fwd, log_local),
    "sigmoid": (sigmoid_fwd, sigmoid_local),
    "tanh": (tanh_fwd, tanh_local),
    "relu": (relu_fwd, relu_local),
    "abs": (abs_fwd, abs_local),
    "maxc": (maxc_fwd, maxc_local),
    "minc": (minc_fwd, minc_local),
}
