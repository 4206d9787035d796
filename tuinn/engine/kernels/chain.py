"""Provides the fused kernels of run mode's fast path: the batch, forward, loss and
backward of a chain of dense and elementwise layers (and a plain SGD update) in one call;
and the optimizer step with its finite check and the snapshot copies that `tuinn
train`'s epoch kernels (kernels/flatchain.py) take after each such iteration.

They call the very kernels the layers and the optimizer call (dense, activation, loss,
optim), on the same kinds of arrays and in the same order, so every value is the one
the layer-by-layer path computes; what goes is the Python and dispatch overhead around
~10 small calls. The first layer's dx (d loss / d input) is not computed: run mode
never uses it. The first dimension of an activation is the batch, N.

Arrays live in flat buffers: `w`/`g` the packed parameters and gradients
(tuinn/engine/run/packed.py), `a` the activations; `table` (L, 8) int64 says, per layer:
kind, fan in, fan out, offsets of W and b (in w and g), of y and mask (in a) and of dx
(in a). Numba's cache does not see edits of called kernels in other modules, so the
kernels are made by a factory that closes over a digest of those modules' source:
editing one changes the cache key and recompiles these.

`tuinn train`'s epoch kernels (kernels/flatchain.py) run chain_classes/chain_values's
arithmetic on these buffers, then optimizer_step_finite: the very kernels
Optimizer.step_packed calls (for SGD, sgd_step's arithmetic with the finite check of
every updated parameter in the same pass), and keep_start, so an epoch in one call is
bit for bit the iterations one by one (tests/test_bulk.py, tests/test_flatchain.py).
"""

from __future__ import annotations

import hashlib
import math
import os

from tuinn.engine.jit import kernel
from tuinn.engine.kernels import activation as _act
from tuinn.engine.kernels import dense as _dense
from tuinn.engine.kernels import loss as _loss
from tuinn.engine.kernels import optim as _optim
from tuinn.engine.kernels.activation import (leaky_relu_forward, relu_backward, relu_forward,
                                             sigmoid_backward, sigmoid_forward, tanh_backward,
                                             tanh_forward)
from tuinn.engine.kernels.dense import dense_backward, dense_backward_params, dense_forward
from tuinn.engine.kernels.loss import bce_logits, hinge, mse, softmax_ce
from tuinn.engine.kernels.optim import (adam_step_packed, all_finite, momentum_step,
                                        rmsprop_step, sgd_step)

DENSE, RELU, LEAKY_RELU, SIGMOID, TANH = 0, 1, 2, 3, 4
KINDS = {"dense": DENSE, "relu": RELU, "leaky_relu": LEAKY_RELU, "sigmoid": SIGMOID,
         "tanh": TANH}
SOFTMAX_CE, HINGE, MSE, BCE = 0, 1, 2, 3
LOSS_KINDS = {"softmax_ce": SOFTMAX_CE, "hinge": HINGE, "mse": MSE, "bce": BCE}
COLUMNS = ("kind", "fan_in", "fan_out", "w", "b", "y", "mask", "dx")


def _digest() -> str:
    h = hashlib.sha256()
    for mod in (_act, _dense, _loss, _optim):
        with open(os.path.abspath(mod.__file__), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _make_forward(digest: str):
    @kernel
    def chain_forward(x, w, a, table, slopes):
        """Every layer's forward pass; returns the last layer's output (a view of a)."""
        digest                                               # in the cache key, see above
        n = x.shape[0]
        h = x                                                # (N, fan_in)
        for l in range(table.shape[0]):
            kind, fi, fo = table[l, 0], table[l, 1], table[l, 2]
            yo = table[l, 5]
            y = a[yo:yo + n * fo].reshape(n, fo)             # (N, fan_out)
            if kind == DENSE:
                wo, bo = table[l, 3], table[l, 4]
                dense_forward(h, w[wo:wo + fi * fo].reshape(fi, fo), w[bo:bo + fo], y)
            elif kind == SIGMOID:
                sigmoid_forward(h, y)
            elif kind == TANH:
                tanh_forward(h, y)
            else:
                mo = table[l, 6]
                mask = a[mo:mo + n * fo].reshape(n, fo)      # (N, fan_out)
                if kind == RELU:
                    relu_forward(h, y, mask)
                else:
                    leaky_relu_forward(h, slopes[l], y, mask)
            h = y
        return h
    return chain_forward


def _make_backward(digest: str):
    @kernel
    def chain_backward(x, w, g, a, table, dout):
        """Every layer's backward pass from dout = d loss / d output (no dx for the
        first layer)."""
        digest
        n = x.shape[0]
        d = dout                                             # (N, fan_out)
        for l in range(table.shape[0] - 1, -1, -1):
            kind, fi, fo = table[l, 0], table[l, 1], table[l, 2]
            if kind == DENSE:
                wo, bo = table[l, 3], table[l, 4]
                if l > 0:
                    po = table[l - 1, 5]
                    h = a[po:po + n * fi].reshape(n, fi)     # the layer's input
                else:
                    h = x
                dW = g[wo:wo + fi * fo].reshape(fi, fo)      # (fan_in, fan_out)
                db = g[bo:bo + fo]                           # (fan_out,)
                if l == 0:
                    dense_backward_params(h, d, dW, db)
                    return
            do = table[l, 7]
            dx = a[do:do + n * fi].reshape(n, fi)            # (N, fan_in)
            if kind == DENSE:
                dense_backward(h, w[wo:wo + fi * fo].reshape(fi, fo), d, dx, dW, db)
            elif kind == SIGMOID or kind == TANH:
                yo = table[l, 5]
                y = a[yo:yo + n * fo].reshape(n, fo)
                if kind == SIGMOID:
                    sigmoid_backward(d, y, dx)
                else:
                    tanh_backward(d, y, dx)
            else:
                mo = table[l, 6]
                relu_backward(d, a[mo:mo + n * fo].reshape(n, fo), dx)
            d = dx
    return chain_backward


_digest_ = _digest()
_chain_forward = _make_forward(_digest_)
_chain_backward = _make_backward(_digest_)


def _make(digest: str):
    # the two kernels below reach the ones above as globals: a closure over a
    # dispatcher would not give a stable cache key
    @kernel
    def chain_classes(X, Y, rows, x, target, w, g, a, table, slopes, loss_kind, margin,
                      probs, dout, bad, sgd, lr):
        """The batch x = X[rows], target = Y[rows] (integer classes), forward, softmax_ce
        or hinge, backward, and when `sgd` the update w -= lr g; returns the batch-mean
        loss (NaN with bad[0] = the sample when a label is out of range, and then
        neither backward nor update)."""
        digest
        for i in range(rows.size):
            r = rows[i]
            for j in range(x.shape[1]):
                x[i, j] = X[r, j]                            # (N, I) <- (M, I)
            target[i] = Y[r]                                 # (N,) <- (M,)
        s = _chain_forward(x, w, a, table, slopes)            # (N, C)
        if loss_kind == SOFTMAX_CE:
            value = softmax_ce(s, target, probs, dout, bad)
        else:
            value = hinge(s, target, margin, dout, bad)
        if bad[0] >= 0:
            return value
        _chain_backward(x, w, g, a, table, dout)
        if sgd:
            sgd_step(w, g, lr)
        return value

    @kernel
    def chain_values(X, Y, rows, x, target, w, g, a, table, slopes, loss_kind, dout, sgd,
                     lr):
        """The batch x = X[rows], target = Y[rows] (shaped like the output), forward, mse
        or bce, backward, and when `sgd` the update w -= lr g; returns the batch-mean
        loss."""
        digest
        for i in range(rows.size):
            r = rows[i]
            for j in range(x.shape[1]):
                x[i, j] = X[r, j]                            # (N, I) <- (M, I)
            for j in range(target.shape[1]):
                target[i, j] = Y[r, j]                       # (N, O) <- (M, O)
        s = _chain_forward(x, w, a, table, slopes)            # (N, O)
        if loss_kind == MSE:
            value = mse(s, target, dout)
        else:
            value = bce_logits(s, target, dout)
        _chain_backward(x, w, g, a, table, dout)
        if sgd:
            sgd_step(w, g, lr)
        return value

    return chain_classes, chain_values


chain_classes, chain_values = _make(_digest_)


@kernel
def sgd_step_finite(w, g, lr):
    """sgd_step (w -= lr * g, the same arithmetic) and all_finite of the result in the
    same pass: True when every updated parameter is finite. w, g flat (P,)."""
    ok = True
    for i in range(w.size):
        w[i] -= lr * g[i]
        ok &= abs(w[i]) < math.inf                   # False for NaN and for +-inf
    return ok


SGD, MOMENTUM, RMSPROP, ADAM = 0, 1, 2, 3
OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "rmsprop": RMSPROP, "adam": ADAM}
HYPER = ("lr", "momentum", "alpha", "beta1", "beta2", "eps")    # the order of `hyper`


@kernel
def optimizer_step_finite(opt, hyper, w, g, v, m, ts, bounds):
    """One step of the packed parameters w (P,) from g, as Optimizer.step_packed makes
    it (the same kernels), then True when every updated parameter is finite. `opt` is
    SGD..ADAM, `hyper` holds HYPER; v, m (P,) the packed state (momentum, rmsprop: v;
    adam: m, v, its step counts ts and segment bounds), unused ones empty."""
    if opt == SGD:
        return sgd_step_finite(w, g, hyper[0])
    if opt == MOMENTUM:
        momentum_step(w, g, v, hyper[0], hyper[1])
    elif opt == RMSPROP:
        rmsprop_step(w, g, v, hyper[0], hyper[2], hyper[5])
    else:
        adam_step_packed(w, g, m, v, hyper[0], hyper[3], hyper[4], hyper[5], ts, bounds)
    return all_finite(w)


@kernel
def keep_start(k, w, v, m, ts, snaps, snap_v, snap_m, snap_t):
    """Copy the parameters and the optimizer state into row k of the snapshots (each
    (2, size), or (2, 0) when not kept)."""
    if snaps.shape[1] == w.size:
        snaps[k, :] = w
    if snap_v.shape[1] == v.size:
        snap_v[k, :] = v
    if snap_m.shape[1] == m.size:
        snap_m[k, :] = m
    if snap_t.shape[1] == ts.size:
        snap_t[k, :] = ts
