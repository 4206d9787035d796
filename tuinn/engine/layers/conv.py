"""Provides the conv2d, maxpool and avgpool layers over (N, C, H, W) batches.

conv2d is a cross-correlation as in PyTorch: W (F, C, K, K), b (F,),
OH = floor((H - K + 2P) / S) + 1. Pools have no padding and stride = size by default.
Each output position is one sub-step (the debugger slides one window at a time; see
tuinn.engine.conv_steps). Outputs and input gradients live in layer-owned buffers that
the next call overwrites: copy what must be kept.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels import pool as PK
from tuinn.engine.kernels.conv import Workspace, conv2d_backward, conv2d_forward, conv_out
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


def _int_option(layer: Layer, key: str, default, minimum: int) -> int:
    value = layer.options.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise TuinnError(f"{layer.name}: {key} must be an integer >= {minimum}, got {value!r}",
                         key=key)
    return int(value)


def _spatial_input(layer: Layer) -> tuple[int, int, int]:
    if len(layer.in_shape) != 3:
        raise TuinnError(f"{layer.name}: {layer.type} needs an input [channels, height, width], "
                         f"got {list(layer.in_shape)}", key="type",
                         hint="set [model] input = [C, H, W] and put conv/pool layers "
                              "before flatten")
    C, H, W = (int(v) for v in layer.in_shape)
    return C, H, W


def _output_size(layer: Layer, axis: str, size: int, k: int, p: int, s: int) -> int:
    """floor((size - k + 2p) / s) + 1, or a TuinnError that shows the formula filled in."""
    out = conv_out(size, k, p, s)
    if out < 1:
        kname = "K" if layer.type == "conv2d" else "size"
        raise TuinnError(
            f"{layer.name}: output {axis} floor(({axis[0].upper()} - {kname} + 2P) / S) + 1 = "
            f"floor(({size} - {k} + 2*{p}) / {s}) + 1 = {out} is < 1",
            key="kernel" if layer.type == "conv2d" else "size",
            hint="use a smaller kernel or pool size, more padding, or a larger input")
    return out


def settle_cache(layer: Layer) -> None:
    """Make the entries run mode's lean conv -> relu -> maxpool group left pending in
    the layer's cache (tuinn/engine/run/lazygroup.py) before its own pass overwrites
    what they are made from."""
    if layer.cache.__class__ is not dict:
        from tuinn.engine.run.lazygroup import settle_cache as settle
        settle(layer)


def _check_input(layer: Layer, x: np.ndarray) -> np.ndarray:
    if x.dtype != layer.dtype or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=layer.dtype)
    if x.ndim != 4 or x.shape[1:] != layer.in_shape:
        raise TuinnError(f"{layer.name}: expects input (N, {', '.join(map(str, layer.in_shape))}),"
                         f" got {x.shape}")
    return x


def _check_grad(layer: Layer, dy: np.ndarray, n: int | None = None) -> np.ndarray:
    """dy as the layer's dtype, C-contiguous, of its output's shape for n samples (the
    cached input's batch by default)."""
    if dy.dtype != layer.dtype or not dy.flags.c_contiguous:
        dy = np.ascontiguousarray(dy, dtype=layer.dtype)
    want = (layer.cache["x"].shape[0] if n is None else n,) + tuple(layer.out_shape)
    if dy.shape != want:
        raise ValueError(f"{layer.name}: dy {dy.shape} does not fit the output {want}")
    return dy


@register
class Conv2D(Layer):
    """2-D cross-correlation. cache: "x", "y" (forward), "dy", "dx" (backward).

    Set `need_dx = False` on a first layer to skip dx (backward then returns None).
    """

    type: ClassVar[str] = "conv2d"
    defaults: ClassVar[dict] = {"stride": 1, "padding": 0, "init": "he", "init_std": 0.01}

    need_dx: bool = True

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        C, H, W = _spatial_input(self)
        d = self.defaults
        self.filters = _int_option(self, "filters", None, 1)
        self.kernel = _int_option(self, "kernel", None, 1)
        self.stride = _int_option(self, "stride", d["stride"], 1)
        self.padding = _int_option(self, "padding", d["padding"], 0)
        F, K, S, P = self.filters, self.kernel, self.stride, self.padding
        OH = _output_size(self, "height", H, K, P, S)
        OW = _output_size(self, "width", W, K, P, S)
        opts = {**d, **{k: v for k, v in self.options.items() if v is not None}}
        fan_in, fan_out = C * K * K, F * K * K
        self.params["W"] = init_weight(opts["init"], (F, C, K, K), fan_in, fan_out, rng,
                                       self.dtype, float(opts["init_std"]))  # (F, C, K, K)
        self.params["b"] = init_bias((F,), self.dtype)                      # (F,)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        self._ws = Workspace()
        return (F, OH, OW)

    def substeps(self) -> int:
        return int(self.out_shape[1] * self.out_shape[2])

    def dense_equivalent(self) -> int:
        """Parameters of a dense layer from the same input to the same output."""
        n_in, n_out = int(np.prod(self.in_shape)), int(np.prod(self.out_shape))
        return n_in * n_out + n_out

    def note(self) -> str:
        """Parameter sharing in numbers, for `tuinn check`."""
        dense, own = self.dense_equivalent(), self.param_count()
        if own >= dense:
            return f"dense over the same input: {dense:,} params (no saving here)"
        saved = int(100 * (dense - own) // dense)       # rounded down: never "100%"
        return f"dense over the same input: {dense:,} params (sharing saves {saved}%)"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        settle_cache(self)
        x = _check_input(self, x)                                           # (N, C, H, W)
        y = conv2d_forward(x, self.params["W"], self.params["b"], self.stride, self.padding,
                           self._ws)                                        # (N, F, OH, OW)
        self.cache["x"] = x
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        settle_cache(self)
        dy = _check_grad(self, dy)                                          # (N, F, OH, OW)
        W = self.params["W"]
        if self.grads["W"].shape != W.shape or not self.grads["W"].flags.c_contiguous:
            self.grads["W"] = np.zeros_like(W, order="C")
        dx = conv2d_backward(dy, self.cache["x"].shape, W, self.stride, self.padding,
                             self._ws, self.grads["W"], self.grads["b"],
                             need_dx=self.need_dx)                          # (N, C, H, W)
        self.cache["dy"] = dy
        if dx is not None:
            self.cache["dx"] = dx
        return dx


class _Pool(Layer):
    """Shared by the pools: size, stride (= size by default), no padding."""

    padding: int = 0

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        C, H, W = _spatial_input(self)
        self.size = _int_option(self, "size", None, 1)
        self.stride = _int_option(self, "stride", self.size, 1)
        self.kernel = self.size                    # the window side, as conv2d calls it
        OH = _output_size(self, "height", H, self.size, 0, self.stride)
        OW = _output_size(self, "width", W, self.size, 0, self.stride)
        self._ws = Workspace()
        return (C, OH, OW)

    def substeps(self) -> int:
        return int(self.out_shape[1] * self.out_shape[2])


@register
class MaxPool(_Pool):
    """Max over each window. cache: "x", "y", "argmax" (flat r*W + c of each window's
    winner, (N, C, OH, OW) int64), "dy", "dx"."""

    type: ClassVar[str] = "maxpool"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        settle_cache(self)
        x = _check_input(self, x)                                           # (N, C, H, W)
        y, argmax = PK.maxpool_forward(x, self.size, self.stride, self._ws)  # (N, C, OH, OW)
        self.cache["x"] = x
        self.cache["y"] = y
        self.cache["argmax"] = argmax
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        settle_cache(self)
        dy = _check_grad(self, dy)
        dx = PK.maxpool_backward(dy, self.cache["argmax"], self.cache["x"].shape, self._ws)
        self.cache["dy"] = dy
        self.cache["dx"] = dx
        return dx


@register
class AvgPool(_Pool):
    """Mean over each window. cache: "x", "y", "dy", "dx"."""

    type: ClassVar[str] = "avgpool"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _check_input(self, x)
        y = PK.avgpool_forward(x, self.size, self.stride, self._ws)        # (N, C, OH, OW)
        self.cache["x"] = x
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = _check_grad(self, dy)
        dx = PK.avgpool_backward(dy, self.size, self.stride, self.cache["x"].shape, self._ws)
        self.cache["dy"] = dy
        self.cache["dx"] = dx
        return dx
