"""Provides the dense layer: y = x @ W + b with W (in, out) and b (out,), on the last axis."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels.dense import dense_backward, dense_backward_params, dense_forward
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


@register
class Dense(Layer):
    """Fully connected layer on the last axis: (N, ..., in) -> (N, ..., out), every
    position (a sequence's timesteps) with the same W and b; cache: "x" (input), "y"
    (output), in those shapes.

    forward/backward return layer-owned buffers reused while the batch size holds.
    Set `need_dx = False` on a first layer to skip dx (backward then returns None).
    """

    type: ClassVar[str] = "dense"
    defaults: ClassVar[dict] = {"init": "xavier", "init_std": 0.01}   # as the loader fills

    need_dx: bool = True

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) not in (1, 2):
            raise TuinnError(
                f"{self.name}: dense needs [features] or [time, features], "
                f"got {list(self.in_shape)}", key="type",
                hint="put a flatten layer before it")
        units = self.options.get("units")
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise TuinnError(f"{self.name}: units must be a positive integer, got {units!r}",
                             key="units")
        fan_in, fan_out = self.in_shape[-1], int(units)
        opts = {**self.defaults, **self.options}
        self.params["W"] = init_weight(opts["init"], (fan_in, fan_out), fan_in, fan_out,
                                       rng, self.dtype, float(opts["init_std"]))  # (I, O)
        self.params["b"] = init_bias((fan_out,), self.dtype)                      # (O,)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        return self.in_shape[:-1] + (fan_out,)

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.shape[1:] != self.in_shape:
            want = ", ".join(map(str, self.in_shape))
            raise TuinnError(f"{self.name}: dense expects input (N, {want}), "
                             f"got {x.shape}", hint="put a flatten layer before it")
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        W = self.params["W"]
        y = self.buffer("y", x.shape[:-1] + (W.shape[1],))           # (N, ..., O)
        dense_forward(x.reshape(-1, W.shape[0]), W, self.params["b"],
                      y.reshape(-1, W.shape[1]))                      # rows: every position
        self.cache["x"] = x
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self.cache["x"]                                            # (N, ..., I)
        if dy.dtype != self.dtype or not dy.flags.c_contiguous:
            dy = np.ascontiguousarray(dy, dtype=self.dtype)
        if dy.shape != x.shape[:1] + self.out_shape:
            raise ValueError(f"{self.name}: dy {dy.shape} does not fit y "
                             f"{x.shape[:1] + self.out_shape}")
        x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])   # (M, I), (M, O)
        if not self.need_dx:
            dense_backward_params(x2, dy2, self.grads["W"], self.grads["b"])
            return None
        dx = self.buffer("dx", x.shape)                                # (N, ..., I)
        dense_backward(x2, self.params["W"], dy2, dx.reshape(x2.shape), self.grads["W"],
                       self.grads["b"])
        return dx
