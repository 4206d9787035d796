"""Provides the data view's frame, computed on the engine thread: the points and decision
regions after [data] preprocess, or before it (the raw numbers, each grid cell mapped
through the same transform before the model sees it), with the training split's
per-feature mean and standard deviation (no UI imports)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn.tui.render.plot import compact

MARGIN = 0.1               # the grid reaches a tenth of the data's range beyond each side


@dataclass
class DataView:
    """What the data panel draws: grid (GH, GW) over extent, the points, a title saying
    which they are and a subtitle with their statistics."""
    grid: np.ndarray
    extent: tuple[float, float, float, float]
    points: np.ndarray
    raw: bool                       # the numbers before preprocessing
    title: str                      # "" without [data] preprocess
    subtitle: str
    mean: np.ndarray | None = None  # the training split's per-feature statistics, as shown
    std: np.ndarray | None = None


def has_preprocess(prog) -> bool:
    prep = getattr(prog, "prep", None)
    return prep is not None and bool(prep.steps)


def data_view(prog, gh: int, gw: int, raw: bool = False) -> DataView:
    """The data panel's frame: after preprocessing (what the model is trained on) or, with
    `raw`, before it; without [data] preprocess the two are the same."""
    if not has_preprocess(prog):
        grid, extent = prog.decision_grid(gh, gw)
        return DataView(grid, extent, prog.x, False, "", "")
    prep = prog.prep
    if raw:
        grid, extent = raw_decision_grid(prog, gh, gw)
        points, stats = prog.raw_x, prep.before
        label = "data: raw, before " + ", ".join(prep.steps)
    else:
        grid, extent = prog.decision_grid(gh, gw)
        points, stats, label = prog.x, prep.after, "data: after " + ", ".join(prep.steps)
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    return DataView(grid, extent, points, raw, label, stats_line(mean, std), mean, std)


def stats_line(mean: np.ndarray, std: np.ndarray) -> str:
    """"μ 4926, 0.0012 · σ 870, 0.005": each feature's mean and standard deviation (a mean that is rounding noise beside its
    standard deviation, as after centring, is shown as 0)."""
    shown = [0.0 if abs(m) <= 1e-9 * max(abs(s), 1e-300) else m for m, s in zip(mean, std)]
    return ("μ " + ", ".join(compact(m) for m in shown)
            + " · σ " + ", ".join(compact(s) for s in std))


def raw_decision_grid(prog, gh: int, gw: int):
    """The model's prediction over a (gh, gw) grid covering the raw training points (row 0
    at the top): each grid point is preprocessed as the data was, so the regions are the
    same regions, drawn in the raw numbers. Returns (grid, extent=(x0, x1, y0, y1))."""
    pts = np.asarray(prog.raw_x, dtype=np.float64).reshape(len(prog.raw_x), -1)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = (hi - lo) * MARGIN + 1e-9 * np.maximum(1.0, np.abs(hi))
    x0, y0 = lo - pad
    x1, y1 = hi + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, gw), np.linspace(y1, y0, gh))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with np.errstate(all="ignore"):
        out = prog.predict(prog.prep.apply(grid).astype(prog.dtype))
    pred = prog.loss.predict(out)
    pred = pred if pred.ndim == 1 else pred[:, 0]
    return pred.reshape(gh, gw), (float(x0), float(x1), float(y0), float(y1))
