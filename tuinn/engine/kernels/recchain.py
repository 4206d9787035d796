"""Provides `epoch_lstm_classes`, `epoch_lstm_values`: `tuinn train`'s iterations of an LSTM
with a dense head, many in one call (tuinn/engine/run/recbulk.py).

The network is a first lstm layer (one direction, its last h), then a dense chain and
any of the four losses (issue 11's W3: lstm 8-64 over 32 steps, dense 1, mse, adam).
Each iteration is what `train_iteration` does for it layer by layer, in the same order
with the same kernels, so the same bits (tests/test_recbulk.py):
- the batch's rows gathered from the data set (NetworkProgram's x.take(rows)) into xb,
  lstm_forward_kernel on it, its last h copied into the layer's y (N, H);
- the chain's forward (flatchain's flat_forward) on y, the loss, the chain's backward
  with the first dense layer's dx (`dx0`): the gradient of y (called, not inlined:
  flatchain's `_called`);
- lstm_backward_kernel with no dx (nothing before it reads one), into the packed
  gradients;
- the packed optimizer step with its finite check, the correct count, the loss.
Uncompiled (tuinn/engine/jit.py) they run as Python.
"""

from __future__ import annotations

import hashlib
import os

from numba.extending import register_jitable

from tuinn.engine.jit import kernel
from tuinn.engine.kernels import flatchain as _flatchain
from tuinn.engine.kernels import recurrent as _recurrent
from tuinn.engine.kernels.chain import keep_start
from tuinn.engine.kernels.flatchain import (_output, _scratch, classes_done_called,
                                            classes_loss_called, flat_backward_called,
                                            flat_forward_called, values_done_called,
                                            values_loss_called)
from tuinn.engine.kernels.recurrent import lstm_backward_kernel, lstm_forward_kernel


def _digest() -> str:
    # Numba's cache sees only this file: the called kernels' sources go into the key
    h = hashlib.sha256(_flatchain._digest_.encode())
    for mod in (_flatchain, _recurrent):
        with open(os.path.abspath(mod.__file__), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


@register_jitable(inline="always")
def _lstm_forward(X, rows, dims, w, xb, y, xt, xp, rec, gates, cs, hs, tc):
    """The batch X[rows] through the lstm into y (N, H): its parameters are w's spans at
    dims = (I, H, offset of Wx, of Wh, of b)."""
    I, H, wxo, who, bo = dims[0], dims[1], dims[2], dims[3], dims[4]
    n, T = xb.shape[0], xb.shape[1]
    for i in range(n):                                               # (T, I) <- (M, T, I)
        src, dst = X[rows[i]], xb[i]                                 # (loops: an array
        for t in range(T):                                           # assignment compiles
            for j in range(I):                                       # its shape errors'
                dst[t, j] = src[t, j]                                # messages, seconds)
    Wx = w[wxo:wxo + I * 4 * H].reshape(I, 4 * H)
    Wh = w[who:who + H * 4 * H].reshape(H, 4 * H)
    lstm_forward_kernel(xb, Wx, Wh, w[bo:bo + 4 * H], xt, xp, rec, gates, cs, hs, tc)
    last = hs[T]                                                     # the last h
    for i in range(n):
        for j in range(H):
            y[i, j] = last[i, j]


@register_jitable(inline="always")
def _lstm_backward(dims, w, g, dyo, a, xt, gates, cs, hs, tc, dh, dc, dA, dhrec, dxt, dx):
    """BPTT from the gradient of y at a[dyo:], no dx, into g's spans (as _lstm_forward)."""
    I, H, wxo, who, bo = dims[0], dims[1], dims[2], dims[3], dims[4]
    n = hs.shape[1]
    Wx = w[wxo:wxo + I * 4 * H].reshape(I, 4 * H)
    Wh = w[who:who + H * 4 * H].reshape(H, 4 * H)
    dy3 = a[dyo:dyo + n * H].reshape(n, 1, H)
    no = n < 0              # False, as a bool: a literal False would compile the kernel anew
    lstm_backward_kernel(dy3, no, no, Wx, Wh, xt, gates, cs, hs, tc, dh, dc, dA, dhrec,
                         dxt, dx, g[wxo:wxo + I * 4 * H].reshape(I, 4 * H),
                         g[who:who + H * 4 * H].reshape(H, 4 * H), g[bo:bo + 4 * H])


def _make(digest: str):
    @kernel
    def epoch_lstm_classes(X, Y, order, start, dims, xb, y, xt, xp, rec, gates, cs, hs, tc,
                           dh, dc, dA, dhrec, dxt, dx, target, w, g, a, table, slopes,
                           loss_kind, margin, probs, dout, bad, opt, hyper, v, m, ts, bounds,
                           losses, snaps, snap_v, snap_m, snap_t, correct):
        """losses.size iterations: iteration b's batch is the rows order[start + b N :
        start + (b + 1) N] of X (M, T, I) and Y (M,); dims as _lstm_forward; xb (N, T, I)
        the batch, y (N, H) the layer's output, xt ... dx its workspace; the rest as
        flatchain.epoch_classes, whose chain reads y. Returns the iterations done (fewer:
        iteration b has a bad label, a NaN/Inf loss or leaves a parameter NaN/Inf)."""
        digest
        n = y.shape[0]
        count = losses.size
        out = _output(a, table, n)                           # (N, C) the batch's scores
        xf = y.reshape(y.size)                               # the chain's input (N * H,)
        doutf = dout.reshape(dout.size)
        wt = _scratch(w, table)
        for b in range(count):
            if b >= count - 2:
                keep_start(b - count + 2, w, v, m, ts, snaps, snap_v, snap_m, snap_t)
            rows = order[start + b * n:start + (b + 1) * n]
            _lstm_forward(X, rows, dims, w, xb, y, xt, xp, rec, gates, cs, hs, tc)
            for i in range(n):
                target[i] = Y[rows[i]]                       # (N,) <- (M,)
            flat_forward_called(xf, w, a, table, slopes, n, b == count - 1)
            value = classes_loss_called(out, target, loss_kind, margin, probs, dout, bad)
            losses[b] = value
            if bad[0] >= 0:
                return b
            flat_backward_called(xf, w, g, a, table, doutf, n, wt, True)
            _lstm_backward(dims, w, g, table[0, 7], a, xt, gates, cs, hs, tc, dh, dc, dA,
                           dhrec, dxt, dx)
            if not classes_done_called(value, out, target, correct, opt, hyper, w, g, v, m, ts,
                                 bounds):
                return b
        return count

    @kernel
    def epoch_lstm_values(X, Y, order, start, dims, xb, y, xt, xp, rec, gates, cs, hs, tc,
                          dh, dc, dA, dhrec, dxt, dx, target, w, g, a, table, slopes,
                          loss_kind, dout, opt, hyper, v, m, ts, bounds, losses, snaps,
                          snap_v, snap_m, snap_t, correct):
        """epoch_lstm_classes for mse and bce (targets (M, O) shaped like the output);
        bce counts count_correct_binary, mse nothing."""
        digest
        n = y.shape[0]
        count = losses.size
        out = _output(a, table, n)                           # (N, O) the batch's output
        fo = out.shape[1]
        outf = out.reshape(out.size)
        xf = y.reshape(y.size)
        tf = target.reshape(target.size)                     # (N * O,)
        doutf = dout.reshape(dout.size)
        wt = _scratch(w, table)
        for b in range(count):
            if b >= count - 2:
                keep_start(b - count + 2, w, v, m, ts, snaps, snap_v, snap_m, snap_t)
            rows = order[start + b * n:start + (b + 1) * n]
            _lstm_forward(X, rows, dims, w, xb, y, xt, xp, rec, gates, cs, hs, tc)
            for i in range(n):
                for j in range(fo):
                    tf[i * fo + j] = Y[rows[i], j]           # (N, O) <- (M, O)
            flat_forward_called(xf, w, a, table, slopes, n, b == count - 1)
            value = values_loss_called(out, target, loss_kind, dout)
            losses[b] = value
            flat_backward_called(xf, w, g, a, table, doutf, n, wt, True)
            _lstm_backward(dims, w, g, table[0, 7], a, xt, gates, cs, hs, tc, dh, dc, dA,
                           dhrec, dxt, dx)
            if not values_done_called(value, loss_kind, outf, tf, correct, opt, hyper, w, g, v, m,
                                ts, bounds):
                return b
        return count

    return epoch_lstm_classes, epoch_lstm_values


epoch_lstm_classes, epoch_lstm_values = _make(_digest())
