"""Provides weight initialisation: zeros, normal, xavier and he (biases start at zero)."""

from __future__ import annotations

import math

import numpy as np

from tuinn.errors import TuinnError

INITS = ("zeros", "normal", "xavier", "he")


def init_std(kind: str, fan_in: int, fan_out: int, std: float = 0.01) -> float:
    """The standard deviation an initialiser draws with (0 for zeros)."""
    if kind == "zeros":
        return 0.0
    if kind == "normal":
        return float(std)
    if kind == "xavier":
        return math.sqrt(2.0 / max(fan_in + fan_out, 1))
    if kind == "he":
        return math.sqrt(2.0 / max(fan_in, 1))
    raise TuinnError(f"unknown init {kind!r}", key="init",
                     hint="one of " + ", ".join(INITS))


def init_weight(kind: str, shape: tuple[int, ...], fan_in: int, fan_out: int,
                rng: np.random.Generator, dtype=np.float64, std: float = 0.01) -> np.ndarray:
    """A new C-contiguous weight array of `shape`.

    zeros; normal: N(0, std**2); xavier: N(0, 2/(fan_in+fan_out)); he: N(0, 2/fan_in).
    Draws from `rng` in float64 and casts, so float32 and float64 runs see the same
    numbers up to rounding.
    """
    s = init_std(kind, fan_in, fan_out, std)
    if kind == "zeros":
        return np.zeros(shape, dtype=dtype)
    return np.ascontiguousarray(rng.normal(0.0, s, size=shape).astype(dtype, copy=False))


def init_bias(shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """Biases start at zero."""
    return np.zeros(shape, dtype=dtype)
