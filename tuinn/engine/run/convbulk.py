"""Provides ConvChainPlan: `tuinn train`'s epoch kernel for a small CNN (bulk.py runs it).

A network that starts with a conv2d -> relu -> maxpool group reading its batch straight
from the data set (FusedStack.gathers), then a flatten and a dense chain with a
classification loss (softmax_ce, hinge): issue 11's W4. bulk.py's `run_chunk` runs many
of its iterations in one call of `epoch_conv_classes` (tuinn/engine/kernels/convchain.py)
as it does a dense chain's, and `bind` then leaves the layers' caches as the last of those
iterations one by one would (train_iteration, layer_by_layer): the chain's through its
ChainPlan, the first dense layer's input as the flattened pooled output, the group's as
fusedstack.conv_relu_pool and pool_relu_conv_backward leave them (a GroupRecord of the
last batch, with W and b as they were before its update: its caches made when read).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import chain as K
from tuinn.engine.kernels.convchain import epoch_conv_classes
from tuinn.engine.run.fastpath import ChainPlan, chain_supported, kept_plan
from tuinn.engine.run.fusedstack import CONV_RELU_POOL, _lean_scratch
from tuinn.engine.run.lazygroup import GroupRecord


def conv_supported(prog) -> bool:
    """True when `tuinn train` may run this program's iterations through a ConvChainPlan
    (the rest of bulk.py's conditions are its own: no L2, nothing frozen, ...)."""
    from tuinn.engine.run.iteration import fused_stack
    layers = prog.layers
    if prog._needs_rng or prog.packed is None or len(layers) < 5:
        return False
    stack = fused_stack(prog)
    return bool(stack is not None and stack.starts.get(0) == CONV_RELU_POOL
                and stack.gathers(prog.x) and layers[3].type == "flatten"
                and not layers[3].sublayers() and prog.loss.is_classification
                and prog.loss.type in K.LOSS_KINDS
                and chain_supported(layers[4:], prog.loss, prog.packed)
                and layers[4].type == "dense" and layers[4].dtype == layers[0].dtype
                and isinstance(prog.y, np.ndarray) and prog.y.dtype == np.int64
                and prog.y.ndim == 1 and prog.y.flags.c_contiguous
                and len(prog.y) == len(prog.x))


def conv_plan(prog, n: int) -> "ConvChainPlan | None":
    """The program's plan for batches of n rows (made on first use), or None when it
    cannot run them."""
    return kept_plan(prog, n, "_conv_plans", conv_supported, ConvChainPlan)


class ConvChainPlan:
    """The epoch kernel's arguments for batches of n rows, and the caches after it."""

    def __init__(self, prog, n: int):
        self.epoch_kernel = epoch_conv_classes
        self.layers, self.packed = prog.layers, prog.packed
        self.conv, self.relu, self.pool, _, first = prog.layers[:5]
        self.first = first                               # the chain's first dense layer
        self.tail = ChainPlan(prog.layers[4:], prog.loss, prog.packed, n)
        self.n = n
        conv, pool = self.conv, self.pool
        layout = prog.packed.layout
        self.cv = np.array([conv.padding, conv.stride, pool.size, pool.stride,
                            layout[f"{conv.name}.W"][0], layout[f"{conv.name}.b"][0]], np.int64)
        dtype = prog.packed.dtype
        self.last_w = np.empty(conv.params["W"].shape, dtype)    # W, b before the last
        self.last_b = np.empty(conv.params["b"].shape, dtype)    # iteration's update
        self.out, self.target = self.tail.out, self.tail.target

    def epoch_args(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, start: int) -> tuple:
        """The kernel's arguments before the optimizer's (bulk._State.args)."""
        conv, pool, tail = self.conv, self.pool, self.tail
        (xpn, cols, ycn, yn, mn, dxpn, dxrn, dw_tmp, dcols, dxpad, yp,
         argmax) = _lean_scratch(conv, pool, self.n, tail.dtype)
        self.yp, self.argmax = yp, argmax
        self.x, self.order, self.start = X, order, start
        return (X, Y, order, start, self.cv, self.last_w, self.last_b, xpn, cols, ycn,
                yn, mn, dw_tmp, dcols, dxpn, dxrn, dxpad, yp, argmax, tail.target, tail.w,
                tail.g, tail.a, tail.table, tail.slopes, tail.loss_kind, tail.margin,
                tail.probs, tail.dout, tail.bad)

    def bind(self, value: float, done: int) -> float:
        """The caches as the last of `done` iterations from `start` left them, with
        `value` its loss; returns it as a float."""
        value = self.tail.bind(value)
        if not done:
            return value
        n, yp = self.n, self.yp
        self.first.cache["x"] = yp.reshape(n, -1)          # what the flatten hands on
        conv, relu, pool = self.conv, self.relu, self.pool
        lo = self.start + (done - 1) * n
        rows = self.order[lo:lo + n].copy()                 # the last batch's rows
        record = GroupRecord(conv, relu, pool, self.x, rows, self.last_w,
                             self.last_b, self.argmax)
        record.put_forward(yp, self.argmax)
        conv._lazy_record = relu._lazy_record = pool._lazy_record = record
        dxo = int(self.tail.table[0, 7])
        pool.cache["dy"] = self.tail.a[dxo:dxo + yp.size].reshape(yp.shape)
        record.put_backward(pool.cache["dy"], dx_lazy=conv.need_dx)
        return value
