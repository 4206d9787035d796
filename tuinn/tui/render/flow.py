"""Provides the gradient-flow scales: log-scale colour bands for a layer's gradient norm
and for its update/weight ratio, a meter glyph string that reads without colour, and the
legend that explains both.

Why these thresholds (they are rules of thumb, and the legend says so):
- Gradient norm ‖∇W‖ (L2 over all of a layer's parameter gradients, the number the box
  prints). Healthy small networks trained on a mean loss sit around 1e-2 .. 1e1 (every
  bundled scenario's layers do at their start). Below 1e-6 a step of any usual learning
  rate (<= 1) moves a weight of size ~0.1-1 by less than float32's resolution (eps 1.2e-7
  relative): the layer cannot learn, the gradient has *vanished*. Above 1e2 a step of a
  usual learning rate (>= 1e-2) moves weights by more than their own size: *exploding*.
- Update/weight ratio ‖Δw‖/‖w‖ of one optimizer step: scale-free, so the better signal
  (CS231n, "Neural Networks 3": about 1e-3 is healthy; much lower, the learning rate is
  too low or the gradient vanished; much higher, too high). Bands one and two decades
  either side of 1e-3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    name: str
    low: float                 # the band holds low <= v < next band's low
    colour: str                # a mid-tone that reads on dark and on light backgrounds


@dataclass(frozen=True)
class Scale:
    key: str                   # "grad" | "ratio"
    title: str
    bands: tuple[Band, ...]
    decades: tuple[int, int]   # the meter's range, log10(low), log10(high)
    note: str

    def band(self, value: float | None) -> Band | None:
        """The band a value falls in; a non-finite value is the last (worst) band;
        None when there is no value."""
        if value is None:
            return None
        if not math.isfinite(value):
            return self.bands[-1]
        chosen = self.bands[0]
        for b in self.bands:
            if value >= b.low:
                chosen = b
        return chosen


VIOLET, BLUE, GREEN, ORANGE, RED = "#8b5cf6", "#3b82f6", "#22a559", "#e08a00", "#e5383b"

GRAD = Scale("grad", "‖∇‖ gradient norm of each layer's parameters (edges: of its output)",
             (Band("vanishing", 0.0, VIOLET), Band("weak", 1e-6, BLUE),
              Band("healthy", 1e-3, GREEN), Band("large", 1e1, ORANGE),
              Band("exploding", 1e2, RED)),
             (-7, 3),
             "<1e-6: too small to move a float32 weight · >1e2: a step outgrows the weights")
RATIO = Scale("ratio", "‖Δw‖/‖w‖ update / weight ratio of the last optimizer step",
              (Band("stalled", 0.0, VIOLET), Band("slow", 1e-5, BLUE),
               Band("healthy", 1e-4, GREEN), Band("fast", 1e-2, ORANGE),
               Band("too fast", 1e-1, RED)),
              (-6, 0),
              "≈1e-3 is healthy (CS231n) · far below: lr too low or ∇ vanished · >0.1: lr too high")
SCALES = {"grad": GRAD, "ratio": RATIO}

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def meter(value: float | None, scale: Scale, cells: int = 5) -> str:
    """A log-scale bar of `cells` cells (eighths of a cell) over the scale's decades, so
    the fade from layer to layer shows with no colour at all; "?" cells when unknown,
    full "!" when not finite."""
    if value is None:
        return "·" * cells
    if not math.isfinite(value):
        return "!" * cells
    lo, hi = scale.decades
    frac = 0.0 if value <= 0 else (math.log10(value) - lo) / (hi - lo)
    eighths = round(min(1.0, max(0.0, frac)) * cells * 8)
    eighths = max(eighths, 1)                        # never an empty meter for a value
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(cells)


def short(value: float | None) -> str:
    """A norm or ratio in at most 7 characters: 3.8e-04 -> "3.8e-4", 0.71 -> "0.71"."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 1e3:
        return f"{value:.3g}"
    mant, exp = f"{value:.1e}".split("e")
    return f"{mant.replace('.0', '')}e{int(exp)}"
