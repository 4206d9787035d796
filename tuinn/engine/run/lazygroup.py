"""Provides run mode's lean conv -> relu -> maxpool group: caches filled on demand.

The fused group (tuinn/engine/run/fusedstack.py) used to fill every array the layers
leave in their caches: the convolution's output, relu's output and mask, the pool's
dx and relu's dx, five (N, F, OH, OW) arrays a batch (8 MB for issue 11's W4), written
out to memory and read back every iteration although nothing but a view, a watch or
a breakpoint ever reads them, and those rarely. The lean kernels
(tuinn/engine/kernels/fused.py, `*_lean`) keep one sample of them at a time in
scratch planes; the pool's output and winners, the layers' gradients and the conv's
dx where a layer before it needs one are made as before.

What the layers' caches would hold is made when somebody reads it: each layer's cache
becomes a `LazyCache`, a dict whose pending entries are computed on first access by a
`GroupRecord`, which reruns the layers' own kernels on the iteration's inputs (the
batch, copies of W and b as they were before the update, the pooled gradient): the
same values, bit for bit, as the layers one by one (tests/test_fused.py reads every
cache, tests/test_conv_lean.py the ways of reading one). Pending entries are settled
(computed) before the conv2d or maxpool of the group runs its own forward or backward
again (layers/conv.py calls `settle_cache`), so a step after run mode never makes them
from a buffer that step has overwritten; run mode's next iteration replaces them. A
reader on another thread while the next iteration runs may see values mixed from both
iterations, as it may with the layers' buffers, which are overwritten in place.
A first conv2d's dx (nothing in run mode reads it) is made on demand too, and so is its
cache["x"] when the kernel read the batch's rows straight from the data set (x[rows],
gathered when read: `GroupRecord.batch`).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import fused as K
from tuinn.engine.kernels.conv import (_crop_into, _pad_into, conv2d_backward_kernel,
                                       conv2d_forward_kernel)
from tuinn.engine.kernels.pool import maxpool_backward_kernel


class LazyCache(dict):
    """A layer's cache whose entries may be pending: made by a function on first read.

    Reads of every kind (`[]`, get, items, values, copies, iteration with values) see
    made arrays; writing a key drops its pending function."""

    __slots__ = ("_pending",)

    def __init__(self, *args, **kws):
        super().__init__(*args, **kws)
        self._pending: dict = {}

    def put_lazy(self, key: str, make) -> None:
        """cache[key] will be make() when first read."""
        dict.__setitem__(self, key, None)
        self._pending[key] = make

    def put_lazy_many(self, makers: dict) -> None:
        """put_lazy(key, make) for every key: make of `makers`, in two dict updates."""
        dict.update(self, dict.fromkeys(makers))
        self._pending.update(makers)

    def pending(self) -> list[str]:
        return list(self._pending)

    def _fill(self, key) -> None:
        make = self._pending.pop(key, None)
        if make is not None:
            dict.__setitem__(self, key, make())

    def settle(self) -> None:
        """Make every pending entry now."""
        for key in list(self._pending):
            self._fill(key)

    def __getitem__(self, key):
        if self._pending:
            self._fill(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if self._pending:
            self._fill(key)
        return dict.get(self, key, default)

    def __setitem__(self, key, value) -> None:
        self._pending.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key) -> None:
        self._pending.pop(key, None)
        dict.__delitem__(self, key)

    def pop(self, key, *default):
        self._fill(key)
        return dict.pop(self, key, *default)

    def setdefault(self, key, default=None):
        self._fill(key)
        return dict.setdefault(self, key, default)

    def update(self, *args, **kws) -> None:
        for key, value in dict(*args, **kws).items():
            self[key] = value

    def clear(self) -> None:
        self._pending.clear()
        dict.clear(self)

    def popitem(self):
        self.settle()
        return dict.popitem(self)

    def items(self):
        self.settle()
        return dict.items(self)

    def values(self):
        self.settle()
        return dict.values(self)

    def __iter__(self):                 # not dict's: dict(cache) then reads through []
        return iter(list(dict.keys(self)))

    def copy(self) -> dict:
        self.settle()
        return dict(dict.items(self))

    def __eq__(self, other) -> bool:
        self.settle()
        return dict.__eq__(self, other)

    __hash__ = None

    def __repr__(self) -> str:
        self.settle()
        return dict.__repr__(self)

    def __reduce__(self):               # copy, deepcopy, pickle: a plain dict's items
        self.settle()
        return (LazyCache, (dict(dict.items(self)),))


def lazy_cache(layer) -> LazyCache:
    """The layer's cache as a LazyCache (its entries kept)."""
    cache = layer.cache
    if type(cache) is not LazyCache:
        cache = layer.cache = LazyCache(cache)
    return cache


class GroupRecord:
    """One iteration's inputs to a conv -> relu -> maxpool group, and what the layers
    would have cached, made on first read (then kept)."""

    def __init__(self, conv, relu, pool, x, rows, w, b, argmax):
        self.conv, self.relu, self.pool = conv, relu, pool
        self.x, self.rows = x, rows                        # the batch: x, or x[rows]
        self.w, self.b = w.copy(), b.copy()                # W, b before the update
        self.argmax = argmax                               # the pool's winners
        self.dy = None
        self.made: dict[str, np.ndarray] = {}

    def batch(self) -> np.ndarray:
        """The iteration's batch (N, C, H, W): x, or x[rows] gathered now."""
        if self.rows is None:
            return self.x
        made = self.made
        if "x" not in made:
            made["x"] = self.x.take(self.rows, axis=0)
        return made["x"]

    # ---------------------------------------------------------------- forward
    def forward_arrays(self) -> dict:
        made = self.made
        if "yc" not in made:
            conv, x, w = self.conv, self.batch(), self.w
            N, C, H, W = x.shape
            F, _, k, _ = w.shape
            _, OH, OW = conv.out_shape
            p = conv.padding
            if p:
                xp = np.zeros((N, C, H + 2 * p, W + 2 * p), w.dtype)
                _pad_into(x, p, xp)
            else:
                xp = x
            cols = np.empty((N, C * k * k + 1, OH * OW), w.dtype)      # and ones
            yc = np.empty((N, F, OH, OW), w.dtype)
            conv2d_forward_kernel(xp, w, self.b, conv.stride, cols, yc)
            y, mask = np.empty_like(yc), np.empty_like(yc)
            K.relu_plane(yc.reshape(-1), 0, yc.size, y.reshape(-1), mask.reshape(-1))
            made.update(yc=yc, y=y, mask=mask, cols=cols)
        return made

    def _yc(self) -> np.ndarray:
        return self.forward_arrays()["yc"]

    def _mask(self) -> np.ndarray:
        return self.forward_arrays()["mask"]

    def _y(self) -> np.ndarray:
        return self.forward_arrays()["y"]

    def put_forward(self, yp: np.ndarray, argmax: np.ndarray) -> None:
        """The caches after the lean forward: conv x (the batch, made when read if the
        kernel gathered its rows), pool y and argmax (the kernel's), and the ones the
        kernel left out, made when read: conv y, relu mask and y, pool x."""
        conv, pool = lazy_cache(self.conv), lazy_cache(self.pool)
        if self.rows is None:
            conv["x"] = self.x
            conv.put_lazy("y", self._yc)
        else:
            conv.put_lazy_many({"x": self.batch, "y": self._yc})
        lazy_cache(self.relu).put_lazy_many({"mask": self._mask, "y": self._y})
        pool["y"] = yp
        pool["argmax"] = argmax
        pool.put_lazy("x", self._y)

    # --------------------------------------------------------------- backward
    def backward_arrays(self) -> dict:
        made = self.made
        if "dxr" not in made:
            mask = self.forward_arrays()["mask"]
            dxp, dxr = np.empty_like(mask), np.empty_like(mask)
            maxpool_backward_kernel(self.dy, self.argmax, dxp)
            np.multiply(dxp, mask, out=dxr)              # relu_backward's dy * mask
            made.update(dxp=dxp, dxr=dxr)
        return made

    def dx_array(self) -> np.ndarray:
        made = self.made
        if "dx" not in made:
            conv, w = self.conv, self.w
            cols, dxr = self.forward_arrays()["cols"], self.backward_arrays()["dxr"]
            N, C, H, W = self.batch().shape
            F, _, k, _ = w.shape
            _, OH, OW = conv.out_shape
            p = conv.padding
            dw, db = np.empty_like(w), np.empty_like(self.b)
            dw_tmp = np.empty((F, C * k * k + 1), w.dtype)
            dcols = np.empty((C * k * k, OH * OW), w.dtype)
            dx = np.empty((N, C, H, W), w.dtype)
            dxpad = np.empty((N, C, H + 2 * p, W + 2 * p), w.dtype) if p else dx
            conv2d_backward_kernel(dxr, w, cols, conv.stride, True, dw, db, dw_tmp, dcols, dxpad)
            if p:
                _crop_into(dxpad, p, dx)
            made["dx"] = dx
        return made["dx"]

    def put_backward(self, dy: np.ndarray, dx_lazy: bool) -> None:
        """The backward caches left out: pool dx, conv dy (relu's dx) and, when the lean
        kernel skipped it (`dx_lazy`), conv dx."""
        self.dy = dy
        lazy_cache(self.pool).put_lazy("dx", self._dxp)
        lazy_cache(self.conv).put_lazy_many({"dy": self._dxr, "dx": self.dx_array}
                                            if dx_lazy else {"dy": self._dxr})

    def _dxp(self) -> np.ndarray:
        return self.backward_arrays()["dxp"]

    def _dxr(self) -> np.ndarray:
        return self.backward_arrays()["dxr"]


def settle_cache(layer) -> None:
    """Make the layer's pending cache entries now (before its own forward or backward
    overwrites what they are made from); its group's other layers' too."""
    cache = layer.cache
    if type(cache) is LazyCache and cache._pending:
        record = getattr(layer, "_lazy_record", None)
        layers = (record.conv, record.relu, record.pool) if record is not None else (layer,)
        for one in layers:
            if type(one.cache) is LazyCache:
                one.cache.settle()
