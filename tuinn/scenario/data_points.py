"""Provides the 2-D point generators "ring", "gaussians" and "line" (real samples for GANs).

Each returns x (N, 2) and integer labels y (N,) (the mode a point came from; a GAN
ignores them), everything drawn from `rng`:

- ring: points on a circle of `radius`, angle uniform, radius jittered by `noise`;
- gaussians: `classes` Gaussian blobs of std `noise` with centres evenly spaced on a
  circle of `radius` (the "ring of gaussians" of the GAN literature; y = the blob);
- line: points on the segment from (-radius, -radius/2) to (radius, radius/2), plus
  Gaussian noise of std `noise` in both coordinates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tuinn.scenario.data import (_need_points, _noise, _num, _per_class, _samples,
                                 _shuffled, register_generator)

#: every option each generator reads, with its default
DEFAULTS: dict[str, dict[str, Any]] = {
    "ring": {"samples": 512, "noise": 0.05, "radius": 1.0},
    "gaussians": {"samples": 512, "classes": 8, "noise": 0.05, "radius": 1.0},
    "line": {"samples": 512, "noise": 0.05, "radius": 1.0},
}


def _opts(name: str, options: dict) -> dict[str, Any]:
    return {**DEFAULTS[name], **{k: v for k, v in options.items() if v is not None}}


def _radius(options: dict) -> float:
    return _num(options, "radius", integer=False, minimum=1e-6)


@register_generator("ring")
def ring(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    options = _opts("ring", options)
    _need_points("ring", input_shape)
    n, noise, r = _samples(options), _noise(options), _radius(options)
    t = rng.uniform(0.0, 2.0 * math.pi, n)
    rad = r + noise * rng.normal(size=n)
    x = np.column_stack([rad * np.cos(t), rad * np.sin(t)])
    return np.ascontiguousarray(x), np.zeros(n, np.int64)


@register_generator("gaussians")
def gaussians(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    options = _opts("gaussians", options)
    _need_points("gaussians", input_shape)
    n, noise, r = _samples(options), _noise(options), _radius(options)
    k = _num(options, "classes", integer=True, minimum=1)
    parts, labels = [], []
    for j, m in enumerate(_per_class(n, k)):
        angle = 2.0 * math.pi * j / k
        centre = np.array([r * math.cos(angle), r * math.sin(angle)])
        parts.append(centre + noise * rng.normal(size=(m, 2)))
        labels.append(np.full(m, j, np.int64))
    return _shuffled(np.concatenate(parts), np.concatenate(labels), rng)


@register_generator("line")
def line(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    options = _opts("line", options)
    _need_points("line", input_shape)
    n, noise, r = _samples(options), _noise(options), _radius(options)
    t = rng.uniform(-1.0, 1.0, n)
    x = np.column_stack([r * t, 0.5 * r * t]) + noise * rng.normal(size=(n, 2))
    return np.ascontiguousarray(x), np.zeros(n, np.int64)
