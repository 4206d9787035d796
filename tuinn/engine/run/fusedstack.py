"""Provides FusedStack: run mode's layer-by-layer pass with conv -> relu -> maxpool fused.

Where a network has relu followed by maxpool on (N, C, H, W) batches, optionally after
a conv2d, run mode calls one kernel for the group (tuinn/engine/kernels/fused.py) in
place of the two or three layer calls, each in its own pass over the batch, and on the
way back one kernel for maxpool's, relu's (and the conv2d's) backward. The kernels fill the layers'
own buffers (the same Workspace and `buffer` arrays the layers' forward and backward
use) and the stack sets each layer's cache as its forward/backward would, so a view,
the debugger and the next iteration see exactly what the layer-by-layer path leaves,
bit for bit (tests/test_fused.py). Every other layer runs as it always does.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import fused as K
from tuinn.engine.kernels.conv import _crop_into, _pad_into
from tuinn.engine.layers.conv import _check_grad, _check_input

RELU_POOL, CONV_RELU_POOL = 2, 3            # a group's kind is its number of layers


def _plain(layer) -> bool:
    return not layer.sublayers()


def groups(layers) -> list[tuple[int, int]]:
    """(start, length) of every fusable group, in order: conv2d (optional) -> relu ->
    maxpool over 4-D batches of one dtype."""
    out, i = [], 0
    while i < len(layers):
        a = layers[i]
        if (a.type == "relu" and i + 1 < len(layers) and layers[i + 1].type == "maxpool"
                and len(a.in_shape) == 3 and _plain(a) and _plain(layers[i + 1])
                and a.dtype == layers[i + 1].dtype):
            if (i > 0 and layers[i - 1].type == "conv2d" and _plain(layers[i - 1])
                    and layers[i - 1].dtype == a.dtype
                    and (not out or out[-1][0] + out[-1][1] <= i - 1)):
                out.append((i - 1, CONV_RELU_POOL))
            else:
                out.append((i, RELU_POOL))
            i += 2
        else:
            i += 1
    return out


class FusedStack:
    """A network's layers with their fused groups: forward and backward of a batch."""

    def __init__(self, layers, found: list[tuple[int, int]]):
        self.layers = layers
        self.starts = {start: kind for start, kind in found}
        self.pools = {start + kind - 1: kind for start, kind in found}  # maxpool -> kind

    @classmethod
    def build(cls, layers) -> "FusedStack | None":
        found = groups(layers)
        return cls(layers, found) if found else None

    def forward(self, h: np.ndarray, rng) -> np.ndarray:
        layers, i = self.layers, 0
        while i < len(layers):
            kind = self.starts.get(i)
            if kind == CONV_RELU_POOL:
                h = conv_relu_pool(layers[i], layers[i + 1], layers[i + 2], h)
            elif kind == RELU_POOL:
                h = relu_pool(layers[i], layers[i + 1], h)
            else:
                h = layers[i].forward(h, True, rng)
                kind = 1
            i += kind
        return h

    def backward_group(self, i: int) -> int:
        """0, or when layer i is a group's maxpool the group's length: the maxpool's,
        relu's (and the conv2d's) backward then run as one (`pool_relu_backward`,
        `pool_relu_conv_backward`)."""
        return self.pools.get(i, 0)


def relu_pool(relu, pool, x: np.ndarray) -> np.ndarray:
    """relu.forward then pool.forward, as one kernel; returns the pool's output."""
    from tuinn.engine.layers.elementwise import _as_input
    x = _as_input(relu, x)
    y, mask = relu.buffer("y", x.shape), relu.buffer("mask", x.shape)
    shape = (x.shape[0],) + tuple(pool.out_shape)
    yp, argmax = pool._ws.get("y", shape, x.dtype), pool._ws.get("argmax", shape, np.int64)
    K.relu_maxpool_forward(x, pool.size, pool.stride, y, mask, yp, argmax)
    _bind(relu, pool, y, mask, yp, argmax)
    return yp


def conv_relu_pool(conv, relu, pool, x: np.ndarray) -> np.ndarray:
    """conv.forward, relu.forward, pool.forward as one kernel (conv2d_forward's buffers)."""
    x = _check_input(conv, x)                                           # (N, C, H, W)
    w, b, p, ws = conv.params["W"], conv.params["b"], conv.padding, conv._ws
    if not (w.flags.c_contiguous and b.flags.c_contiguous):
        w, b = np.ascontiguousarray(w), np.ascontiguousarray(b)
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    _, OH, OW = conv.out_shape
    dtype = w.dtype
    if p:
        xp = ws.get("xp", (N, C, H + 2 * p, W + 2 * p), dtype)
        _pad_into(x, p, xp)
    else:
        xp = x
    cols = ws.get("cols", (N, C * k * k, OH * OW), dtype)
    yc = ws.get("y", (N, F, OH, OW), dtype)
    y, mask = relu.buffer("y", yc.shape), relu.buffer("mask", yc.shape)
    shape = (N,) + tuple(pool.out_shape)
    yp, argmax = pool._ws.get("y", shape, dtype), pool._ws.get("argmax", shape, np.int64)
    K.conv_relu_maxpool_forward(xp, w, b, conv.stride, cols, yc, pool.size, pool.stride,
                                y, mask, yp, argmax)
    conv.cache["x"] = x
    conv.cache["y"] = yc
    _bind(relu, pool, y, mask, yp, argmax)
    return yp


def _bind(relu, pool, y, mask, yp, argmax) -> None:
    relu.cache["mask"] = mask
    relu.cache["y"] = y
    pool.cache["x"] = y
    pool.cache["y"] = yp
    pool.cache["argmax"] = argmax


def pool_relu_backward(pool, relu, dy: np.ndarray) -> np.ndarray:
    """pool.backward then relu.backward as one kernel; returns relu's dx."""
    dy = _check_grad(pool, dy)
    mask = relu.cache["mask"]
    dxp = pool._ws.get("dx", mask.shape, mask.dtype)
    dxr = relu.buffer("dx", mask.shape)
    K.maxpool_relu_backward(dy, pool.cache["argmax"], mask, dxp, dxr)
    pool.cache["dy"] = dy
    pool.cache["dx"] = dxp
    return dxr


def pool_relu_conv_backward(pool, relu, conv, dy: np.ndarray) -> np.ndarray | None:
    """pool.backward, relu.backward, conv.backward as one kernel (conv2d_backward's
    buffers and checks); returns conv's dx (None when conv.need_dx is off)."""
    dy = _check_grad(pool, dy)
    mask = relu.cache["mask"]
    dtype = mask.dtype
    dxp = pool._ws.get("dx", mask.shape, dtype)
    dxr = relu.buffer("dx", mask.shape)
    W = conv.params["W"]
    if conv.grads["W"].shape != W.shape or not conv.grads["W"].flags.c_contiguous:
        conv.grads["W"] = np.zeros_like(W, order="C")
    w, dw, db = np.ascontiguousarray(W), conv.grads["W"], conv.grads["b"]
    if not (dw.dtype == dtype and db.dtype == dtype):
        raise ValueError("conv2d backward: dW/db must be arrays of the weights' dtype")
    N, C, H, Wd = conv.cache["x"].shape
    F, _, k, _ = w.shape
    _, OH, OW = conv.out_shape
    p, ws = conv.padding, conv._ws
    cols = ws.get("cols", (N, C * k * k, OH * OW), dtype)
    dw_tmp = ws.get("dw_tmp", (F, C * k * k), dtype)
    dcols = ws.get("dcols", (C * k * k, OH * OW), dtype)
    argmax = pool.cache["argmax"]
    dx = None
    if not conv.need_dx:
        dummy = ws.get("dx_none", (1, 1, 1, 1), dtype)
        K.maxpool_relu_conv_backward(dy, argmax, mask, dxp, dxr, w, cols, conv.stride, False,
                                     dw, db, dw_tmp, dcols, dummy)
    else:
        dx = ws.get("dx", (N, C, H, Wd), dtype)
        dxpad = ws.get("dxp", (N, C, H + 2 * p, Wd + 2 * p), dtype) if p else dx
        K.maxpool_relu_conv_backward(dy, argmax, mask, dxp, dxr, w, cols, conv.stride, True,
                                     dw, db, dw_tmp, dcols, dxpad)
        if p:
            _crop_into(dxpad, p, dx)
        conv.cache["dx"] = dx
    pool.cache["dy"] = dy
    pool.cache["dx"] = dxp
    conv.cache["dy"] = dxr
    return dx
