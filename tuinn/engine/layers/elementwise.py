"""Provides the elementwise layers (relu, leaky_relu, sigmoid, tanh), dropout and flatten.

All work on any (N, ...) batch and keep its shape (flatten excepted). Outputs and
input gradients live in layer-owned buffers reused while the batch shape holds.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.kernels import activation as K
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


def _as_input(layer: Layer, x: np.ndarray) -> np.ndarray:
    """x as a C-contiguous array of the layer's dtype (no copy when it already is)."""
    if x.dtype != layer.dtype or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=layer.dtype)
    if x.shape[1:] != layer.in_shape:
        raise TuinnError(f"{layer.name}: expects input (N, {', '.join(map(str, layer.in_shape))})"
                         f", got {x.shape}")
    return x


def _as_grad(layer: Layer, dy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if dy.dtype != layer.dtype or not dy.flags.c_contiguous:
        dy = np.ascontiguousarray(dy, dtype=layer.dtype)
    if dy.shape != shape:
        raise ValueError(f"{layer.name}: dy {dy.shape} does not fit the output {shape}")
    return dy


class _MaskLayer(Layer):
    """relu and leaky_relu: y = f(x) and mask = f'(x), so dx = dy * mask."""

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        y = self.buffer("y", x.shape)
        mask = self.buffer("mask", x.shape)
        self._kernel(x, y, mask)
        self.cache["mask"] = mask
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self.cache["mask"]
        dy = _as_grad(self, dy, mask.shape)
        dx = self.buffer("dx", mask.shape)
        K.relu_backward(dy, mask, dx)
        return dx


@register
class ReLU(_MaskLayer):
    """y = max(x, 0); cache: "mask" (1 where x > 0), "y"."""

    type: ClassVar[str] = "relu"

    def _kernel(self, x, y, mask):
        K.relu_forward(x, y, mask)


@register
class LeakyReLU(_MaskLayer):
    """y = x where x > 0 else slope * x; cache: "mask" (1 or slope), "y"."""

    type: ClassVar[str] = "leaky_relu"
    defaults: ClassVar[dict] = {"slope": 0.01}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        self.slope = float(self.options.get("slope", self.defaults["slope"]))
        return self.in_shape

    def _kernel(self, x, y, mask):
        K.leaky_relu_forward(x, self.slope, y, mask)


class _SmoothLayer(Layer):
    """sigmoid and tanh: the local gradient is a function of y alone."""

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        y = self.buffer("y", x.shape)
        self._fwd(x, y)
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self.cache["y"]
        dy = _as_grad(self, dy, y.shape)
        dx = self.buffer("dx", y.shape)
        self._bwd(dy, y, dx)
        return dx


@register
class Sigmoid(_SmoothLayer):
    """y = 1 / (1 + exp(-x)); cache: "y"."""

    type: ClassVar[str] = "sigmoid"
    _fwd = staticmethod(K.sigmoid_forward)
    _bwd = staticmethod(K.sigmoid_backward)


@register
class Tanh(_SmoothLayer):
    """y = tanh(x); cache: "y"."""

    type: ClassVar[str] = "tanh"
    _fwd = staticmethod(K.tanh_forward)
    _bwd = staticmethod(K.tanh_backward)


@register
class Dropout(Layer):
    """Inverted dropout: p = drop probability; training only, identity in eval mode.

    The mask comes from the rng passed to forward: keep with probability 1 - p, scaled
    by 1/(1 - p). cache: "mask". Set `freeze_mask = True` to reuse the last mask
    (gradient checking); a mask of another shape is drawn afresh.
    """

    type: ClassVar[str] = "dropout"
    defaults: ClassVar[dict] = {"p": 0.5}

    freeze_mask: bool = False

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        p = self.options.get("p", self.defaults["p"])
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise TuinnError(f"{self.name}: dropout p must be in [0, 1), got {p!r}", key="p")
        self.p = float(p)
        self._train = False
        self._u: np.ndarray | None = None
        return self.in_shape

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        self._train = bool(train)
        if not train:
            return x
        x = _as_input(self, x)
        mask = self.cache.get("mask")
        if not (self.freeze_mask and mask is not None and mask.shape == x.shape):
            mask = self.buffer("mask", x.shape)
            u = self._u                    # float64 draws whatever the dtype: same masks
            if u is None or u.shape != x.shape:
                u = self._u = np.empty(x.shape, dtype=np.float64)
            rng.random(out=u)
            K.dropout_mask(u, 1.0 - self.p, mask)
            self.cache["mask"] = mask
        y = self.buffer("y", x.shape)
        K.mul_forward(x, mask, y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if not self._train:
            return dy
        mask = self.cache["mask"]
        dy = _as_grad(self, dy, mask.shape)
        dx = self.buffer("dx", mask.shape)
        K.mul_forward(dy, mask, dx)
        return dx


@register
class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), or any (N, ...) -> (N, prod(...)); a view, no copy."""

    type: ClassVar[str] = "flatten"

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        return (int(np.prod(self.in_shape, dtype=np.int64)),)

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        return x.reshape(x.shape[0], self.out_shape[0])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape((dy.shape[0],) + self.in_shape)
