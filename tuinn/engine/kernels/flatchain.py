"""Provides `tuinn train`'s epoch kernels (epoch_classes, epoch_values): many iterations of
a dense chain, each with its optimizer step, loss, accuracy count and finite check, in
one call (tuinn/engine/run/bulk.py), on the chain's flat buffers.

Each iteration is chain_classes/chain_values (kernels/chain.py, run mode's fused call)
with no update, then optimizer_step_finite, bit for bit (tests/test_bulk.py,
tests/test_flatchain.py): the same arithmetic in the same order, arranged for W1-sized
networks (a 2-16-16-3 MLP, batch 64), where an iteration is ~20 tiny kernel calls and
the calls, views and reference counts around them cost as much as the arithmetic (an
atomic increment and decrement for every array argument and view):
- the products go through `mm` (kernels/gemm.py): the BLAS call np.dot makes, on the
  flat buffers at the table's offsets, no views; dense_dx's transposed copy of a small
  W goes into a scratch buffer made once a call (the same cut-over, kernels/dense.py);
- a dense layer followed by relu adds the bias and applies relu in one pass; its own
  output and relu's mask, which nothing in the iteration reads (relu's backward takes
  the mask from relu's output: 1 where it is > 0, the same numbers), are written in the
  call's last iteration only, for the layers' caches; backward, relu's mask and the
  dense layer's bias gradient (the same column sums in the same order) are one pass;
- the passes, the loss, the accuracy count and the optimizer step are inlined (their
  kernels' own Python, compiled in place: `_inline`), so no call; the other
  elementwise layers call their kernels (kernels/activation.py) on views.
The table, `a`, `w`, `g` are those of kernels/chain.py (tuinn/engine/run/fastpath.py
makes them); the batch stays in the plan's own x (N, I) and target. Uncompiled
(tuinn/engine/jit.py) everything runs as the Python it is.
"""

from __future__ import annotations

import hashlib
import math
import os
import types

import numpy as np
from numba.extending import overload, register_jitable

from tuinn.engine.jit import kernel
from tuinn.engine.kernels import activation as _act
from tuinn.engine.kernels import chain as _chain
from tuinn.engine.kernels import dense as _dense
from tuinn.engine.kernels import gemm as _gemm
from tuinn.engine.kernels import loss as _loss
from tuinn.engine.kernels import metrics as _metrics
from tuinn.engine.kernels import optim as _optim
from tuinn.engine.kernels.activation import (leaky_relu_forward, relu_backward, relu_forward,
                                             sigmoid_backward, sigmoid_forward, tanh_backward,
                                             tanh_forward)
from tuinn.engine.kernels.chain import (BCE, DENSE, MSE, RELU, SIGMOID, SOFTMAX_CE, TANH,
                                        keep_start, optimizer_step_finite)
from tuinn.engine.kernels.dense import SMALL_FAN_IN, SMALL_WEIGHTS
from tuinn.engine.kernels.gemm import mm
from tuinn.engine.kernels.loss import bce_logits, hinge, mse, softmax_ce
from tuinn.engine.kernels.metrics import count_correct_binary, count_correct_classes


def _digest() -> str:
    # Numba's cache sees only this file: the called kernels' sources go into the key
    h = hashlib.sha256()
    for mod in (_act, _chain, _dense, _gemm, _loss, _metrics, _optim):
        with open(os.path.abspath(mod.__file__), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _make_passes():
    def flat_forward(xf, w, a, table, slopes, n, full):
        """Every layer's forward pass on the batch xf (N * I,), as chain_forward. Unless
        `full`, a dense layer followed by relu leaves its own output and relu's mask
        unwritten: nothing in the iteration reads them (relu's backward reads its
        output), only the layers' caches after the last one."""
        h, ho = xf, 0                                        # the layer's input at h[ho:]
        L = table.shape[0]
        l = 0
        while l < L:
            kind, fi, fo, yo = table[l, 0], table[l, 1], table[l, 2], table[l, 5]
            if kind == DENSE:
                wo, bo = table[l, 3], table[l, 4]
                mm(0, 0, n, fi, fo, h, ho, w, wo, a, yo)     # (N, O) = (N, I) @ (I, O)
                y, b = a[yo:yo + n * fo], w[bo:bo + fo]      # (N * O,), (O,)
                if l + 1 < L and table[l + 1, 0] == RELU:    # + b, relu: one pass
                    ro, mo = table[l + 1, 5], table[l + 1, 6]
                    r, mask = a[ro:ro + n * fo], a[mo:mo + n * fo]
                    if full:
                        for i in range(n):
                            for j in range(fo):
                                p = i * fo + j
                                v = y[p] + b[j]
                                y[p] = v
                                if v > 0.0:
                                    r[p] = v
                                    mask[p] = 1.0
                                else:
                                    r[p] = 0.0
                                    mask[p] = 0.0
                    else:
                        for i in range(n):
                            for j in range(fo):
                                p = i * fo + j
                                v = y[p] + b[j]
                                r[p] = v if v > 0.0 else 0.0
                    h, ho = a, ro
                    l += 2
                    continue
                for i in range(n):
                    for j in range(fo):
                        y[i * fo + j] += b[j]                # (N, O) + (O,)
            else:
                x = h[ho:ho + n * fi].reshape(n, fi)         # (N, F)
                y = a[yo:yo + n * fo].reshape(n, fo)
                if kind == SIGMOID:
                    sigmoid_forward(x, y)
                elif kind == TANH:
                    tanh_forward(x, y)
                else:
                    mo = table[l, 6]
                    mask = a[mo:mo + n * fo].reshape(n, fo)
                    if kind == RELU:
                        relu_forward(x, y, mask)
                    else:
                        leaky_relu_forward(x, slopes[l], y, mask)
            h, ho = a, yo
            l += 1

    def flat_backward(xf, w, g, a, table, doutf, n, wt, dx0):
        """Every layer's backward pass from doutf (N * O,), as chain_backward (a first
        dense layer's dx only with `dx0`: a layer before the chain takes it, as in
        kernels/convchain.py); wt: scratch for a small W's transposed copy."""
        d, do = doutf, 0                                     # d loss / d output at d[do:]
        l = table.shape[0] - 1
        db_done = False                                      # the bias gradient is in g
        while l >= 0:
            kind, fi, fo = table[l, 0], table[l, 1], table[l, 2]
            if kind == DENSE:
                wo, bo = table[l, 3], table[l, 4]
                if not db_done:
                    db, dy = g[bo:bo + fo], d[do:do + n * fo]  # (O,), (N * O,)
                    for j in range(fo):
                        db[j] = 0.0
                    for i in range(n):
                        for j in range(fo):
                            db[j] += dy[i * fo + j]
                db_done = False
                if l == 0:                                   # dW = x.T @ d (I, O)
                    mm(1, 0, fi, n, fo, xf, 0, d, do, g, wo)
                    if not dx0:
                        return
                else:
                    mm(1, 0, fi, n, fo, a, table[l - 1, 5], d, do, g, wo)
                dxo = table[l, 7]
                if fi <= SMALL_FAN_IN and fi * fo <= SMALL_WEIGHTS:   # dense_dx
                    W = w[wo:wo + fi * fo]                   # (I * O,)
                    for i in range(fi):
                        for j in range(fo):
                            wt[j * fi + i] = W[i * fo + j]   # W.T (O, I)
                    mm(0, 0, n, fo, fi, d, do, wt, 0, a, dxo)       # (N, I)
                else:
                    mm(0, 1, n, fo, fi, d, do, w, wo, a, dxo)
                d, do = a, dxo
            elif kind == RELU and l > 0 and table[l - 1, 0] == DENSE:
                dxo, bo = table[l, 7], table[l - 1, 4]
                yo = table[l, 5]
                dy, r = d[do:do + n * fo], a[yo:yo + n * fo]       # (N * O,)
                dx, db = a[dxo:dxo + n * fo], g[bo:bo + fo]        # (N * O,), (O,)
                for j in range(fo):                          # dx = d * mask and the
                    db[j] = 0.0                              # dense layer's db: one pass
                for i in range(n):                           # (the mask: 1 where relu's
                    for j in range(fo):                      # output > 0, else 0)
                        p = i * fo + j
                        v = dy[p] * (1.0 if r[p] > 0.0 else 0.0)
                        dx[p] = v
                        db[j] += v
                db_done = True
                d, do = a, dxo
            else:
                dy = d[do:do + n * fo].reshape(n, fo)
                dxo = table[l, 7]
                dx = a[dxo:dxo + n * fi].reshape(n, fi)
                if kind == SIGMOID or kind == TANH:
                    yo = table[l, 5]
                    y = a[yo:yo + n * fo].reshape(n, fo)
                    if kind == SIGMOID:
                        sigmoid_backward(dy, y, dx)
                    else:
                        tanh_backward(dy, y, dx)
                else:
                    mo = table[l, 6]
                    relu_backward(dy, a[mo:mo + n * fo].reshape(n, fo), dx)
                d, do = a, dxo
            l -= 1

    return flat_forward, flat_backward


_digest_ = _digest()
#: plain functions, inlined into the epoch kernels (no call: no reference counting of
#: their arguments); uncompiled, they run as Python
_flat_forward, _flat_backward = _make_passes()


@overload(_flat_forward, inline="always")
def _ov_flat_forward(xf, w, a, table, slopes, n, full):
    return _flat_forward


@overload(_flat_backward, inline="always")
def _ov_flat_backward(xf, w, g, a, table, doutf, n, wt, dx0):
    return _flat_backward


def _inline(disp):
    """A kernel's own Python, inlined where an epoch kernel calls it (the same code, so
    the same numbers; no call: no reference counting of its arguments)."""
    return register_jitable(inline="always")(disp.py_func)


_softmax_ce, _hinge, _mse, _bce = (_inline(k) for k in (softmax_ce, hinge, mse, bce_logits))
_count_classes, _count_binary = _inline(count_correct_classes), _inline(count_correct_binary)
_step = _inline(optimizer_step_finite)


def _scratch(w, table):
    """A buffer for the largest transposed copy of a small W (dense_dx's)."""
    size = 1
    for l in range(table.shape[0]):
        if table[l, 0] == DENSE:
            size = max(size, table[l, 1] * table[l, 2])
    return np.empty(size, w.dtype)


def _output(a, table, n):
    """The chain's output (N, O): its last layer's in a."""
    last = table.shape[0] - 1
    yo, fo = table[last, 5], table[last, 2]
    return a[yo:yo + n * fo].reshape(n, fo)


def _classes_loss(out, target, loss_kind, margin, probs, dout, bad):
    """softmax_ce or hinge of the batch's scores (the loss kernels' own Python)."""
    if loss_kind == SOFTMAX_CE:
        return _softmax_ce(out, target, probs, dout, bad)
    return _hinge(out, target, margin, dout, bad)


def _values_loss(out, target, loss_kind, dout):
    """mse or bce of the batch's output."""
    if loss_kind == MSE:
        return _mse(out, target, dout)
    return _bce(out, target, dout)


def _classes_done(value, out, target, correct, opt, hyper, w, g, v, m, ts, bounds):
    """After the backward pass: False for a NaN/Inf loss; else the batch's correct
    predictions counted and the optimizer's step taken, False if it leaves a parameter
    NaN/Inf."""
    if not abs(value) < math.inf:
        return False
    correct[0] += _count_classes(out, target)
    return _step(opt, hyper, w, g, v, m, ts, bounds)


def _values_done(value, loss_kind, outf, tf, correct, opt, hyper, w, g, v, m, ts, bounds):
    """_classes_done for mse and bce (bce counts count_correct_binary, mse nothing)."""
    if not abs(value) < math.inf:
        return False
    if loss_kind == BCE:
        correct[0] += _count_binary(outf, tf)
    return _step(opt, hyper, w, g, v, m, ts, bounds)


_output, _classes_loss, _values_loss, _classes_done, _values_done = (
    register_jitable(inline="always")(f)
    for f in (_output, _classes_loss, _values_loss, _classes_done, _values_done))


def _make_epoch(digest: str):
    # the kernels below reach the ones above as globals (a closure over a dispatcher
    # would not give a stable cache key)
    @kernel
    def epoch_classes(X, Y, order, start, x, target, w, g, a, table, slopes, loss_kind,
                      margin, probs, dout, bad, opt, hyper, v, m, ts, bounds, losses,
                      snaps, snap_v, snap_m, snap_t, correct):
        """losses.size iterations of chain_classes (softmax_ce or hinge) and the
        optimizer's step (optimizer_step_finite): iteration b's batch is the rows
        order[start + b N : start + (b + 1) N]; losses[b] its loss, correct[0] += its
        correct predictions (count_correct_classes of its output, before the update).
        keep_start copies the parameters and state at the start of the last two
        iterations into rows 0 and 1 of the snapshots. Returns the iterations done;
        fewer than losses.size when iteration b (returned) has a bad label, a NaN/Inf
        loss or leaves a parameter NaN/Inf (then its loss and update may be done, its
        count not)."""
        digest
        n, cols = x.shape
        count = losses.size
        out = _output(a, table, n)                           # (N, C) the batch's scores
        xf = x.reshape(x.size)                               # (N * I,)
        doutf = dout.reshape(dout.size)                      # (N * C,)
        wt = _scratch(w, table)
        for b in range(count):
            if b >= count - 2:
                keep_start(b - count + 2, w, v, m, ts, snaps, snap_v, snap_m, snap_t)
            lo = start + b * n
            for i in range(n):
                r = order[lo + i]
                for j in range(cols):
                    xf[i * cols + j] = X[r, j]               # (N, I) <- (M, I)
                target[i] = Y[r]                             # (N,) <- (M,)
            _flat_forward(xf, w, a, table, slopes, n, b == count - 1)
            value = _classes_loss(out, target, loss_kind, margin, probs, dout, bad)
            losses[b] = value
            if bad[0] >= 0:
                return b
            _flat_backward(xf, w, g, a, table, doutf, n, wt, False)
            if not _classes_done(value, out, target, correct, opt, hyper, w, g, v, m, ts,
                                 bounds):
                return b
        return count

    @kernel
    def epoch_values(X, Y, order, start, x, target, w, g, a, table, slopes, loss_kind,
                     dout, opt, hyper, v, m, ts, bounds, losses, snaps, snap_v, snap_m,
                     snap_t, correct):
        """epoch_classes for chain_values (mse, bce: targets shaped like the output); bce
        counts count_correct_binary, mse nothing."""
        digest
        n, cols = x.shape
        count = losses.size
        out = _output(a, table, n)                           # (N, O) the batch's output
        fo = out.shape[1]
        outf = out.reshape(out.size)                         # (N * O,)
        xf = x.reshape(x.size)
        tf = target.reshape(target.size)                     # (N * O,)
        doutf = dout.reshape(dout.size)
        wt = _scratch(w, table)
        for b in range(count):
            if b >= count - 2:
                keep_start(b - count + 2, w, v, m, ts, snaps, snap_v, snap_m, snap_t)
            lo = start + b * n
            for i in range(n):
                r = order[lo + i]
                for j in range(cols):
                    xf[i * cols + j] = X[r, j]               # (N, I) <- (M, I)
                for j in range(fo):
                    tf[i * fo + j] = Y[r, j]                 # (N, O) <- (M, O)
            _flat_forward(xf, w, a, table, slopes, n, b == count - 1)
            value = _values_loss(out, target, loss_kind, dout)
            losses[b] = value
            _flat_backward(xf, w, g, a, table, doutf, n, wt, False)
            if not _values_done(value, loss_kind, outf, tf, correct, opt, hyper, w, g, v, m,
                                ts, bounds):
                return b
        return count

    return epoch_classes, epoch_values


_scratch = register_jitable(_scratch)            # (inlined: not a kernel of its own)
epoch_classes, epoch_values = _make_epoch(_digest_)


# ------------------------------------------------------- called, not inlined
def _called(f):
    """A copy of `f` that an epoch kernel calls rather than inlines: compiled once as a
    function of its own. The CNN's and the LSTM's epoch kernels (kernels/convchain.py,
    kernels/recchain.py) call these: with everything inlined one took ~30 s to compile on
    an empty cache; a call costs a few reference counts, nothing beside an iteration of
    theirs (W1's chain kernels above keep inlining: there the calls would show)."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = f.__qualname__ + "_called"
    return register_jitable(g)


flat_forward_called, flat_backward_called = (register_jitable(f) for f in _make_passes())
classes_loss_called, values_loss_called, classes_done_called, values_done_called = (
    _called(f) for f in (_classes_loss, _values_loss, _classes_done, _values_done))
