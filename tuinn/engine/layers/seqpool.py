"""Provides the seq_pool layer: (N, T, D) -> (N, D) by the mean, the max or the last step."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.kernels.seqpool import MODES, seqpool_backward, seqpool_forward
from tuinn.engine.layers.base import Layer, register
from tuinn.engine.layers.elementwise import _as_grad, _as_input
from tuinn.errors import TuinnError


@register
class SeqPool(Layer):
    """Pools a sequence over time; max routes to the first maximum. cache: "arg" (N, D)
    int64, the time step each output came from (max, last), "y" (N, D)."""

    type: ClassVar[str] = "seq_pool"
    defaults: ClassVar[dict] = {"mode": "mean"}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 2:
            raise TuinnError(f"{self.name}: seq_pool needs a sequence [time, features], got "
                             f"{list(self.in_shape)}", key="model.input",
                             hint="put it after a layer with return_sequences = true")
        mode = self.options.get("mode") or self.defaults["mode"]
        if mode not in MODES:
            raise TuinnError(f"{self.name}: unknown seq_pool mode {mode!r}", key="mode",
                             hint="one of " + ", ".join(MODES))
        self.mode = mode
        return (self.in_shape[1],)

    def note(self) -> str:
        return {"mean": "mean over time", "max": "max over time",
                "last": "the last step"}[self.mode]

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        y = self.buffer("y", (x.shape[0], x.shape[2]))
        arg = self.__dict__.get("_arg")
        if arg is None or arg.shape != y.shape:
            arg = self._arg = np.empty(y.shape, dtype=np.int64)          # (N, D)
        seqpool_forward(x, MODES[self.mode], y, arg)
        self.cache["arg"] = arg
        self.cache["y"] = y
        self._in = x.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        arg = self.cache["arg"]
        dy = _as_grad(self, dy, arg.shape)
        dx = self.buffer("dx", self._in)
        seqpool_backward(dy, MODES[self.mode], arg, dx)
        return dx
