"""Provides train_iteration: one training iteration of a NetworkProgram at run mode's speed.

The same arithmetic as the program's steps (every value bit for bit), with less around
it: the batch's rows drawn once an epoch; the iteration's rng only for layers that draw
from it; no dx for a first dense layer (nothing keeps it); for a chain of dense and
elementwise layers, one fused kernel call for the batch, forward, loss and backward
(and a plain SGD update; tuinn/engine/run/fastpath.py); else layer by layer, where a
first fused conv -> relu -> maxpool reads the batch's rows from the data set itself (no
copy of the batch; FusedStack.gathers); one optimizer
call for the packed parameters; and one copy of them for the time-travel snapshot.
With frozen layers, their gradients are zeroed after the backward pass and the
optimizer steps only the trainable parameters, one by one (tuinn/engine/frozen.py).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.run.fusedstack import (RELU_POOL, FusedStack, pool_relu_backward,
                                     pool_relu_conv_backward)

_UNSET = object()


def fused_stack(prog) -> FusedStack | None:
    """The program's fused conv/relu/maxpool groups (found on first use), or None."""
    layers, stack = prog.__dict__.get("_fused_stack", (None, _UNSET))
    if stack is _UNSET or layers is not prog.layers:
        stack = FusedStack.build(prog.layers)
        prog._fused_stack = (prog.layers, stack)
    return stack


def train_iteration(prog) -> float:
    """Run iteration prog.iteration and advance to the next; returns its loss (before
    the update). The start of the iteration goes into prog.history."""
    if prog._requests:
        prog.apply_requests()                  # T pressed while running: from now on
    it = prog.iteration
    rows = prog.batch_rows(it)
    packed = prog.packed
    if packed is not None and not packed.intact():
        packed.repack()                        # a layer put a new array in place of a view
    plans = prog._plans
    plan = plans.get(prog.x, prog.y, len(rows)) if plans is not None else None
    stepped = False
    frozen = prog.frozen
    if plan is not None:
        l2 = prog.spec.network.loss.l2
        opt = prog.optimizer
        stepped = not l2 and opt.type == "sgd" and not frozen   # the fused call updates too
        loss = (plan.run(prog.x, prog.y, rows, opt.lr if stepped else None)
                + (prog.l2_value() if l2 else 0.0))
        prog.last_batch = (plan.out, plan.target)     # for the epoch's running accuracy
        if it == len(prog.losses):
            prog.losses.append(loss)           # record_loss's usual case, a float already
        else:
            prog.record_loss(it, loss)
        if l2:
            for i in range(len(prog.layers) - 1, -1, -1):
                for sub in prog._l2_layers[i]:
                    prog._add_l2_grads(sub)
    else:
        stack = fused_stack(prog)
        if stack is not None and stack.gathers(prog.x):   # the first kernel reads the rows
            loss = layer_by_layer(prog, it, prog.x, prog.y.take(rows, axis=0), rows)
        else:
            loss = layer_by_layer(prog, it, prog.x.take(rows, axis=0),
                                  prog.y.take(rows, axis=0))
        if packed is not None and not packed.intact():
            packed.repack()
    if frozen:
        prog.zero_frozen_grads()
        for key, (layer, k) in prog.param_layers.items():
            if key not in frozen:
                prog.optimizer.step(key, layer.params[k], layer.grads[k])
    elif not stepped and (packed is None or not prog.optimizer.step_packed(packed.w, packed.g)):
        for key, (layer, k) in prog.param_layers.items():
            prog.optimizer.step(key, layer.params[k], layer.grads[k])
    prog.advance(run_mode=True)
    return float(loss)


def layer_by_layer(prog, it: int, xb: np.ndarray, yb: np.ndarray,
                   rows: np.ndarray | None = None) -> float:
    """Forward, loss (recorded), backward with L2 gradients, layer by layer; returns
    the loss. With `rows`, the batch is xb[rows] (a first fused conv -> relu -> maxpool
    reads them itself: FusedStack.gathers)."""
    rng = prog.iteration_rng(it) if prog._needs_rng else None
    stack = fused_stack(prog)
    h = xb
    if stack is not None:
        h = stack.forward(h, rng, rows)        # conv -> relu -> maxpool as one kernel
    else:
        if rows is not None:
            h = xb.take(rows, axis=0)
        for layer in prog.layers:
            h = layer.forward(h, True, rng)
    loss = prog.loss.forward(h, yb) + prog.l2_value()
    prog.record_loss(it, loss)
    prog.last_batch = (h, yb)             # the batch's output and targets (training.py)
    d = prog.loss.backward()
    l2 = prog.spec.network.loss.l2
    first = prog._first_dx
    done = len(prog.layers)                    # layers from here on: backward done
    for i in range(len(prog.layers) - 1, -1, -1):
        layer = prog.layers[i]
        group = stack.backward_group(i) if stack is not None else 0
        if i >= done:
            pass                               # relu, conv2d: done with their maxpool
        elif group == RELU_POOL:
            d = pool_relu_backward(layer, prog.layers[i - 1], d)
            done = i - 1
        elif group:                            # a first conv2d: its dx made on demand
            d = pool_relu_conv_backward(layer, prog.layers[i - 1], prog.layers[i - 2], d,
                                        first=i == 2)
            done = i - 2
        elif layer is first and first.need_dx:
            first.need_dx = False
            try:
                d = layer.backward(d)
            finally:
                first.need_dx = True
        else:
            d = layer.backward(d)
        if l2:
            for sub in prog._l2_layers[i]:
                prog._add_l2_grads(sub)
    return loss
