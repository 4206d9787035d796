"""Provides the normalisation layers layernorm and batchnorm (with running statistics).

layernorm normalises each position over its last axis, as torch.nn.LayerNorm(D).
batchnorm normalises each feature of (N, C), each channel of (N, C, H, W), or each
feature (last axis) of (N, T, C) over the batch (and the spatial or time axes), as
PyTorch's BatchNorm1d/2d: in training with the batch's mean and biased variance,
updating its running statistics (the buffers `running_mean`, `running_var`, in
`self.running`); in evaluation (forward with train=False) with the running statistics.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.kernels import norm as K
from tuinn.engine.layers.base import Layer, register
from tuinn.engine.layers.elementwise import _as_grad, _as_input
from tuinn.errors import TuinnError


def _positive(layer: Layer, key: str, default: float) -> float:
    v = layer.options.get(key, default)
    v = default if v is None else v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v != v:
        raise TuinnError(f"{layer.name}: {key} must be a number > 0, got {v!r}", key=key)
    return float(v)


@register
class LayerNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta over the last axis (biased var).

    Params gamma (D) = 1, beta (D) = 0. cache: "x_hat" (the input's shape), "mean" and
    "rstd" (one per position: the input's shape without the last axis), "y".
    """

    type: ClassVar[str] = "layernorm"
    defaults: ClassVar[dict] = {"eps": 1e-5}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if not self.in_shape:
            raise TuinnError(f"{self.name}: layernorm needs an input with features",
                             key="model.input")
        self.eps = _positive(self, "eps", self.defaults["eps"])
        d = self.in_shape[-1]
        self.params["gamma"] = np.ones(d, dtype=self.dtype)               # (D,)
        self.params["beta"] = np.zeros(d, dtype=self.dtype)               # (D,)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return self.in_shape

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        d = x.shape[-1]
        rows = x.shape[:-1]
        y = self.buffer("y", x.shape)
        xhat = self.buffer("x_hat", x.shape)
        mean = self.buffer("mean", rows)
        rstd = self.buffer("rstd", rows)
        K.layernorm_forward(x.reshape(-1, d), self.params["gamma"], self.params["beta"],
                            self.eps, y.reshape(-1, d), xhat.reshape(-1, d),
                            mean.reshape(-1), rstd.reshape(-1))
        self.cache.update(x_hat=xhat, mean=mean, rstd=rstd, y=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat = self.cache["x_hat"]
        dy = _as_grad(self, dy, xhat.shape)
        d = xhat.shape[-1]
        dx = self.buffer("dx", xhat.shape)
        K.layernorm_backward(dy.reshape(-1, d), xhat.reshape(-1, d),
                             self.cache["rstd"].reshape(-1), self.params["gamma"],
                             dx.reshape(-1, d), self.grads["gamma"], self.grads["beta"])
        return dx


@register
class BatchNorm(Layer):
    """Batch normalisation per feature or channel; params gamma (C) = 1, beta (C) = 0.

    Buffers (`running`, not parameters): running_mean (C) from 0 and running_var (C)
    from 1, updated by every training forward with `momentum` (the unbiased variance).
    cache: "x_hat" (the input's shape), "mean" and "var" (the statistics used, (C,)),
    "rstd" (C), "y"; `mode` is "train" or "eval" after a forward.
    """

    type: ClassVar[str] = "batchnorm"
    defaults: ClassVar[dict] = {"eps": 1e-5, "momentum": 0.1}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        shape = self.in_shape
        if len(shape) not in (1, 2, 3):
            raise TuinnError(f"{self.name}: batchnorm needs [features], [time, features] or "
                             f"[channels, height, width], got {list(shape)}", key="model.input")
        self.eps = _positive(self, "eps", self.defaults["eps"])
        m = self.options.get("momentum", self.defaults["momentum"])
        m = self.defaults["momentum"] if m is None else m
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0.0 <= m <= 1.0:
            raise TuinnError(f"{self.name}: momentum must be in [0, 1], got {m!r}",
                             key="momentum")
        self.momentum = float(m)
        # which axis holds the channels: (C,) and (C, H, W) the first, (T, C) the last
        self.channels = shape[-1] if len(shape) == 2 else shape[0]
        c = self.channels
        self.params["gamma"] = np.ones(c, dtype=self.dtype)               # (C,)
        self.params["beta"] = np.zeros(c, dtype=self.dtype)               # (C,)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running = {"running_mean": np.zeros(c, dtype=self.dtype),     # (C,)
                        "running_var": np.ones(c, dtype=self.dtype)}      # (C,)
        self.mode = "train"
        return shape

    def note(self) -> str:
        where = {1: "per feature", 2: "per last-axis feature", 3: "per channel"}
        return f"{where[len(self.in_shape)]}, momentum {self.momentum:g}"

    def _view(self, a: np.ndarray) -> np.ndarray:
        """(A, C, B): the channel axis in the middle, every other value around it."""
        n = a.shape[0]
        if len(self.in_shape) == 1:
            return a.reshape(n, self.channels, 1)
        if len(self.in_shape) == 2:
            return a.reshape(n * self.in_shape[0], self.channels, 1)
        return a.reshape(n, self.channels, -1)

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        c = self.channels
        y = self.buffer("y", x.shape)
        xhat = self.buffer("x_hat", x.shape)
        rstd = self.buffer("rstd", (c,))
        g, b = self.params["gamma"], self.params["beta"]
        rm, rv = self.running["running_mean"], self.running["running_var"]
        if train:
            mean, var = self.buffer("mean", (c,)), self.buffer("var", (c,))
            K.batchnorm_forward_train(self._view(x), g, b, self.eps, self.momentum, rm, rv,
                                      self._view(y), self._view(xhat), mean, var, rstd)
        else:
            mean, var = rm, rv
            K.batchnorm_forward_eval(self._view(x), g, b, self.eps, rm, rv,
                                     self._view(y), self._view(xhat), rstd)
        self.mode = "train" if train else "eval"
        self.cache.update(x_hat=xhat, mean=mean, var=var, rstd=rstd, y=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat = self.cache["x_hat"]
        dy = _as_grad(self, dy, xhat.shape)
        dx = self.buffer("dx", xhat.shape)
        K.batchnorm_backward(self._view(dy), self._view(xhat), self.cache["rstd"],
                             self.params["gamma"], self.mode == "train", self._view(dx),
                             self.grads["gamma"], self.grads["beta"])
        return dx
