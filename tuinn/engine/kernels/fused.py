"""Provides run mode's fused conv -> relu -> maxpool kernels: the layers' own arithmetic, one pass.

Each kernel calls the per-sample and per-plane kernels the layers' kernels are made of
(conv2d_sample, conv2d_backward_sample, maxpool_plane, maxpool_back_plane) and relu's arithmetic, but plane by
plane: a plane of the convolution's output is still in cache when relu and the pool
read it, instead of each layer streaming the whole batch through memory in turn. Every
buffer the layers would fill is filled, with the same values bit for bit.
"""

from __future__ import annotations

from tuinn.engine.jit import kernel
from tuinn.engine.kernels.conv import conv2d_backward_sample, conv2d_sample
from tuinn.engine.kernels.pool import maxpool_back_plane, maxpool_plane


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


@kernel
def relu_maxpool_forward(x, z, s, y, mask, yp, argmax):
    """relu (x -> y, mask) then maxpool (y -> yp, argmax), plane by plane; x, y, mask
    (N, C, H, W), yp and argmax (N, C, OH, OW)."""
    N, C, H, W = x.shape
    oh_n, ow_n = yp.shape[2], yp.shape[3]
    xf, yf, mf = x.reshape(x.size), y.reshape(y.size), mask.reshape(mask.size)
    pf, af = yp.reshape(yp.size), argmax.reshape(argmax.size)
    plane, m = H * W, oh_n * ow_n
    for p in range(N * C):
        relu_plane(xf, p * plane, plane, yf, mf)
        maxpool_plane(yf, p * plane, H, W, z, s, pf, af, p * m, oh_n, ow_n)


@kernel
def conv_relu_maxpool_forward(xp, w, b, s, cols, yc, z, ps, y, mask, yp, argmax):
    """conv2d (xp -> yc, the columns into cols), relu (yc -> y, mask) and maxpool
    (y -> yp, argmax), sample by sample: yc, y, mask (N, F, OH, OW); yp, argmax
    (N, F, PH, PW)."""
    N = xp.shape[0]
    F, C, k, _ = w.shape
    oh_n, ow_n = yc.shape[2], yc.shape[3]
    ph_n, pw_n = yp.shape[2], yp.shape[3]
    wm = w.reshape(F, C * k * k)
    cf, yf, mf = yc.reshape(yc.size), y.reshape(y.size), mask.reshape(mask.size)
    pf, af = yp.reshape(yp.size), argmax.reshape(argmax.size)
    plane, m = oh_n * ow_n, ph_n * pw_n
    for n in range(N):
        conv2d_sample(xp[n], wm, b, k, s, oh_n, ow_n, cols[n], yc[n])
        for f in range(n * F, (n + 1) * F):
            relu_plane(cf, f * plane, plane, yf, mf)
            maxpool_plane(yf, f * plane, oh_n, ow_n, z, ps, pf, af, f * m, ph_n, pw_n)


@kernel
def maxpool_relu_backward(dy, argmax, mask, dxp, dxr):
    """maxpool's backward (dy -> dxp) then relu's (dxr = dxp * mask), plane by plane;
    dy, argmax (N, C, OH, OW); mask, dxp, dxr (N, C, H, W)."""
    N, C, oh_n, ow_n = dy.shape
    plane, m = dxp.shape[2] * dxp.shape[3], oh_n * ow_n
    gf, af = dy.reshape(dy.size), argmax.reshape(argmax.size)
    pf, mf, rf = dxp.reshape(dxp.size), mask.reshape(mask.size), dxr.reshape(dxr.size)
    for p in range(N * C):
        maxpool_back_plane(gf, af, p * m, m, pf, p * plane, plane)
        for i in range(p * plane, (p + 1) * plane):
            rf[i] = pf[i] * mf[i]


@kernel
def maxpool_relu_conv_backward(dy, argmax, mask, dxp, dxr, w, cols, s, need_dx, dw, db,
                               dw_tmp, dcols, dxpad):
    """maxpool's and relu's backward (dy -> dxp -> dxr, as maxpool_relu_backward) and
    conv2d's (dxr -> dw, db and, need_dx, dxpad), sample by sample: a sample's dxr is
    still in cache when the convolution's backward reads it. dy, argmax (N, F, PH, PW);
    mask, dxp, dxr (N, F, OH, OW); dxpad (N, C, Hp, Wp), zeroed here as conv2d's is."""
    N, F, ph_n, pw_n = dy.shape
    k = w.shape[2]
    CKK = w.shape[1] * k * k
    wm = w.reshape(F, CKK)
    dwm = dw.reshape(F, CKK)
    dwm[:, :] = 0.0
    db[:] = 0.0
    if need_dx:
        dxpad[:, :, :, :] = 0.0
    plane, m = dxp.shape[2] * dxp.shape[3], ph_n * pw_n
    gf, af = dy.reshape(dy.size), argmax.reshape(argmax.size)
    pf, mf, rf = dxp.reshape(dxp.size), mask.reshape(mask.size), dxr.reshape(dxr.size)
    for n in range(N):
        for p in range(n * F, (n + 1) * F):
            maxpool_back_plane(gf, af, p * m, m, pf, p * plane, plane)
            for i in range(p * plane, (p + 1) * plane):
                rf[i] = pf[i] * mf[i]
        conv2d_backward_sample(dxr[n], wm, cols[n], k, s, need_dx, dwm, db, dw_tmp, dcols,
                               dxpad[n] if need_dx else dxpad[0])
