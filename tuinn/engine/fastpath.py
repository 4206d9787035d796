"""Provides ChainPlan: run mode's fused iteration for a chain of dense and elementwise layers.

An MLP (dense, relu, leaky_relu, sigmoid, tanh; any of the four losses) spends most of
a small iteration in Python and in dispatching ~10 tiny kernels. A ChainPlan runs its
forward pass, loss and backward pass as one kernel call (tuinn/engine/kernels/chain.py)
that calls the layers' own kernels in the layers' order, on the packed parameters and
on activation buffers of its own, then points the layers' and the loss's caches at
those buffers, so everything a view reads afterwards is what the layer-by-layer path
leaves there. One plan per batch size; any other network takes the plain path.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import chain as K


def chain_supported(layers, loss, packed) -> bool:
    """True when the fused path can run this network: packed parameters, a loss it
    knows, and only dense/elementwise layers on flat (N, features) batches."""
    return bool(packed is not None and layers and loss.type in K.LOSS_KINDS
                and all(layer.type in K.KINDS and not layer.sublayers()
                        and len(layer.in_shape) == 1 and len(layer.out_shape) == 1
                        for layer in layers))


class ChainPlan:
    """Buffers, layer table and cache bindings of the fused path for batches of n."""

    def __init__(self, layers, loss, packed, n: int):
        self.n = n
        self.source: tuple | None = None    # the (x, y) arrays whose batches it accepted
        self.loss = loss
        self.dtype = packed.dtype
        self.w, self.g = packed.w, packed.g
        self.in_features = layers[0].in_shape[0]
        self.classes = loss.is_classification
        self.loss_kind = K.LOSS_KINDS[loss.type]
        self.margin = float(loss.margin)
        table, slopes, spans, offset = [], [], [], 0

        def span(size: int) -> int:
            nonlocal offset
            spans.append((offset, size))
            offset += size
            return offset - size

        for layer in layers:
            fi, fo = layer.in_shape[0], layer.out_shape[0]
            kind = K.KINDS[layer.type]
            w_off = b_off = mask_off = 0
            if kind == K.DENSE:
                w_off = packed.layout[f"{layer.name}.W"][0]
                b_off = packed.layout[f"{layer.name}.b"][0]
            y_off = span(n * fo)
            if kind in (K.RELU, K.LEAKY_RELU):
                mask_off = span(n * fo)
            dx_off = span(n * fi)
            table.append((kind, fi, fo, w_off, b_off, y_off, mask_off, dx_off))
            slopes.append(float(getattr(layer, "slope", 0.0)))
        self.table = np.array(table, dtype=np.int64).reshape(len(layers), len(K.COLUMNS))
        self.slopes = np.array(slopes, dtype=np.float64)
        self.a = np.empty(offset, self.dtype)                 # every activation buffer
        out = layers[-1].out_shape[0]
        self.probs = np.empty((n, out), self.dtype)           # (N, C) softmax_ce only
        self.dout = np.empty((n, out), self.dtype)            # (N, C) d loss / d output

        def view(off: int, cols: int) -> np.ndarray:
            return self.a[off:off + n * cols].reshape(n, cols)

        # what each layer's forward leaves in its cache, as (cache, key, array); the
        # first dense layer's "x" is the batch itself (set per call)
        self.bindings = []
        self.first = layers[0] if layers[0].type == "dense" else None
        prev = None
        for layer, row in zip(layers, table):
            kind, fi, fo, _, _, y_off, mask_off, _ = row
            y = view(y_off, fo)
            if kind == K.DENSE and prev is not None:
                self.bindings.append((layer.cache, "x", prev))
            if kind in (K.RELU, K.LEAKY_RELU):
                self.bindings.append((layer.cache, "mask", view(mask_off, fo)))
            self.bindings.append((layer.cache, "y", y))
            prev = y

    def accepts(self, x: np.ndarray, y: np.ndarray) -> bool:
        """True for a batch this plan runs exactly as the layers would (else: plain path)."""
        if not (x.dtype == self.dtype and x.ndim == 2 and x.shape[0] == self.n
                and x.shape[1] == self.in_features and x.flags.c_contiguous):
            return False
        if self.classes:
            return (isinstance(y, np.ndarray) and y.dtype == np.int64 and y.ndim == 1
                    and y.shape[0] == self.n and y.flags.c_contiguous)
        return (isinstance(y, np.ndarray) and y.shape == self.dout.shape
                and y.dtype == self.dtype and y.flags.c_contiguous)

    def run(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward, loss and backward of batch (x, y): fills the packed gradients and
        returns the batch-mean loss (no L2), as Loss.forward does."""
        loss = self.loss
        if self.classes:
            bad = loss._bad
            value = K.chain_classes(x, y, self.w, self.g, self.a, self.table, self.slopes,
                                    self.loss_kind, self.margin, self.probs, self.dout, bad,
                                    False)
        else:
            value = K.chain_values(x, y, self.w, self.g, self.a, self.table, self.slopes,
                                   self.loss_kind, self.dout, False)
        for cache, key, array in self.bindings:
            cache[key] = array
        if self.first is not None:
            self.first.cache["x"] = x
        if self.loss_kind == K.SOFTMAX_CE:
            loss.cache["probs"] = self.probs
        if self.classes and bad[0] >= 0:
            loss._label_error(int(y[bad[0]]), self.dout.shape[1])
        loss.cache["dout"] = self.dout
        loss.value = float(value)
        return loss.value
