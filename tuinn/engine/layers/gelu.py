"""Provides the gelu layer: y = x * Phi(x), exact (erf form), elementwise on any (N, ...)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.kernels.gelu import gelu_backward, gelu_forward
from tuinn.engine.layers.base import Layer, register
from tuinn.engine.layers.elementwise import _as_grad, _as_input


@register
class GELU(Layer):
    """y = x * Phi(x) with Phi the standard normal CDF (torch.nn.GELU()); cache: "x", "y"."""

    type: ClassVar[str] = "gelu"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        y = self.buffer("y", x.shape)
        gelu_forward(x, y)
        self.cache["x"] = x
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self.cache["x"]
        dy = _as_grad(self, dy, x.shape)
        dx = self.buffer("dx", x.shape)
        gelu_backward(x, dy, dx)
        return dx
