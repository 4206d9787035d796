"""Provides the per-layer statistics view's numbers (engine thread): for each layer of a
network, in depth order, its activations and its gradients dL/d(output) on the current
batch at the current parameters: mean, std, the share of exact zeros and a histogram.

They are measured on the program's evaluation twins (one forward and one backward
pass of the current iteration's batch, no dropout), so the cursor and the caches of
the step being debugged are untouched, and the view is there before the first step.
Histograms of one kind share their range across the layers (symmetric about 0, up to
the largest |value| of any layer), so activations that shrink or blow up with depth
show as a spike that narrows or a spread that widens from row to row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn.engine.losses import Loss

BINS = 24           # histogram bins per layer (the renderable resamples to its width)


@dataclass
class LayerStats:
    name: str
    type: str
    params: bool                 # the layer has parameters (dense, conv2d, ...)
    act: np.ndarray              # the histogram counts (BINS,) of the activations
    act_mean: float
    act_std: float
    act_zero: float              # share of exact zeros (dead relu units, zero init)
    grad: np.ndarray             # the histogram counts of dL/d(output)
    grad_std: float
    grad_zero: float


@dataclass
class DepthStats:
    layers: list[LayerStats]
    act_range: float             # histograms cover [-act_range, act_range]
    grad_range: float
    iteration: int
    samples: int


def _hist(a: np.ndarray, r: float) -> np.ndarray:
    a = a[np.isfinite(a)]
    if r <= 0 or not np.isfinite(r):
        counts = np.zeros(BINS)
        counts[BINS // 2] = a.size
        return counts
    return np.histogram(np.clip(a, -r, r), bins=BINS, range=(-r, r))[0].astype(float)


def _range(arrays: list[np.ndarray]) -> float:
    tops = [float(np.max(np.abs(a[np.isfinite(a)]))) for a in arrays if np.isfinite(a).any()]
    return max(tops, default=0.0)


def depth_stats(prog) -> DepthStats:
    """Per-layer activation and gradient statistics of the current batch (see above)."""
    xb, yb = prog.batch(prog.iteration)
    prog._twins()                                  # current parameters into the twins
    layers = prog.eval_layers
    acts, h = [], np.ascontiguousarray(xb, dtype=prog.dtype)
    for layer in layers:
        h = layer.forward(h, False, None)
        acts.append(np.array(h, dtype=np.float64, copy=True))
    loss = Loss(prog.spec.network.loss)
    with np.errstate(all="ignore"):
        loss.forward(np.array(h, copy=True), yb)
        d = np.array(loss.backward(), copy=True)
        grads = [None] * len(layers)
        for i in range(len(layers) - 1, -1, -1):
            grads[i] = np.array(d, dtype=np.float64, copy=True)
            if i == 0:
                break
            try:
                d = layers[i].backward(d)
            except (KeyError, ValueError, TypeError):   # no backward in eval mode (dropout)
                break
            if d is None:
                break
            d = np.array(d, copy=True)
    grads = [g if g is not None else np.full_like(a, np.nan) for g, a in zip(grads, acts)]
    ar, gr = _range(acts), _range(grads)
    rows = []
    with np.errstate(all="ignore"):
        for layer, a, g in zip(layers, acts, grads):
            rows.append(LayerStats(layer.name, layer.type, bool(layer.params),
                                   _hist(a.ravel(), ar),
                                   float(np.mean(a)), float(np.std(a)),
                                   float(np.mean(a == 0)), _hist(g.ravel(), gr),
                                   float(np.std(g)), float(np.mean(g == 0))))
    return DepthStats(rows, ar, gr, prog.iteration, len(xb))


def is_deep(prog) -> bool:
    """A network with at least three layers that have parameters: depth matters there."""
    return sum(1 for layer in prog.layers if layer.params) >= 3
