"""Provides slow, obvious NumPy references for every gate: forward and local gradients.

No Numba, no tricks: the tests compare `tuinn.engine.gates` with these, and take finite
differences of `forward` here. Local gradients are in the output's broadcast shape,
except matmul ([B, A]) and sum/mean (like x).
"""

from __future__ import annotations

import numpy as np


def forward(op: str, args: list[np.ndarray], c: float | None = None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "matmul":
            return np.asarray(args[0] @ args[1])
        if len(args) == 2:
            a, b = args
            return np.asarray({
                "add": lambda: a + b,
                "sub": lambda: a - b,
                "mul": lambda: a * b,
                "div": lambda: a / b,
                "max": lambda: np.maximum(a, b),
                "min": lambda: np.minimum(a, b),
            }[op]())
        x = args[0]
        return np.asarray({
            "neg": lambda: -x,
            "addc": lambda: x + c,
            "mulc": lambda: x * c,
            "inv": lambda: 1.0 / x,
            "powc": lambda: x ** c,
            "exp": lambda: np.exp(x),
            "log": lambda: np.log(x),
            "sigmoid": lambda: 1.0 / (1.0 + np.exp(-x)),
            "tanh": lambda: np.tanh(x),
            "relu": lambda: np.maximum(x, 0.0),
            "abs": lambda: np.abs(x),
            "maxc": lambda: np.maximum(x, c),
            "minc": lambda: np.minimum(x, c),
            "sum": lambda: np.sum(x),
            "mean": lambda: np.mean(x),
        }[op]())


def local_grads(op: str, args: list[np.ndarray], c: float | None = None) -> list[np.ndarray]:
    with np.errstate(all="ignore"):
        if op == "matmul":
            return [args[1], args[0]]
        if len(args) == 2:
            a, b = np.broadcast_arrays(*args)
            one, zero = np.ones_like(a), np.zeros_like(a)
            tie = np.where(a == b, 0.5, 1.0)
            return {
                "add": lambda: [one, one],
                "sub": lambda: [one, -one],
                "mul": lambda: [b, a],
                "div": lambda: [1.0 / b, -a / b ** 2],
                "max": lambda: [np.where(a < b, zero, tie), np.where(a > b, zero, tie)],
                "min": lambda: [np.where(a > b, zero, tie), np.where(a < b, zero, tie)],
            }[op]()
        x = args[0]
        s = 1.0 / (1.0 + np.exp(-x))
        return [np.asarray({
            "neg": lambda: -np.ones_like(x),
            "addc": lambda: np.ones_like(x),
            "mulc": lambda: np.full_like(x, c),
            "inv": lambda: -1.0 / x ** 2,
            "powc": lambda: np.zeros_like(x) if c == 0 else c * x ** (c - 1),
            "exp": lambda: np.exp(x),
            "log": lambda: 1.0 / x,
            "sigmoid": lambda: (1.0 - s) * s,
            "tanh": lambda: 1.0 - np.tanh(x) ** 2,
            "relu": lambda: (x > 0).astype(x.dtype),
            "abs": lambda: np.sign(x),
            "maxc": lambda: np.where(x == c, 0.5, (x > c).astype(x.dtype)),
            "minc": lambda: np.where(x == c, 0.5, (x < c).astype(x.dtype)),
            "sum": lambda: np.ones_like(x),
            "mean": lambda: np.full_like(x, 1.0 / x.size),
        }[op]())]
