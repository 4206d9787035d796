"""Provides ChainPlans: run mode's fused iteration for a chain of dense and elementwise layers.

An MLP (dense, relu, leaky_relu, sigmoid, tanh; any of the four losses) spends most of
a small iteration in Python and in dispatching ~10 tiny kernels. A ChainPlan gathers
the batch and runs the forward pass, the loss and the backward pass (and a plain SGD
update) as one kernel call (tuinn/engine/kernels/chain.py) that calls the layers' own
kernels in the layers' order, on the packed parameters and on buffers of its own, then
points the layers' and the loss's caches at those buffers, so everything a view reads
afterwards is what the layer-by-layer path leaves there. One plan per batch size; any
other network takes the plain path. `tuinn train` runs a plan's epoch kernel instead
(tuinn/engine/kernels/flatchain.py: the same numbers on the same buffers): many
iterations in one call (tuinn/engine/run/bulk.py), then `bind` as after one.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import chain as K
from tuinn.engine.kernels import flatchain as F


def chain_supported(layers, loss, packed) -> bool:
    """True when the fused path can run this network: packed parameters, a loss it
    knows, and only dense/elementwise layers on flat (N, features) batches."""
    return bool(packed is not None and layers and loss.type in K.LOSS_KINDS
                and all(layer.type in K.KINDS and not layer.sublayers()
                        and len(layer.in_shape) == 1 and len(layer.out_shape) == 1
                        for layer in layers))


def kept_plan(prog, n: int, name: str, supported, make):
    """The program's plan for batches of n rows, kept in prog.<name> by batch size: made
    by make(prog, n) on first use, and again for new layers, parameters or data, while
    supported(prog) holds; else None."""
    plans = prog.__dict__.setdefault(name, {})
    plan = plans.get(n)
    if (plan is None or plan.layers is not prog.layers or plan.packed is not prog.packed
            or plan.data[0] is not prog.x or plan.data[1] is not prog.y):
        if not supported(prog):
            return None
        plan = plans[n] = make(prog, n)
        plan.data = (prog.x, prog.y)                 # the arrays supported() checked
    return plan


class ChainPlans:
    """A network's plans by batch size (the last batch of an epoch may be smaller)."""

    def __init__(self, layers, loss, packed):
        self.layers, self.loss, self.packed = layers, loss, packed
        self.plans: dict[int, ChainPlan] = {}

    @classmethod
    def build(cls, layers, loss, packed) -> "ChainPlans | None":
        """The plans of a network the fused path can run, else None."""
        return cls(layers, loss, packed) if chain_supported(layers, loss, packed) else None

    def get(self, x: np.ndarray, y: np.ndarray, n: int) -> "ChainPlan | None":
        """The plan for batches of n rows of the data x, y; None when the data does not
        suit it (then the layer-by-layer path)."""
        plan = self.plans.get(n)
        if plan is None:
            plan = self.plans[n] = ChainPlan(self.layers, self.loss, self.packed, n)
        if plan.source_x is not x or plan.source_y is not y:
            if not plan.accepts(x, y):
                return None
            plan.source_x, plan.source_y = x, y        # checked once for these arrays
        return plan

    def __len__(self) -> int:
        return len(self.plans)


class ChainPlan:
    """Buffers, layer table and cache bindings of the fused path for batches of n."""

    def __init__(self, layers, loss, packed, n: int):
        self.n = n
        self.source_x = self.source_y = None    # the data whose batches it accepted
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
        self.x = np.empty((n, self.in_features), self.dtype)  # (N, I) the batch
        self.target = (np.empty(n, np.int64) if self.classes  # (N,) labels or (N, O)
                       else np.empty((n, out), self.dtype))

        def view(off: int, cols: int) -> np.ndarray:
            return self.a[off:off + n * cols].reshape(n, cols)

        self.bad = loss._bad                                  # (1,) a bad label's row
        # the kernel's arguments after (X, Y, rows), before (sgd, lr): fixed per plan
        self.args = ((self.x, self.target, self.w, self.g, self.a, self.table, self.slopes,
                      self.loss_kind, self.margin, self.probs, self.dout, self.bad)
                     if self.classes else
                     (self.x, self.target, self.w, self.g, self.a, self.table, self.slopes,
                      self.loss_kind, self.dout))
        self.kernel = K.chain_classes if self.classes else K.chain_values
        # many iterations, each with its optimizer step, in one call (`tuinn train`, bulk.py)
        self.epoch_kernel = F.epoch_classes if self.classes else F.epoch_values
        # what each layer's forward leaves in its cache, as (cache, key, array)
        self.bindings = []
        self.out = view(table[-1][5], out)                   # (N, O) the batch's output
        prev = self.x
        for layer, row in zip(layers, table):
            kind, fi, fo, _, _, y_off, mask_off, _ = row
            y = view(y_off, fo)
            if kind == K.DENSE:
                self.bindings.append((layer.cache, "x", prev))
            if kind in (K.RELU, K.LEAKY_RELU):
                self.bindings.append((layer.cache, "mask", view(mask_off, fo)))
            self.bindings.append((layer.cache, "y", y))
            prev = y

    def accepts(self, X: np.ndarray, Y: np.ndarray) -> bool:
        """True for data whose batches this plan runs exactly as the layers would: X
        (M, I) in the network's dtype, Y (M,) int64 labels or (M, O) in that dtype, both
        C-contiguous (as NetworkProgram keeps them); else the plain path."""
        if not (isinstance(X, np.ndarray) and isinstance(Y, np.ndarray)
                and X.dtype == self.dtype and X.ndim == 2 and X.shape[1] == self.in_features
                and X.flags.c_contiguous and Y.flags.c_contiguous and len(Y) == len(X)):
            return False
        if self.classes:
            return Y.dtype == np.int64 and Y.ndim == 1
        return Y.dtype == self.dtype and Y.shape[1:] == self.dout.shape[1:]

    def run(self, X: np.ndarray, Y: np.ndarray, rows: np.ndarray,
            sgd_lr: float | None = None) -> float:
        """Forward, loss and backward of the batch X[rows], Y[rows]: fills the packed
        gradients and returns the batch-mean loss (no L2), as Loss.forward does. With
        `sgd_lr`, also the SGD update of the packed parameters (w -= lr g)."""
        if sgd_lr is None:
            value = self.kernel(X, Y, rows, *self.args, False, 0.0)
        else:
            value = self.kernel(X, Y, rows, *self.args, True, float(sgd_lr))
        return self.bind(value)

    def epoch_args(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, start: int) -> tuple:
        """The epoch kernel's arguments before the optimizer's (bulk.py)."""
        return (X, Y, order, start) + self.args

    def bind(self, value: float, done: int = 1) -> float:
        """Point the layers' and the loss's caches at this plan's buffers, as the last
        batch run left them, with `value` its loss; returns it as a float (`done`: the
        iterations the call ran, as ConvChainPlan.bind takes it)."""
        loss = self.loss
        for cache, key, array in self.bindings:
            cache[key] = array
        if self.loss_kind == K.SOFTMAX_CE:
            loss.cache["probs"] = self.probs
        if self.classes and self.bad[0] >= 0:
            loss._label_error(int(self.target[self.bad[0]]), self.dout.shape[1])
        loss.cache["dout"] = self.dout
        loss.value = float(value)
        return loss.value
