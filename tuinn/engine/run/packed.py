"""Provides PackedParams: a network's parameters and gradients as views of two flat buffers.

Run mode updates every parameter and snapshots all of them once per iteration. With
the parameters packed, the optimizer steps them all in one kernel call and a snapshot
is one copy of one buffer (a `ParamsView` hands out per-name arrays of it). Layers keep
their `params`/`grads` dicts; the arrays in them become views of the buffers, so each
value and each operation on it stays exactly as before. A layer that rebinds one of its
arrays (assigns a new one) is noticed by `intact()` and folded back in by `repack()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class ParamsView(Mapping):
    """Read-only mapping "dense1.W" -> array over one flat copy of the parameters."""

    __slots__ = ("flat", "layout", "_views")

    def __init__(self, flat: np.ndarray, layout: dict[str, tuple[int, int, tuple]]):
        self.flat = flat                            # (P,) every parameter, packed
        self.layout = layout                        # key -> (offset, size, shape)
        self._views: dict[str, np.ndarray] | None = None     # made on first use

    def __getitem__(self, key: str) -> np.ndarray:
        views = self._views
        if views is None:
            views = self._views = {}
        view = views.get(key)
        if view is None:
            o, n, shape = self.layout[key]
            view = views[key] = self.flat[o:o + n].reshape(shape)
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self.layout)

    def __len__(self) -> int:
        return len(self.layout)


class PackedParams:
    """The parameters (`w`) and gradients (`g`) of `param_layers` ("dense1.W" ->
    (layer, "W")), packed in that order; `bounds[i]:bounds[i + 1]` is key i's span."""

    def __init__(self, param_layers: dict, dtype: np.dtype):
        self.dtype = np.dtype(dtype)
        self.keys = list(param_layers)
        self.layout: dict[str, tuple[int, int, tuple]] = {}
        self._owners = []
        offset = 0
        for key, (layer, k) in param_layers.items():
            shape = tuple(layer.params[k].shape)
            size = int(np.prod(shape, dtype=np.int64))
            self.layout[key] = (offset, size, shape)
            self._owners.append((layer, k))
            offset += size
        self.size = offset
        self.bounds = np.array([o for o, _, _ in self.layout.values()] + [offset], np.int64)
        self.w = np.empty(offset, self.dtype)       # (P,)
        self.g = np.zeros(offset, self.dtype)       # (P,)
        self._bound: list[tuple] = []
        self.repack()

    @staticmethod
    def packable(param_layers: dict, dtype: np.dtype) -> bool:
        """True when every parameter and gradient is an array of `dtype` shaped alike."""
        for layer, k in param_layers.values():
            p, g = layer.params.get(k), layer.grads.get(k)
            if not (isinstance(p, np.ndarray) and isinstance(g, np.ndarray)
                    and p.dtype == dtype and g.dtype == dtype and p.shape == g.shape):
                return False
        return True

    def repack(self) -> None:
        """Copy every layer array that is not (any more) the view of the buffers into
        them, and put the view back in its place (all of them at construction)."""
        bound = []
        for i, (key, (layer, k)) in enumerate(zip(self.keys, self._owners)):
            o, n, shape = self.layout[key]
            prev = self._bound[i][2:] if self._bound else (None, None)
            for arrays, flat, view in ((layer.params, self.w, prev[0]),
                                       (layer.grads, self.g, prev[1])):
                if arrays[k] is not view:
                    view = flat[o:o + n].reshape(shape)
                    view[...] = arrays[k]
                    arrays[k] = view
            bound.append((layer, k, layer.params[k], layer.grads[k]))
        self._bound = bound

    def intact(self) -> bool:
        """True while every layer still holds the views of the buffers."""
        for layer, k, w, g in self._bound:
            if layer.params[k] is not w or layer.grads[k] is not g:
                return False
        return True

    def snapshot(self) -> ParamsView:
        """A copy of every parameter, as a mapping of name -> array."""
        return ParamsView(self.w.copy(), self.layout)

    def owns(self, view: object) -> bool:
        """True for a ParamsView of these buffers' layout (restore copies it in one go)."""
        return isinstance(view, ParamsView) and view.layout is self.layout
