"""Provides the tensor panel's statistics, computed on the engine thread: shape, mean,
std, min, max, norm, share of zeros and NaN/Inf counts, infinities kept (a scalar +inf
has mean inf, not nan)."""

from __future__ import annotations

import numpy as np

from tuinn import fmt

#: the rows of the statistics table, in order: (label, key)
STAT_ROWS = (("shape", "shape"), ("mean", "mean"), ("std", "std"), ("min", "min"),
             ("max", "max"), ("norm", "norm"), ("zeros", "zeros"), ("nan/inf", "bad"))


def tensor_stats(a) -> dict[str, object]:
    """The numbers of one tensor as the panel shows them (strings) plus `nan` and `inf`
    counts. NaN is left out of mean, std, min, max and norm; an infinity is not."""
    a = np.asarray(a, dtype=np.float64)
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    v = a[~np.isnan(a)]
    out: dict[str, object] = {"shape": fmt.shape(a), "size": a.size, "nan": nan, "inf": inf,
                              "zeros": f"{100 * float((a == 0).sum()) / max(1, a.size):.0f}%",
                              "bad": f"{nan} / {inf}"}
    if not v.size:
        out.update(mean="nan", std="nan", min="nan", max="nan", norm="nan")
        return out
    with np.errstate(all="ignore"):
        mean = float(v.mean())
        lo, hi = float(v.min()), float(v.max())
        std = 0.0 if lo == hi else float(v.std())
        norm = float(np.sqrt(np.sum(v * v)))
    out.update(mean=fmt.num(mean, 4), std=fmt.num(std, 4), min=fmt.num(lo, 4),
               max=fmt.num(hi, 4), norm=fmt.num(norm, 4))
    return out
