"""Provides norm_view: what the normalisation view shows of a layernorm or batchnorm layer:
the statistics it normalised with (per feature over the batch, or per position over its
features), the distribution before and after as small histograms, gamma and beta, and
for batchnorm the running statistics and which mode the last forward used.

Values come from the layer's cache (copied): the input is x = x_hat / rstd + mean, the
output the cached y. No UI imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn.engine.session import Session
from tuinn.tui.present_rnn import _owner, _step
from tuinn.tui.render.plot import compact

NORM_TYPES = ("layernorm", "batchnorm")
BINS = 16


@dataclass
class Histogram:
    counts: np.ndarray           # (BINS,) int
    lo: float
    hi: float


def histogram(values: np.ndarray, bins: int = BINS) -> Histogram:
    """Counts of the finite values in `bins` equal bins over their range."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Histogram(np.zeros(bins, dtype=np.int64), np.nan, np.nan)
    lo, hi = float(v.min()), float(v.max())
    counts, _ = np.histogram(v, bins=bins, range=(lo, hi) if hi > lo else (lo - 0.5, lo + 0.5))
    return Histogram(counts.astype(np.int64), lo, hi)


@dataclass
class NormData:
    layer: str
    kind: str                    # "layernorm" | "batchnorm"
    phase: str                   # "forward" | "backward"
    mode: str                    # batchnorm: "train" | "eval"; layernorm: "any"
    selected: int                # batchnorm: the feature; layernorm: the position (row)
    count: int                   # features (batchnorm) or positions (layernorm)
    where: str                   # what `selected` is: "feature 3", "sample 0, t 4"
    over: int                    # how many values each statistic is taken over
    mean: float                  # the selected statistic used
    var: float
    eps: float
    before: Histogram
    after: Histogram
    gamma: np.ndarray            # (C,) or (D,)
    beta: np.ndarray
    means: np.ndarray | None = None          # batchnorm: (C,) the statistics used
    vars: np.ndarray | None = None
    running_mean: np.ndarray | None = None   # batchnorm buffers, now
    running_var: np.ndarray | None = None
    momentum: float = 0.0
    lines: list[tuple[str, str]] = field(default_factory=list)   # (text, "value" | "grad")
    sample_means: np.ndarray | None = None   # layernorm over a sequence: the selected
    sample_vars: np.ndarray | None = None    # sample's statistics at each t (T,)


def norm_layer_of(session: Session) -> str | None:
    """The layernorm or batchnorm layer the cursor's step runs, if any."""
    step = session.current
    if step is None or step.phase not in ("forward", "backward") or not step.layer:
        return None
    for layer in session.program._all_layers():
        if layer.name == step.layer and layer.type in NORM_TYPES:
            return layer.name
    return None


def norm_view(session: Session, layer_name: str, selected: int = 0) -> NormData | None:
    """The view of `layer_name` after its forward step has run in this pass, else None."""
    layer = next((la for la in session.program._all_layers() if la.name == layer_name), None)
    if layer is None or layer.type not in NORM_TYPES or "x_hat" not in layer.cache:
        return None
    owner = _owner(session, layer)
    fwd, bwd = _step(session, owner.name, "forward"), _step(session, owner.name, "backward")
    if fwd is None or not session.executed(fwd.index):
        return None
    phase = "backward" if bwd is not None and session.executed(bwd.index) else "forward"
    c = {k: np.array(v, dtype=np.float64) for k, v in layer.cache.items()}
    gamma = np.array(layer.params["gamma"], dtype=np.float64)
    beta = np.array(layer.params["beta"], dtype=np.float64)
    xhat, y = c["x_hat"], c["y"]
    if layer.type == "layernorm":
        D = xhat.shape[-1]
        rows_x, rows_y = xhat.reshape(-1, D), y.reshape(-1, D)
        means, rstd = c["mean"].reshape(-1), c["rstd"].reshape(-1)
        r = min(max(0, int(selected)), rows_x.shape[0] - 1)
        x = rows_x[r] / rstd[r] + means[r]
        idx = np.unravel_index(r, xhat.shape[:-1])
        where = f"sample {idx[0]}" + (f", t {idx[1]}" if len(idx) > 1 else "")
        var = 1.0 / rstd[r] ** 2 - layer.eps
        data = NormData(layer_name, "layernorm", phase, "any", r, rows_x.shape[0], where, D,
                        float(means[r]), float(var), layer.eps, histogram(x),
                        histogram(rows_y[r]), gamma, beta)
        if xhat.ndim == 3:                   # a sequence: this sample's every timestep
            T = xhat.shape[1]
            first = (r // T) * T
            data.sample_means = means[first:first + T].copy()
            data.sample_vars = 1.0 / rstd[first:first + T] ** 2 - layer.eps
        j = int(np.argmax(np.abs(x)))
        _worked(data, float(x[j]), float(xhat.reshape(-1, D)[r, j]), float(rows_y[r, j]),
                gamma[j], beta[j], f"x[{j}]")
        return data
    view = lambda a: np.moveaxis(layer._view(a), 1, 0).reshape(layer.channels, -1)   # (C, M)
    xh, yy = view(xhat), view(y)
    C = layer.channels
    f = min(max(0, int(selected)), C - 1)
    means, vars_ = c["mean"], c["var"]
    x = xh[f] / c["rstd"][f] + means[f]
    data = NormData(layer_name, "batchnorm", phase, layer.mode, f, C, f"feature {f}",
                    xh.shape[1], float(means[f]), float(vars_[f]), layer.eps, histogram(x),
                    histogram(yy[f]), gamma, beta, means, vars_,
                    np.array(layer.running["running_mean"], dtype=np.float64),
                    np.array(layer.running["running_var"], dtype=np.float64), layer.momentum)
    _worked(data, float(x[0]), float(xh[f, 0]), float(yy[f, 0]), gamma[f], beta[f], "x")
    return data


def _worked(d: NormData, x: float, xh: float, y: float, g: float, b: float, name: str) -> None:
    """One entry's arithmetic: x̂ = (x - mean)/√(var + eps), y = γ·x̂ + β."""
    def v(x: float) -> str:                 # a factor: negatives in parentheses
        t = compact(float(x))
        return f"({t})" if t.startswith("-") else t
    stats = ("the batch's" if d.mode == "train" else "the running") if d.kind == "batchnorm" \
        else "this position's"
    d.lines.append((f"mean {compact(d.mean)}, var {compact(d.var)} over {d.over} values ({stats} "
                    f"statistics)", "value"))
    d.lines.append((f"x̂ = ({name} - mean)/√(var + eps) = ({compact(x)} - {v(d.mean)})/√({v(d.var)} + "
                    f"{d.eps:g}) = {compact(xh)};  y = γ·x̂ + β = {v(g)}·{v(xh)} + {v(b)} = {compact(y)}",
                    "value"))
