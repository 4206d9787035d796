"""Provides `epoch_conv_classes`: `tuinn train`'s iterations of a small CNN, many in one call.

The network is a first conv2d -> relu -> maxpool group, a flatten and a dense chain with
softmax_ce or hinge (issue 11's W4: conv 8 3x3, relu, maxpool 2, flatten, dense 10).
Each iteration is what `train_iteration` does for it layer by layer, in the same order
with the same kernels, so the same bits (tests/test_convbulk.py):
- conv_relu_maxpool_lean (kernels/fused.py) on the batch's rows, read straight from
  the data set, into the pool's output and winners;
- the chain's forward (flatchain's flat_forward) on the pooled output as a flat
  (N, F*PH*PW) batch, the loss (softmax_ce or hinge) and the chain's backward, with the
  first dense layer's dx (`dx0`): the pooled output's gradient (called, not inlined:
  flatchain's `_called`);
- maxpool_relu_conv_backward_lean into the conv's dW and db (no dx: nothing before it);
- the packed optimizer step with its finite check, the correct count, the loss.
The parameters are one packed buffer (the conv's and the chain's); the conv's W and b
are its views at their offsets. Uncompiled (tuinn/engine/jit.py) it runs as Python.
"""

from __future__ import annotations

import hashlib
import os

from tuinn.engine.jit import kernel
from tuinn.engine.kernels import fused as _fused
from tuinn.engine.kernels import flatchain as _flatchain
from tuinn.engine.kernels.chain import keep_start
from tuinn.engine.kernels.flatchain import (_output, _scratch, classes_done_called,
                                            classes_loss_called, flat_backward_called,
                                            flat_forward_called)
from tuinn.engine.kernels.fused import (conv_relu_maxpool_lean,
                                        maxpool_relu_conv_backward_lean)


def _digest() -> str:
    # Numba's cache sees only this file: the called kernels' sources go into the key
    h = hashlib.sha256(_fused.DIGEST.encode() + _flatchain._digest_.encode())
    for mod in (_fused, _flatchain):
        with open(os.path.abspath(mod.__file__), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _make(digest: str):
    @kernel
    def epoch_conv_classes(X, Y, order, start, cv, last_w, last_b, xpn, cols, ycn, yn, mn,
                           dw_tmp, dcols, dxpn, dxrn, dxpad, yp, argmax, target, w, g, a,
                           table, slopes, loss_kind, margin, probs, dout, bad, opt, hyper, v,
                           m, ts, bounds, losses, snaps, snap_v, snap_m, snap_t, correct):
        """losses.size iterations: iteration b's batch is the rows order[start + b N :
        start + (b + 1) N] of X (M, C, H, W) and Y (M,); cv = (padding, stride, pool
        size, pool stride, the offsets of the conv's W and b in w and g); last_w and
        last_b (W's and b's shapes) get W and b as the last iteration's forward used them
        (its caches are made from them when read); xpn ... dxpad the lean kernels'
        scratch, yp and argmax (N, F, PH, PW) the pool's output and winners; the rest as
        flatchain.epoch_classes, whose chain reads yp as its (N, F*PH*PW) input.
        Returns the iterations done (fewer: iteration b has a bad label, a NaN/Inf loss
        or leaves a parameter NaN/Inf)."""
        digest
        n = yp.shape[0]
        p, s, z, ps, wo, bo = cv[0], cv[1], cv[2], cv[3], cv[4], cv[5]
        conv_w = w[wo:wo + last_w.size].reshape(last_w.shape)   # (F, C, k, k) views
        conv_gw = g[wo:wo + last_w.size].reshape(last_w.shape)
        conv_b, conv_gb = w[bo:bo + last_b.size], g[bo:bo + last_b.size]
        lwf = last_w.reshape(last_w.size)
        no = n < 0              # False, as a bool: a literal False would compile the kernel anew
        count = losses.size
        out = _output(a, table, n)                           # (N, C) the batch's scores
        xf = yp.reshape(yp.size)                             # the chain's input (N * I,)
        dxo = table[0, 7]
        dpool = a[dxo:dxo + yp.size].reshape(yp.shape)       # its gradient (N, F, PH, PW)
        doutf = dout.reshape(dout.size)                      # (N * C,)
        wt = _scratch(w, table)
        for b in range(count):
            if b >= count - 2:
                keep_start(b - count + 2, w, v, m, ts, snaps, snap_v, snap_m, snap_t)
            rows = order[start + b * n:start + (b + 1) * n]
            conv_relu_maxpool_lean(X, rows, p, conv_w, conv_b, s, xpn, cols, ycn, yn, mn,
                                   z, ps, yp, argmax)
            if b == count - 1:                               # (loops: see recchain's)
                for i in range(last_w.size):
                    lwf[i] = w[wo + i]
                for i in range(last_b.size):
                    last_b[i] = w[bo + i]
            for i in range(n):
                target[i] = Y[rows[i]]                       # (N,) <- (M,)
            flat_forward_called(xf, w, a, table, slopes, n, b == count - 1)
            value = classes_loss_called(out, target, loss_kind, margin, probs, dout, bad)
            losses[b] = value
            if bad[0] >= 0:
                return b
            flat_backward_called(xf, w, g, a, table, doutf, n, wt, True)
            maxpool_relu_conv_backward_lean(dpool, argmax, yp, z, ps, X, rows, p, conv_w, s,
                                            no, conv_gw, conv_gb, dw_tmp, dcols, xpn,
                                            cols, dxpn, dxrn, dxpad)
            if not classes_done_called(value, out, target, correct, opt, hyper, w, g, v, m, ts,
                                 bounds):
                return b
        return count

    return epoch_conv_classes


epoch_conv_classes = _make(_digest())
