"""Provides the max- and average-pooling kernels, forward and backward side by side.

x (N, C, H, W) -> y (N, C, OH, OW) with OH = floor((H - Z) / S) + 1, no padding.
Max pooling records, per output cell, the flat index r*W + c of the winning input
element (`argmax`, int64); the first maximum in row-major order wins ties, and a NaN
wins over numbers so that a NaN is never hidden (as PyTorch does). Windows may overlap
(stride < size): their gradients add.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import kernel
from tuinn.engine.kernels.conv import Workspace, conv_out

# ----------------------------------------------------------------------------- max

@kernel
def maxpool_plane(xf, xo, H, W, z, s, yf, af, yo, oh_n, ow_n):
    """Max-pool the plane xf[xo:xo + H*W] (row-major H x W) into yf[yo:yo + OH*OW] and
    its winners' flat indices r*W + c into af (the same span).

    The hot loop is a plain `v > best` (a NaN never wins it); a window that held a NaN
    (its sum is NaN; inf - inf also gives one, and the rescan then finds none) is
    rescanned so that its first NaN wins. 2x2 windows at stride 2, the usual pool, take
    a loop of their own over row pairs: about 1.8x faster (32x8x28x28: 0.19 ms vs
    0.35 ms of CPU time).
    """
    if z == 2 and s == 2:
        for oh in range(oh_n):
            r0 = 2 * oh * W
            r1 = r0 + W
            o = yo + oh * ow_n
            for ow in range(ow_n):
                c = 2 * ow
                a0 = xf[xo + r0 + c]
                a1 = xf[xo + r0 + c + 1]
                b0 = xf[xo + r1 + c]
                b1 = xf[xo + r1 + c + 1]
                best = a0
                idx = r0 + c
                if a1 > best:
                    best = a1
                    idx = r0 + c + 1
                if b0 > best:
                    best = b0
                    idx = r1 + c
                if b1 > best:
                    best = b1
                    idx = r1 + c + 1
                total = a0 + a1 + b0 + b1
                if total != total and best == best:          # rare: the first NaN wins
                    if a0 != a0:
                        best = a0
                        idx = r0 + c
                    elif a1 != a1:
                        best = a1
                        idx = r0 + c + 1
                    elif b0 != b0:
                        best = b0
                        idx = r1 + c
                    elif b1 != b1:
                        best = b1
                        idx = r1 + c + 1
                yf[o + ow] = best
                af[o + ow] = idx
        return
    for oh in range(oh_n):
        r0 = oh * s
        for ow in range(ow_n):
            c0 = ow * s
            idx = r0 * W + c0
            best = xf[xo + idx]
            nan = False
            for i in range(z):
                row = (r0 + i) * W + c0
                for j in range(z):
                    v = xf[xo + row + j]
                    nan |= v != v
                    if v > best:
                        best = v
                        idx = row + j
            if nan and best == best:                         # rare: the first NaN wins
                found = False
                for i in range(z):
                    for j in range(z):
                        q = (r0 + i) * W + c0 + j
                        if not found and xf[xo + q] != xf[xo + q]:
                            best = xf[xo + q]
                            idx = q
                            found = True
            yf[yo + oh * ow_n + ow] = best
            af[yo + oh * ow_n + ow] = idx


@kernel
def maxpool_back_plane(gf, af, go, m, df, do, plane):
    """dx plane df[do:do + plane] = 0, then each upstream gradient gf[go + k] (k < m)
    added at its window's winner af[go + k]."""
    for q in range(do, do + plane):
        df[q] = 0.0
    for k in range(go, go + m):
        df[do + af[k]] += gf[k]


@kernel
def maxpool_forward_kernel(x, z, s, y, argmax):
    """y = max over each z x z window; argmax = flat index r*W + c of the winner
    (maxpool_plane, plane by plane)."""
    N, C, H, W = x.shape                                     # (N, C, H, W)
    oh_n, ow_n = y.shape[2], y.shape[3]                      # y, argmax (N, C, OH, OW)
    xf = x.reshape(x.size)                                   # flat views
    yf = y.reshape(y.size)
    af = argmax.reshape(argmax.size)
    plane, m = H * W, oh_n * ow_n
    for p in range(N * C):
        maxpool_plane(xf, p * plane, H, W, z, s, yf, af, p * m, oh_n, ow_n)


@kernel
def maxpool_backward_kernel(dy, argmax, dx):
    """Route each upstream gradient to the element that won its window."""
    N, C, oh_n, ow_n = dy.shape                              # (N, C, OH, OW)
    plane = dx.shape[2] * dx.shape[3]                        # dx (N, C, H, W)
    m = oh_n * ow_n
    gf, af, df = dy.reshape(dy.size), argmax.reshape(argmax.size), dx.reshape(dx.size)
    for p in range(N * C):
        maxpool_back_plane(gf, af, p * m, m, df, p * plane, plane)


# ------------------------------------------------------------------------- average

@kernel
def avgpool_forward_kernel(x, z, s, y):
    """y = mean over each z x z window."""
    N, C, H, W = x.shape                                     # (N, C, H, W)
    oh_n, ow_n = y.shape[2], y.shape[3]                      # (N, C, OH, OW)
    area = z * z
    for n in range(N):
        for c in range(C):
            for oh in range(oh_n):
                r0 = oh * s
                for ow in range(ow_n):
                    c0 = ow * s
                    acc = 0.0
                    for i in range(z):
                        for j in range(z):
                            acc += x[n, c, r0 + i, c0 + j]
                    y[n, c, oh, ow] = acc / area


@kernel
def avgpool_backward_kernel(dy, z, s, dx):
    """Spread each upstream gradient evenly (1 / z**2) over its window."""
    N, C, oh_n, ow_n = dy.shape                              # (N, C, OH, OW)
    dx[:, :, :, :] = 0.0                                     # (N, C, H, W)
    area = z * z
    for n in range(N):
        for c in range(C):
            for oh in range(oh_n):
                r0 = oh * s
                for ow in range(ow_n):
                    c0 = ow * s
                    g = dy[n, c, oh, ow] / area
                    for i in range(z):
                        for j in range(z):
                            dx[n, c, r0 + i, c0 + j] += g


# ---------------------------------------------------------------------- wrappers

def _out_shape(x_shape, size, stride):
    N, C, H, W = x_shape
    OH, OW = conv_out(H, size, 0, stride), conv_out(W, size, 0, stride)
    if OH < 1 or OW < 1:
        raise ValueError(f"pool output {OH}x{OW} < 1")
    return N, C, OH, OW


def maxpool_forward(x: np.ndarray, size: int, stride: int, ws: Workspace,
                    dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """(y (N, C, OH, OW), argmax (N, C, OH, OW) int64 flat indices into each H*W plane)."""
    x = np.ascontiguousarray(x, dtype=dtype or x.dtype)
    shape = _out_shape(x.shape, size, stride)
    y = ws.get("y", shape, x.dtype)
    argmax = ws.get("argmax", shape, np.int64)
    maxpool_forward_kernel(x, size, stride, y, argmax)
    return y, argmax


def maxpool_backward(dy: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...],
                     ws: Workspace, dtype=None) -> np.ndarray:
    """dx (N, C, H, W): each dy goes to its window's winner."""
    dy = np.ascontiguousarray(dy, dtype=dtype or dy.dtype)
    if dy.shape != argmax.shape:
        raise ValueError(f"maxpool backward: dy {dy.shape} vs argmax {argmax.shape}")
    dx = ws.get("dx", tuple(x_shape), dy.dtype)
    maxpool_backward_kernel(dy, np.ascontiguousarray(argmax), dx)
    return dx


def avgpool_forward(x: np.ndarray, size: int, stride: int, ws: Workspace,
                    dtype=None) -> np.ndarray:
    """y (N, C, OH, OW): window means."""
    x = np.ascontiguousarray(x, dtype=dtype or x.dtype)
    y = ws.get("y", _out_shape(x.shape, size, stride), x.dtype)
    avgpool_forward_kernel(x, size, stride, y)
    return y


def avgpool_backward(dy: np.ndarray, size: int, stride: int, x_shape: tuple[int, ...],
                     ws: Workspace, dtype=None) -> np.ndarray:
    """dx (N, C, H, W): dy / size**2 over each window."""
    dy = np.ascontiguousarray(dy, dtype=dtype or dy.dtype)
    if dy.shape != _out_shape(x_shape, size, stride):
        raise ValueError(f"avgpool backward: dy {dy.shape} does not fit x {tuple(x_shape)}")
    dx = ws.get("dx", tuple(x_shape), dy.dtype)
    avgpool_backward_kernel(dy, size, stride, dx)
    return dx
