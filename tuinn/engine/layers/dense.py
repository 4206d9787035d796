"""Provides the dense layer: y = x @ W + b with W (in, out) and b (out,)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels.dense import dense_backward, dense_backward_params, dense_forward
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


@register
class Dense(Layer):
    """Fully connected layer over (N, in) batches; cache: "x" (input), "y" (output).

    forward/backward return layer-owned buffers reused while the batch size holds.
    Set `need_dx = False` on a first layer to skip dx (backward then returns None).
    """

    type: ClassVar[str] = "dense"
    weight_params: ClassVar[tuple[str, ...]] = ("W",)
    defaults: ClassVar[dict] = {"init": "xavier", "init_std": 0.01}   # as the loader fills

    need_dx: bool = True

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 1:
            raise TuinnError(
                f"{self.name}: dense needs a flat input [features], "
                f"got {list(self.in_shape)}", key="type",
                hint="put a flatten layer before it")
        units = self.options.get("units")
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise TuinnError(f"{self.name}: units must be a positive integer, got {units!r}",
                             key="units")
        fan_in, fan_out = self.in_shape[0], int(units)
        opts = {**self.defaults, **self.options}
        self.params["W"] = init_weight(opts["init"], (fan_in, fan_out), fan_in, fan_out,
                                       rng, self.dtype, float(opts["init_std"]))  # (I, O)
        self.params["b"] = init_bias((fan_out,), self.dtype)                      # (O,)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        return (fan_out,)

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.in_shape[0]:
            raise TuinnError(f"{self.name}: dense expects input (N, {self.in_shape[0]}), "
                             f"got {x.shape}", hint="put a flatten layer before it")
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        W = self.params["W"]
        y = self.buffer("y", (x.shape[0], W.shape[1]))                # (N, O)
        dense_forward(x, W, self.params["b"], y)
        self.cache["x"] = x
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self.cache["x"]                                            # (N, I)
        if dy.dtype != self.dtype or not dy.flags.c_contiguous:
            dy = np.ascontiguousarray(dy, dtype=self.dtype)
        if dy.shape != (x.shape[0], self.out_shape[0]):
            raise ValueError(f"{self.name}: dy {dy.shape} does not fit y "
                             f"{(x.shape[0], self.out_shape[0])}")
        if not self.need_dx:
            dense_backward_params(x, dy, self.grads["W"], self.grads["b"])
            return None
        dx = self.buffer("dx", x.shape)                                # (N, I)
        dense_backward(x, self.params["W"], dy, dx, self.grads["W"], self.grads["b"])
        return dx
