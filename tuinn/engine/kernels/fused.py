"""Provides run mode's fused conv -> relu -> maxpool kernels: the layers' own arithmetic, one pass.

Each kernel calls the per-sample and per-plane kernels the layers' kernels are made of
(conv2d_sample, conv2d_backward_sample, _im2col, maxpool_plane, maxpool_back_plane)
and relu's arithmetic, plane by plane or sample by sample: a plane of the
convolution's output is still in cache when relu and the pool read it, instead of each
layer streaming the whole batch through memory in turn. relu -> maxpool fills every
buffer the layers would fill; conv -> relu -> maxpool (the `*_lean` kernels) keeps
the batch-sized intermediates one sample at a time in scratch (see below). Either way
every value is the layers' own, bit for bit (tests/test_fused.py).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from tuinn.engine.jit import kernel
from tuinn.engine.kernels import conv as _conv
from tuinn.engine.kernels import pool as _pool
from tuinn.engine.kernels.conv import _im2col, conv2d_backward_sample, ones_row
from tuinn.engine.kernels.pool import maxpool_back_plane, maxpool_plane


def _digest() -> str:
    """The source of the modules whose kernels these call: Numba's cache sees only this
    file, so the kernels that call those are made by factories closing over this
    digest (in their cache key: editing conv.py or pool.py recompiles them, as in
    kernels/chain.py)."""
    h = hashlib.sha256()
    for mod in (_conv, _pool):
        with open(os.path.abspath(mod.__file__), "rb") as f:
            h.update(f.read())

    return h.hexdigest()


DIGEST = _digest()


@kernel
def relu_plane(xf, o, n, yf, mf):
    """relu_forward on xf[o:o + n]: y = x where x > 0 else 0, mask 1 or 0."""
    for i in range(o, o + n):
        if xf[i] > 0.0:
            yf[i] = xf[i]
            mf[i] = 1.0
        else:
            yf[i] = 0.0
            mf[i] = 0.0


def _make_relu_maxpool_forward(digest: str):
    @kernel
    def relu_maxpool_forward(x, z, s, y, mask, yp, argmax):
        """relu (x -> y, mask) then maxpool (y -> yp, argmax), plane by plane; x, y, mask
        (N, C, H, W), yp and argmax (N, C, OH, OW)."""
        digest                                               # in the cache key
        N, C, H, W = x.shape
        oh_n, ow_n = yp.shape[2], yp.shape[3]
        xf, yf, mf = x.reshape(x.size), y.reshape(y.size), mask.reshape(mask.size)
        pf, af = yp.reshape(yp.size), argmax.reshape(argmax.size)
        plane, m = H * W, oh_n * ow_n
        for p in range(N * C):
            relu_plane(xf, p * plane, plane, yf, mf)
            maxpool_plane(yf, p * plane, H, W, z, s, pf, af, p * m, oh_n, ow_n)

    return relu_maxpool_forward


relu_maxpool_forward = _make_relu_maxpool_forward(DIGEST)


def _make_maxpool_relu_backward(digest: str):
    @kernel
    def maxpool_relu_backward(dy, argmax, mask, dxp, dxr):
        """maxpool's backward (dy -> dxp) then relu's (dxr = dxp * mask), plane by plane;
        dy, argmax (N, C, OH, OW); mask, dxp, dxr (N, C, H, W)."""
        digest                                               # in the cache key
        N, C, oh_n, ow_n = dy.shape
        plane, m = dxp.shape[2] * dxp.shape[3], oh_n * ow_n
        gf, af = dy.reshape(dy.size), argmax.reshape(argmax.size)
        pf, mf, rf = dxp.reshape(dxp.size), mask.reshape(mask.size), dxr.reshape(dxr.size)
        for p in range(N * C):
            maxpool_back_plane(gf, af, p * m, m, pf, p * plane, plane)
            for i in range(p * plane, (p + 1) * plane):
                rf[i] = pf[i] * mf[i]

    return maxpool_relu_backward


maxpool_relu_backward = _make_maxpool_relu_backward(DIGEST)


# ------------------------------------------------------------------ conv -> relu -> maxpool
# Run mode's conv -> relu -> maxpool without the batch-sized intermediates: the
# convolution's output, relu's output and mask, the pool's dx and relu's dx (five
# (N, F, OH, OW) arrays, 8 MB a batch for W4, more than the caches hold) live one
# sample at a time in small scratch planes; the layers' caches get them on demand
# (tuinn/engine/run/lazygroup.py). The arithmetic is the kernels above, value for value.

def _make_relu_maxpool_sample(digest: str):
    @kernel
    def relu_maxpool_sample(cf, H, W, b, z, s, yf, mf, pf, af, yo, oh_n, ow_n):
        """maxpool_plane of relu(cf[f*H*W:(f + 1)*H*W] + b[f]) into pf, af (yo + f*OH*OW
        on) for every filter f of one sample: the values and winners conv2d_sample's
        bias, relu_plane and maxpool_plane give (the bias added here, where the values
        are read anyway). 2x2 windows at stride 2 take a branch-free loop straight from
        the product (relu's values are never NaN, so the pool's NaN rescan has nothing
        to find); other windows add the bias in cf, then go through relu_plane into the
        scratch yf, mf (one sample's planes) and maxpool_plane."""
        digest                                               # in the cache key
        plane, m = H * W, oh_n * ow_n
        for f in range(b.shape[0]):
            xo, bf, fo = f * plane, b[f], yo + f * m
            if not (z == 2 and s == 2):
                for i in range(xo, xo + plane):
                    cf[i] += bf
                relu_plane(cf, xo, plane, yf, mf)
                maxpool_plane(yf, xo, H, W, z, s, pf, af, fo, oh_n, ow_n)
                continue
            for oh in range(oh_n):
                r0 = 2 * oh * W
                o = fo + oh * ow_n
                x0 = cf[xo + r0:xo + r0 + 2 * ow_n]          # the window rows, pairs
                x1 = cf[xo + r0 + W:xo + r0 + W + 2 * ow_n]
                po = pf[o:o + ow_n]
                ao = af[o:o + ow_n]
                for ow in range(ow_n):
                    c = 2 * ow
                    a0 = x0[c] + bf                             # conv2d_sample's y
                    a1 = x0[c + 1] + bf
                    b0 = x1[c] + bf
                    b1 = x1[c + 1] + bf
                    a0 = a0 if a0 > 0.0 else 0.0                # relu, as relu_plane
                    a1 = a1 if a1 > 0.0 else 0.0
                    b0 = b0 if b0 > 0.0 else 0.0
                    b1 = b1 if b1 > 0.0 else 0.0
                    best = a0                                   # the first maximum wins
                    at = 0                                      # (selects, no branches)
                    t = a1 > best
                    best = a1 if t else best
                    at = 1 if t else at
                    t = b0 > best
                    best = b0 if t else best
                    at = W if t else at
                    t = b1 > best
                    best = b1 if t else best
                    at = W + 1 if t else at
                    po[ow] = best
                    ao[ow] = r0 + c + at

    return relu_maxpool_sample


relu_maxpool_sample = _make_relu_maxpool_sample(DIGEST)


@kernel
def pad_sample(x, n, p, xpn):
    """xpn (C, H + 2p, W + 2p) = sample n of x (N, C, H, W) with p zeros around (xpn's
    border is left as it is: zeros) or, p = 0, a view of it: conv2d_forward's padded
    input, one sample at a time."""
    if p == 0:
        return x[n]
    _, C, H, W = x.shape
    for c in range(C):
        for r in range(H):
            src = x[n, c, r]
            dst = xpn[c, r + p, p:p + W]
            for q in range(W):
                dst[q] = src[q]
    return xpn


def _make_conv_relu_maxpool_lean(digest: str):
    @kernel
    def conv_relu_maxpool_lean(x, rows, p, w, b, s, xpn, cols, ycn, yn, mn, z, ps, yp,
                               argmax):
        """conv2d (the batch x[rows] (N, C, H, W), gathered here: no copy of the batch;
        padding p -> ycn), relu and maxpool (-> yp, argmax (N, F, PH, PW)), sample by
        sample: one sample's padded input (C, Hp, Wp, a zero
        border), conv output, relu output and mask (F, OH, OW) are scratch, overwritten
        sample by sample; cols (N, CKK, P) keeps every sample's columns for the
        backward, or (1, CKK, P) one sample's (the backward makes them again: cheaper
        than a batch of columns out to memory and back when they outgrow the cache)."""
        digest                                               # in the cache key
        N = rows.shape[0]
        F, C, k, _ = w.shape
        oh_n, ow_n = ycn.shape[1], ycn.shape[2]
        ph_n, pw_n = yp.shape[2], yp.shape[3]
        wm = w.reshape(F, C * k * k)
        cf, yf, mf = ycn.reshape(ycn.size), yn.reshape(yn.size), mn.reshape(mn.size)
        pf, af = yp.reshape(yp.size), argmax.reshape(argmax.size)
        plane, m = oh_n * ow_n, ph_n * pw_n
        yc2 = ycn.reshape(F, plane)                          # (F, P)
        for n in range(N):                                   # conv2d_sample, the bias
            colsn = cols[n] if cols.shape[0] == N else cols[0]          # kept or not
            _im2col(pad_sample(x, rows[n], p, xpn), k, s, oh_n, ow_n, colsn)  # in the pool
            ones_row(colsn)                                  # for the backward's db
            np.dot(wm, colsn[:C * k * k], yc2)
            relu_maxpool_sample(cf, oh_n, ow_n, b, z, ps, yf, mf, pf, af, n * F * m,
                                ph_n, pw_n)

    return conv_relu_maxpool_lean


conv_relu_maxpool_lean = _make_conv_relu_maxpool_lean(DIGEST)


def _make_relu_back_at_winners(digest: str):
    @kernel
    def relu_back_at_winners(gf, af, pf, go, m, dpf, drf, do, plane):
        """relu's dx for one plane from the pool's alone: dpf[do:do + plane] = the
        pool's dx (maxpool_back_plane), drf (the same span) = dpf * mask, where mask is
        1 at a winner whose pooled value pf > 0 (relu passed it: the winner's relu
        output is the pooled value) and the product is +0 wherever the pool's dx is +0
        (no window's winner), whatever the mask: the values relu's backward gives."""
        digest                                               # in the cache key
        maxpool_back_plane(gf, af, go, m, dpf, do, plane)
        for q in range(do, do + plane):
            drf[q] = 0.0
        for t in range(go, go + m):
            i = do + af[t]
            drf[i] = dpf[i] * (1.0 if pf[t] > 0.0 else 0.0)

    return relu_back_at_winners


relu_back_at_winners = _make_relu_back_at_winners(DIGEST)


@kernel
def winners_scatter(gf, af, pf, go, F, m, drf, plane):
    """relu_back_at_winners for the F planes of one sample (gf, af, pf from go; drf's
    planes from 0) when windows do not overlap: each input wins one window at most, its
    pool dx is 0 + its gradient, so drf is cleared and only the winners written (a
    vectorised clear of the sample's planes: cheaper than clearing the winners one by
    one after)."""
    drf[:] = 0.0
    for f in range(F):
        do, g = f * plane, go + f * m
        for t in range(g, g + m):
            drf[do + af[t]] = (0.0 + gf[t]) * (1.0 if pf[t] > 0.0 else 0.0)


def _make_maxpool_relu_conv_backward_lean(digest: str):
    @kernel
    def maxpool_relu_conv_backward_lean(dy, argmax, yp, z, ps, x, rows, p, w, s, need_dx,
                                        dw, db, dw_tmp, dcols, xpn, cols, dxpn, dxrn, dxpad):
        """maxpool's, relu's and conv2d's backward after conv_relu_maxpool_lean: dw, db
        (and, need_dx, dxpad (N, C, Hp, Wp), zeroed here as conv2d's is) from the pooled
        gradient dy, winners and values yp (N, F, PH, PW) of the z x z pool at stride ps
        alone: a sample's pool dx and relu dx (F, OH, OW) are scratch
        (winners_scatter, relu_back_at_winners), its columns recomputed from x[rows]
        (padding p, xpn as in conv_relu_maxpool_lean)."""
        digest                                               # in the cache key
        N, F, ph_n, pw_n = dy.shape
        k = w.shape[2]
        CKK = w.shape[1] * k * k
        oh_n, ow_n = dxpn.shape[1], dxpn.shape[2]
        wm = w.reshape(F, CKK)
        dwm = dw.reshape(F, CKK)
        dwm[:, :] = 0.0
        db[:] = 0.0
        if need_dx:
            dxpad[:, :, :, :] = 0.0
        plane, m = oh_n * ow_n, ph_n * pw_n
        gf, af, pf = dy.reshape(dy.size), argmax.reshape(argmax.size), yp.reshape(yp.size)
        dpf, drf = dxpn.reshape(dxpn.size), dxrn.reshape(dxrn.size)
        apart = z <= ps                                      # windows do not overlap
        for n in range(N):
            if apart:
                winners_scatter(gf, af, pf, n * F * m, F, m, drf, plane)
            else:
                for f in range(F):
                    relu_back_at_winners(gf, af, pf, (n * F + f) * m, m, dpf, drf,
                                         f * plane, plane)
            if cols.shape[0] == N:                           # kept by the forward
                colsn = cols[n]
            else:
                colsn = cols[0]
                _im2col(pad_sample(x, rows[n], p, xpn), k, s, oh_n, ow_n, colsn)
                ones_row(colsn)
            conv2d_backward_sample(dxrn, wm, colsn, k, s, need_dx, dwm, db, dw_tmp, dcols,
                                   dxpad[n] if need_dx else dxpad[0])

    return maxpool_relu_conv_backward_lean


maxpool_relu_conv_backward_lean = _make_maxpool_relu_conv_backward_lean(DIGEST)