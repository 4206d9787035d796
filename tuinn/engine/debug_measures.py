"""Provides the measures breakpoints read: norms, dead units, saturation, NaN counts.

Saturation counts sigmoid and tanh values near their limits and attention rows that
have collapsed onto one key (its largest weight above COLLAPSED).
"""

from __future__ import annotations

import math

import numpy as np

from tuinn.engine.debug_names import saturating
from tuinn.fmt import num

COLLAPSED = 0.99                   # an attention row whose largest weight exceeds this


def sq(a) -> float:
    """Sum of squares in float64 (one BLAS dot: the same bits for the same values)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(np.dot(a, a))


def quick_finite(a: np.ndarray) -> bool:
    """True when `a` holds no NaN or Inf (a single dot; a False may be an overflow of
    huge values: confirm with nonfinite)."""
    if a.dtype.kind != "f":
        return True
    a = a.reshape(-1)
    return math.isfinite(a.dot(a))


def grad_sq(program, keys: list[str]) -> float:
    """Sum of squares of the parameters' gradients in the layers (`keys`, all of them
    from the packed buffer when it is intact)."""
    packed = program.packed
    if packed is not None and len(keys) == len(program.param_layers) and packed.intact():
        return sq(packed.g)
    return sum(sq(layer.grads[k]) for layer, k in (program.param_layers[key] for key in keys))


def dead_share(layers) -> tuple[int, int] | None:
    """(dead units, units) over relu layers: a unit is dead when its output is 0 for
    every sample of the batch; None when a layer has not run."""
    dead = units = 0
    for layer in layers:
        y = layer.cache.get("y")
        if y is None:
            return None
        alive = (y.reshape(len(y), -1) != 0).any(axis=0)            # (units,)
        dead += alive.size - int(np.count_nonzero(alive))
        units += alive.size
    return dead, units


def saturated_share(layers) -> tuple[int, int] | None:
    """(saturated, all) over the layers' saturating arrays: sigmoid outputs < 0.05 or
    > 0.95, tanh |y| > 0.95 (each value counts), and attention rows that have collapsed
    onto one key (see collapsed_rows; each row counts); None when a layer has not run."""
    sat = total = 0
    for layer in layers:
        for key, fn in saturating(layer):
            a = layer.cache.get(key)
            if a is None:
                return None
            if fn == "softmax":
                part, whole = collapsed_rows(a, bool(getattr(layer, "causal", False)))
                sat, total = sat + part, total + whole
                continue
            if fn == "sigmoid":
                sat += int(np.count_nonzero((a < 0.05) | (a > 0.95)))
            else:
                sat += int(np.count_nonzero(np.abs(a) > 0.95))
            total += a.size
    return sat, total


def collapsed_rows(A: np.ndarray, causal: bool) -> tuple[int, int]:
    """(collapsed rows, rows) of attention weights A (..., T, T), one row per query: a
    row has collapsed when its largest weight exceeds COLLAPSED (it looks at one key
    only). Rows with a single key to look at (a causal mask's first query; T = 1) have
    no choice and are not counted."""
    T = A.shape[-1]
    first = 1 if causal else 0                 # query t sees t + 1 keys under the mask
    if T < 2:
        return 0, 0
    rows = A[..., first:, :]
    top = rows.max(axis=-1)
    return int(np.count_nonzero(top > COLLAPSED)), int(top.size)


def nonfinite(a, what: str, label: str) -> str | None:
    """"NaN in dense1.W.grad (3 of 32 values)" when `a` holds NaN or Inf (what="nan", as
    run mode's NaN stop) or +-Inf (what="inf"); None when it holds none."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    nan, inf = int(np.count_nonzero(np.isnan(a))), int(np.count_nonzero(np.isinf(a)))
    n = inf if what == "inf" else nan + inf
    if not n:
        return None
    kind = "NaN" if what == "nan" and nan else "Inf"
    return f"{kind} in {label}" + (f" = {num(a.reshape(-1)[0])}" if a.size == 1
                                   else f" ({n} of {a.size} values)")
