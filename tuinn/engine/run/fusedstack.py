"""Provides FusedStack: run mode's layer-by-layer pass with conv -> relu -> maxpool fused.

Where a network has relu followed by maxpool on (N, C, H, W) batches, optionally after
a conv2d, run mode calls one kernel for the group (tuinn/engine/kernels/fused.py) in
place of the two or three layer calls, each in its own pass over the batch, and on the
way back one kernel for maxpool's, relu's (and the conv2d's) backward. relu -> maxpool
fills the layers' own buffers (the same Workspace and `buffer` arrays the layers'
forward and backward use) and sets each layer's cache as its forward/backward would.
conv2d -> relu -> maxpool runs the lean kernels: sample by sample, the batch-sized
intermediates in one sample's scratch, the pool's output and winners and the
gradients in the layers' arrays, and the caches nobody in run mode reads made when
read (tuinn/engine/run/lazygroup.py); a first conv2d's dx is not computed. Either way
a view, the debugger and the next iteration see exactly what the layer-by-layer path
leaves, bit for bit (tests/test_fused.py, tests/test_conv_lean.py). Every other layer
runs as it always does.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import fused as K
from tuinn.engine.kernels.conv import _crop_into
from tuinn.engine.layers.conv import _check_grad, _check_input
from tuinn.engine.run.lazygroup import GroupRecord

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

    def forward(self, h: np.ndarray, rng, rows: np.ndarray | None = None) -> np.ndarray:
        """The batch through the layers; with `rows`, the batch is h[rows] (the data set),
        gathered by a first conv -> relu -> maxpool group's kernel (`gathers`)."""
        layers, i = self.layers, 0
        if rows is not None and not self.gathers(h):
            h, rows = h.take(rows, axis=0), None
        while i < len(layers):
            kind = self.starts.get(i)
            if kind == CONV_RELU_POOL:
                h = conv_relu_pool(layers[i], layers[i + 1], layers[i + 2], h, rows)
                rows = None
            elif kind == RELU_POOL:
                h = relu_pool(layers[i], layers[i + 1], h)
            else:
                h = layers[i].forward(h, True, rng)
                kind = 1
            i += kind
        return h

    def gathers(self, data: np.ndarray) -> bool:
        """True when the first layers are a conv -> relu -> maxpool group that can read
        a batch's rows straight from `data` (the layer's dtype, C-contiguous, 4-D)."""
        conv = self.layers[0]
        return (self.starts.get(0) == CONV_RELU_POOL and data.dtype == conv.dtype
                and data.flags.c_contiguous and data.ndim == 4
                and data.shape[1:] == tuple(conv.in_shape))

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


#: the lean kernels keep a batch's columns from forward to backward up to this size
#: (bytes); above it they make a sample's again in the backward (W4's 2 MB, the row of
#: ones included: 40 us against more to write out to memory and read back; a small
#: batch's cost less kept)
KEEP_COLS = 512 * 1024


def _lean_scratch(conv, pool, N: int, dtype) -> tuple:
    """The lean kernels' arrays for a batch of N: one sample's padded input, the batch's
    columns (up to KEEP_COLS; else one sample's), five (F, OH, OW) planes, conv2d's
    backward dW and column scratch and a dummy dx (the conv's Workspace), the pool's
    output and winners (the pool's, as its forward fills them); looked up once per
    shape."""
    key = (N, dtype)
    kept = conv.__dict__.get("_lean")
    if kept is not None and kept[0] == key and kept[1][-2] is pool._ws.get(
            "y", (N,) + tuple(pool.out_shape), dtype):
        return kept[1]
    C, H, W = conv.in_shape
    F, OH, OW = conv.out_shape
    k, p, ws = conv.kernel, conv.padding, conv._ws
    shape = (N,) + tuple(pool.out_shape)
    arrays = (ws.get("lean_xp", (C, H + 2 * p, W + 2 * p), dtype),   # zero border
              ws.get("lean_cols", (N if N * (C * k * k + 1) * OH * OW * np.dtype(dtype).itemsize
                                   <= KEEP_COLS else 1, C * k * k + 1, OH * OW), dtype),
              *(ws.get(name, (F, OH, OW), dtype)
                for name in ("lean_y", "lean_r", "lean_m", "lean_dp", "lean_dr")),
              ws.get("dw_tmp", (F, C * k * k + 1), dtype),
              ws.get("dcols", (C * k * k, OH * OW), dtype),
              ws.get("dx_none", (1, 1, 1, 1), dtype),
              pool._ws.get("y", shape, dtype), pool._ws.get("argmax", shape, np.int64))
    conv._lean = (key, arrays)
    return arrays


_ARANGE = np.arange(0)


def _all_rows(n: int) -> np.ndarray:
    """0, 1, ..., n - 1 (the rows of a batch that is its own data), kept."""
    global _ARANGE
    if _ARANGE.size < n:
        _ARANGE = np.arange(max(n, 2 * _ARANGE.size), dtype=np.int64)
    return _ARANGE[:n]


def conv_relu_pool(conv, relu, pool, x: np.ndarray,
                   rows: np.ndarray | None = None) -> np.ndarray:
    """conv.forward, relu.forward, pool.forward as one kernel, the lean one: one sample
    of the convolution's output, relu's output and mask at a time, their caches made on
    demand (tuinn/engine/run/lazygroup.py). With `rows` (FusedStack.gathers said yes),
    the batch is x[rows], read row by row by the kernel, and conv's cache["x"] is made
    when read."""
    x = _check_input(conv, x)                                           # (N, C, H, W)
    w, b = conv.params["W"], conv.params["b"]
    if not (w.flags.c_contiguous and b.flags.c_contiguous):
        w, b = np.ascontiguousarray(w), np.ascontiguousarray(b)
    if rows is not None and not (rows.dtype == np.int64 and rows.flags.c_contiguous):
        rows = np.ascontiguousarray(rows, dtype=np.int64)
    n = x.shape[0] if rows is None else rows.shape[0]
    xpn, colsn, ycn, yn, mn, *_, yp, argmax = _lean_scratch(conv, pool, n, w.dtype)
    K.conv_relu_maxpool_lean(x, _all_rows(n) if rows is None else rows, conv.padding, w, b,
                             conv.stride, xpn, colsn, ycn, yn, mn, pool.size, pool.stride, yp,
                             argmax)
    record = GroupRecord(conv, relu, pool, x, rows, w, b, argmax)
    record.put_forward(yp, argmax)
    conv._lazy_record = relu._lazy_record = pool._lazy_record = record
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


def pool_relu_conv_backward(pool, relu, conv, dy: np.ndarray,
                            first: bool = False) -> np.ndarray | None:
    """pool.backward, relu.backward, conv.backward as one kernel after conv_relu_pool
    (conv2d_backward's checks; the lean kernel, the caches made on demand); returns
    conv's dx, None when conv.need_dx is off or the conv is the network's `first`
    layer (run mode reads no dx there: its cache entry is made on demand)."""
    record = conv._lazy_record
    x, rows = record.x, record.rows
    n = x.shape[0] if rows is None else rows.shape[0]
    dy = _check_grad(pool, dy, n)                       # not pool.cache["x"]: pending
    dtype = conv.dtype
    W = conv.params["W"]
    if conv.grads["W"].shape != W.shape or not conv.grads["W"].flags.c_contiguous:
        conv.grads["W"] = np.zeros_like(W, order="C")
    w, dw, db = record.w, conv.grads["W"], conv.grads["b"]           # W as in forward
    if not (dw.dtype == dtype and db.dtype == dtype):
        raise ValueError("conv2d backward: dW/db must be arrays of the weights' dtype")
    N, (C, H, Wd) = n, x.shape[1:]
    p, ws = conv.padding, conv._ws
    (xpn, colsn, _, _, _, dxpn, dxrn, dw_tmp, dcols, dxpad, yp,
     argmax) = _lean_scratch(conv, pool, N, dtype)
    need_dx = conv.need_dx and not first
    dx = None
    if need_dx:
        dx = ws.get("dx", (N, C, H, Wd), dtype)
        dxpad = ws.get("dxp", (N, C, H + 2 * p, Wd + 2 * p), dtype) if p else dx
    K.maxpool_relu_conv_backward_lean(dy, argmax, yp, pool.size, pool.stride, x,
                                      _all_rows(N) if rows is None else rows, p, w,
                                      conv.stride, need_dx, dw, db, dw_tmp, dcols, xpn, colsn,
                                      dxpn, dxrn, dxpad)
    if need_dx:
        if p:
            _crop_into(dxpad, p, dx)
        conv.cache["dx"] = dx
    pool.cache["dy"] = dy
    record.put_backward(dy, dx_lazy=conv.need_dx and first)
    return dx
