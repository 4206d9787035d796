"""Provides the window-by-window view of conv2d and pooling layers (pure NumPy, no UI).

Sub-step k of a conv or pool layer is output position (oh, ow) = divmod(k, OW),
row-major. `window`/`pool_window` describe the forward computation at k for one sample;
`backward_window`/`pool_backward_window` give the gradients accumulated over windows
0..k (all samples), which at the last k equal the layer's grads and dx.
Rows and columns are half-open ranges [start, stop). Conv windows are in PADDED
coordinates (the padded input is returned too); pools have no padding.
The helpers read the layer's cache and current params: call them before the update
step changes W.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tuinn.errors import TuinnError


def conv_output_size(H: int, K: int, P: int, S: int) -> int:
    """floor((H - K + 2P) / S) + 1 (the caller decides what a result < 1 means)."""
    return (int(H) - int(K) + 2 * int(P)) // int(S) + 1


def _position(layer, k: int) -> tuple[int, int, int]:
    OH, OW = int(layer.out_shape[1]), int(layer.out_shape[2])
    count = OH * OW
    if not 0 <= k < count:
        raise IndexError(f"{layer.name}: window {k} out of range 0..{count - 1}")
    oh, ow = divmod(int(k), OW)
    return oh, ow, count


def _cached(layer, key: str) -> np.ndarray:
    if key not in layer.cache:
        phase = "backward" if key in ("dy", "dx") else "forward"
        raise ValueError(f"{layer.name}: no cached {key!r} yet (run the {phase} pass first)")
    return layer.cache[key]


def _formula(layer) -> dict:
    """The numbers of the output-size formula, to show it filled in."""
    _, H, W = layer.in_shape
    K, P, S = layer.kernel, layer.padding, layer.stride
    return {"H": H, "W": W, "K": K, "P": P, "S": S,
            "OH": conv_output_size(H, K, P, S), "OW": conv_output_size(W, K, P, S)}


def padded_input(layer, n: int | None = None) -> np.ndarray:
    """The cached input with the layer's zero padding: (N, C, Hp, Wp), or (C, Hp, Wp) for n."""
    x = _cached(layer, "x")                                  # (N, C, H, W)
    P = layer.padding
    xs = x if n is None else x[n:n + 1]
    xp = np.pad(xs, ((0, 0), (0, 0), (P, P), (P, P))) if P else np.array(xs)
    return xp if n is None else xp[0]


# ------------------------------------------------------------------------- conv2d

def window(layer, k: int, n: int = 0) -> dict:
    """Forward sub-step k of a conv2d layer, for sample n (default 0) and every filter.

    Keys: k, count, oh, ow, rows, cols (padded coordinates), kernel, stride, padding,
    formula, input_padded (C, Hp, Wp), patch (C, K, K), weights (F, C, K, K),
    products (F, C, K, K) = patch * W[f], sums (F,), bias (F,), result (F,) = sums + bias,
    y (F,) the cached output at (oh, ow) (equal to result up to rounding).
    """
    oh, ow, count = _position(layer, k)
    K, S = layer.kernel, layer.stride
    r0, c0 = oh * S, ow * S
    xp = padded_input(layer, n)                              # (C, Hp, Wp)
    patch = xp[:, r0:r0 + K, c0:c0 + K]                      # (C, K, K)
    W = layer.params["W"]                                    # (F, C, K, K)
    b = layer.params["b"]                                    # (F,)
    products = patch[None] * W                               # (F, C, K, K)
    sums = products.reshape(W.shape[0], -1).sum(axis=1)      # (F,)
    return {"k": int(k), "count": count, "oh": oh, "ow": ow,
            "rows": (r0, r0 + K), "cols": (c0, c0 + K),
            "kernel": K, "stride": S, "padding": layer.padding, "formula": _formula(layer),
            "input_padded": xp, "patch": patch, "weights": W, "products": products,
            "sums": sums, "bias": b, "result": sums + b,
            "y": np.array(_cached(layer, "y")[n, :, oh, ow])}


def _taps(layer, i: int, j: int):
    """Slices of a padded (.., Hp, Wp) array hit by kernel tap (i, j) over all windows."""
    S = layer.stride
    OH, OW = int(layer.out_shape[1]), int(layer.out_shape[2])
    return slice(i, i + S * (OH - 1) + 1, S), slice(j, j + S * (OW - 1) + 1, S)


def _upto(dy: np.ndarray, k: int) -> np.ndarray:
    """dy with every output position after k set to zero."""
    OH, OW = dy.shape[2], dy.shape[3]
    keep = (np.arange(OH * OW) <= k).reshape(OH, OW)
    return dy * keep


def backward_window(layer, k: int, n: int = 0) -> dict:
    """Backward sub-step k of a conv2d layer: gradients from windows 0..k, all samples.

    Keys: k, count, oh, ow, rows, cols (padded coordinates), dy (F,) the upstream
    gradient at (oh, ow) for sample n; dW_step (F, C, K, K), db_step (F,) and
    dX_step_padded (C, K, K) for sample n: this window's own contributions;
    dW (F, C, K, K), db (F,), dX_padded (N, C, Hp, Wp) and dX (N, C, H, W): sums over
    windows 0..k. At the last k, dW, db and dX equal grads["W"], grads["b"] and dx.
    """
    oh, ow, count = _position(layer, k)
    K, S, P = layer.kernel, layer.stride, layer.padding
    dy = _cached(layer, "dy")                                # (N, F, OH, OW)
    xp = padded_input(layer)                                 # (N, C, Hp, Wp)
    W = layer.params["W"]                                    # (F, C, K, K)
    Hp, Wp = xp.shape[2], xp.shape[3]
    g = _upto(dy, k)                                         # (N, F, OH, OW)
    dW = np.zeros(W.shape, dtype=np.result_type(W, dy))
    dXp = np.zeros(xp.shape, dtype=dW.dtype)
    for i in range(K):
        for j in range(K):
            rs, cs = _taps(layer, i, j)
            dW[:, :, i, j] = np.einsum("nfhw,nchw->fc", g, xp[:, :, rs, cs])
            dXp[:, :, rs, cs] += np.einsum("nfhw,fc->nchw", g, W[:, :, i, j])
    db = g.sum(axis=(0, 2, 3))
    r0, c0 = oh * S, ow * S
    patch = xp[:, :, r0:r0 + K, c0:c0 + K]                   # (N, C, K, K)
    dy_k = dy[:, :, oh, ow]                                  # (N, F)
    Hx, Wx = Hp - 2 * P, Wp - 2 * P
    return {"k": int(k), "count": count, "oh": oh, "ow": ow,
            "rows": (r0, r0 + K), "cols": (c0, c0 + K),
            "dy": np.array(dy_k[n]),
            "dW_step": np.einsum("nf,ncij->fcij", dy_k, patch), "db_step": dy_k.sum(axis=0),
            "dX_step_padded": np.einsum("f,fcij->cij", dy_k[n], W),
            "dW": dW, "db": db, "dX_padded": dXp, "dX": dXp[:, :, P:P + Hx, P:P + Wx]}


# -------------------------------------------------------------------------- pools

def pool_window(layer, k: int, n: int = 0) -> dict:
    """Forward sub-step k of a maxpool/avgpool layer for sample n and every channel.

    Keys: k, count, oh, ow, rows, cols, size, stride, formula, kind ("max" | "avg"),
    input (C, Z, Z) the window, result (C,) (the cached output at (oh, ow));
    max: winner (C, 2) the (row, col) of each channel's winner in input coordinates,
    winner_in_window (C, 2) the same inside the window, mask (C, Z, Z) 1 at the winner;
    avg: weight 1 / size**2 and mask (C, Z, Z) full of that weight.
    """
    oh, ow, count = _position(layer, k)
    Z, S = layer.size, layer.stride
    r0, c0 = oh * S, ow * S
    x = _cached(layer, "x")                                  # (N, C, H, W)
    win = np.array(x[n, :, r0:r0 + Z, c0:c0 + Z])            # (C, Z, Z)
    C = win.shape[0]
    out = {"k": int(k), "count": count, "oh": oh, "ow": ow,
           "rows": (r0, r0 + Z), "cols": (c0, c0 + Z), "size": Z, "stride": S,
           "formula": _formula(layer), "input": win,
           "result": np.array(_cached(layer, "y")[n, :, oh, ow])}
    if layer.type == "maxpool":
        flat = _cached(layer, "argmax")[n, :, oh, ow]        # (C,) r*W + c
        Wd = x.shape[3]
        rows, cols = flat // Wd, flat % Wd
        winner = np.stack([rows, cols], axis=1)              # (C, 2)
        inside = winner - np.array([r0, c0])                 # (C, 2)
        mask = np.zeros(win.shape, dtype=x.dtype)
        mask[np.arange(C), inside[:, 0], inside[:, 1]] = 1
        out.update(kind="max", winner=winner, winner_in_window=inside, mask=mask)
    else:
        wgt = 1.0 / (Z * Z)
        out.update(kind="avg", weight=wgt, mask=np.full(win.shape, wgt, dtype=x.dtype))
    return out


def pool_backward_window(layer, k: int, n: int = 0) -> dict:
    """Backward sub-step k of a pool: dX (N, C, H, W) scattered by windows 0..k
    (all samples); dy (C,) at (oh, ow) for sample n; dX_step (C, Z, Z) this window's
    share for sample n (max: all of dy at the winner; avg: dy / size**2 everywhere).
    At the last k, dX equals the layer's dx."""
    oh, ow, count = _position(layer, k)
    Z, S = layer.size, layer.stride
    x = _cached(layer, "x")                                  # (N, C, H, W)
    dy = _cached(layer, "dy")                                # (N, C, OH, OW)
    N, C, H, Wd = x.shape
    g = _upto(dy, k)
    dX = np.zeros(x.shape, dtype=np.result_type(x, dy))
    if layer.type == "maxpool":
        argmax = _cached(layer, "argmax").reshape(N * C, -1)  # (N*C, OH*OW)
        rows = np.repeat(np.arange(N * C), argmax.shape[1])
        np.add.at(dX.reshape(N * C, H * Wd), (rows, argmax.reshape(-1)),
                  g.reshape(-1))
    else:
        for i in range(Z):
            for j in range(Z):
                rs, cs = _taps(layer, i, j)
                dX[:, :, rs, cs] += g / (Z * Z)
    step = pool_window(layer, k, n)["mask"] * dy[n, :, oh, ow][:, None, None]
    r0, c0 = oh * S, ow * S
    return {"k": int(k), "count": count, "oh": oh, "ow": ow,
            "rows": (r0, r0 + Z), "cols": (c0, c0 + Z),
            "dy": np.array(dy[n, :, oh, ow]), "dX_step": step, "dX": dX}


# -------------------------------------------------------------- receptive field

class Field(NamedTuple):
    """Half-open input rectangle [row0, row1) x [col0, col1), clipped to the image."""
    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0

    @property
    def width(self) -> int:
        return self.col1 - self.col0

    @property
    def size(self) -> tuple[int, int]:
        return (self.height, self.width)


_PASS_THROUGH = {"relu", "leaky_relu", "sigmoid", "tanh", "dropout"}


def _axis_set(idx: set[int], K: int, S: int, P: int, n: int) -> set[int]:
    """Input indices along one axis read by the output indices `idx` (padding dropped)."""
    out: set[int] = set()
    for o in idx:
        start = o * S - P
        out.update(i for i in range(start, start + K) if 0 <= i < n)
    return out


def _back(layer, rows: set[int], cols: set[int]) -> tuple[set[int], set[int]]:
    """Map output rows and columns of `layer` to the input rows and columns they read.
    Windows are rectangles, so rows and columns map separately and exactly (a strided
    layer reads every S-th window, leaving gaps that a bounding box would fill)."""
    if not rows or not cols:
        return set(), set()
    if layer.type in ("conv2d", "maxpool", "avgpool"):
        K, S, P = layer.kernel, layer.stride, layer.padding
        r = _axis_set(rows, K, S, P, int(layer.in_shape[1]))
        c = _axis_set(cols, K, S, P, int(layer.in_shape[2]))
        return (r, c) if r and c else (set(), set())
    if layer.type == "residual":                 # y = x + f(x): the union of both paths
        a = (rows, cols)
        for sub in reversed(layer.children()):
            a = _back(sub, *a)
        return rows | a[0], cols | a[1]
    if layer.type in _PASS_THROUGH or (len(layer.in_shape) == 3
                                       and tuple(layer.in_shape) == tuple(layer.out_shape)):
        return rows, cols
    raise TuinnError(f"{layer.name}: a receptive field is defined only through conv2d, "
                     f"pooling and elementwise layers, not {layer.type}")


def receptive_field(layers, layer_index: int, oh: int, ow: int) -> Field:
    """Input pixels of the network's input that output (oh, ow) of layers[layer_index]
    depends on, through every layer before it; clipped to the image.

    Returns Field(row0, row1, col0, col1), half-open (the bounding box of the pixels
    read), with .height/.width/.size; empty for a window over padding only.
    """
    if len(layers[0].in_shape) != 3:
        raise TuinnError("a receptive field needs an image input [channels, height, width]")
    rows, cols = {int(oh)}, {int(ow)}
    for layer in reversed(list(layers)[:layer_index + 1]):
        rows, cols = _back(layer, rows, cols)
    if not rows or not cols:
        return Field(0, 0, 0, 0)
    return Field(min(rows), max(rows) + 1, min(cols), max(cols) + 1)
