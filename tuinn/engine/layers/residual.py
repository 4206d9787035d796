"""Provides the residual block: y = x + f(x), f a sequence of inner layers."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tuinn.engine.kernels.activation import add
from tuinn.engine.layers.base import Layer, build_layer, register
from tuinn.errors import TuinnError


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@register
class Residual(Layer):
    """y = x + f(x) where f runs `options["layers"]` (LayerSpecs) in order.

    The block's own `params` stay empty: its parameters are its inner layers', under
    their own names (dense2.W, ...): `children()` are the layers directly inside, and
    `sublayers()` every layer inside at any depth (blocks nest). cache: "x", "fx", "y".
    """

    type: ClassVar[str] = "residual"

    @classmethod
    def from_spec(cls, spec, in_shape, rng, dtype) -> "Residual":
        options: dict[str, Any] = dict(spec.options)
        if not options.get("layers"):
            options["layers"] = list(getattr(spec, "layers", None) or [])
        layer = cls.__new__(cls)
        layer._line = getattr(spec, "line", 0)
        Layer.__init__(layer, spec.name, options, in_shape, rng, dtype)
        return layer

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        specs = list(self.options.get("layers") or [])
        if not specs:
            raise TuinnError(f"residual {self.name} has no layers", key="layers",
                             line=getattr(self, "_line", None) or None)
        self.layers: list[Layer] = []
        shape = self.in_shape
        for spec in specs:
            layer = build_layer(spec, shape, rng, self.dtype)
            self.layers.append(layer)
            shape = tuple(layer.out_shape)
        if shape != self.in_shape:
            raise TuinnError(
                f"residual {self.name}: its layers turn {_fmt(self.in_shape)} into "
                f"{_fmt(shape)}, but y = x + f(x) needs the same shape", key="layers",
                line=getattr(self, "_line", None) or None,
                hint="make the last inner layer output the block's input shape")
        return self.in_shape

    def children(self) -> list[Layer]:
        return list(self.layers)

    def param_count(self) -> int:
        return sum(layer.param_count() for layer in self.layers)

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.shape[1:] != self.in_shape:
            raise TuinnError(f"{self.name}: expects input (N, "
                             f"{', '.join(map(str, self.in_shape))}), got {x.shape}")
        h = x
        for layer in self.layers:
            h = layer.forward(h, train, rng)
        h = np.ascontiguousarray(h, dtype=self.dtype)
        y = self.buffer("y", x.shape)
        add(x, h, y)
        self.cache["x"] = x
        self.cache["fx"] = h
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if dy.dtype != self.dtype or not dy.flags.c_contiguous:
            dy = np.ascontiguousarray(dy, dtype=self.dtype)
        dh = dy
        for layer in reversed(self.layers):
            dh = layer.backward(dh)
        dh = np.ascontiguousarray(dh, dtype=self.dtype)
        dx = self.buffer("dx", dy.shape)
        add(dy, dh, dx)
        return dx
