"""Provides the calls of the recurrent kernels (tuinn/engine/kernels/recurrent.py): the
workspace a (cell, N, T, I, H) needs, and forward and BPTT on batch-first arrays.

Plain Python, so it lives apart from the kernels' module (Numba's cache tracks a
kernel's own file; nothing here is compiled).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels.recurrent import (GATES, gru_backward_kernel, gru_forward_kernel,
                                            lstm_backward_kernel, lstm_forward_kernel,
                                            rnn_backward_kernel, rnn_forward_kernel)

__all__ = ["GATES", "workspace_shapes", "recurrent_forward", "recurrent_backward"]


def workspace_shapes(cell: str, N: int, T: int, I: int, H: int) -> dict[str, tuple[int, ...]]:
    """The buffers one (cell, N, T, I, H) needs, by name; the kernels overwrite all of them
    (dxt and dx only when dx is asked for)."""
    G = GATES[cell] * H
    shapes = dict(xt=(T, N, I), xp=(T, N, G), rec=(N, G), hs=(T + 1, N, H), dh=(T, N, H),
                  dA=(T, N, G), dhrec=(N, H), dxt=(T, N, I), dx=(N, T, I))
    if cell == "lstm":
        shapes.update(gates=(T, N, G), cs=(T + 1, N, H), tc=(T, N, H), dc=(T, N, H))
    elif cell == "gru":
        shapes.update(gates=(T, N, G), hn=(T, N, H), dAh=(T, N, G))
    return shapes


def _c(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def recurrent_forward(cell: str, x: np.ndarray, params: dict[str, np.ndarray],
                      ws: dict[str, np.ndarray]) -> None:
    """Run the forward kernel of `cell` on x (N, T, I); the results stay in `ws`."""
    dt = ws["hs"].dtype
    x = _c(x, dt)
    Wx, Wh = _c(params["Wx"], dt), _c(params["Wh"], dt)
    if cell == "rnn":
        rnn_forward_kernel(x, Wx, Wh, _c(params["b"], dt), ws["xt"], ws["xp"], ws["rec"], ws["hs"])
    elif cell == "lstm":
        lstm_forward_kernel(x, Wx, Wh, _c(params["b"], dt), ws["xt"], ws["xp"], ws["rec"],
                            ws["gates"], ws["cs"], ws["hs"], ws["tc"])
    else:
        gru_forward_kernel(x, Wx, Wh, _c(params["bx"], dt), _c(params["bh"], dt), ws["xt"],
                           ws["xp"], ws["rec"], ws["gates"], ws["hn"], ws["hs"])


def recurrent_backward(cell: str, dy: np.ndarray, seq: bool, params: dict[str, np.ndarray],
                       ws: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                       need_dx: bool = True) -> np.ndarray | None:
    """BPTT for the last forward: dy is (N, T, H) if seq else (N, H). Writes every
    gradient into `grads` (replacing an entry that is not a contiguous array of the
    dtype) and returns dx (N, T, I), a view of ws["dx"]; None without `need_dx` (a
    first layer in run mode: nothing reads its dx)."""
    dt = ws["hs"].dtype
    N, H = ws["hs"].shape[1:]
    dy3 = _c(dy, dt).reshape(N, -1, H)                                # (N, T or 1, H)
    Wx, Wh = _c(params["Wx"], dt), _c(params["Wh"], dt)
    for k, p in params.items():
        g = grads.get(k)
        if g is None or g.shape != p.shape or g.dtype != dt or not g.flags.c_contiguous:
            grads[k] = np.zeros(p.shape, dt)
    common = (dy3, bool(seq), bool(need_dx), Wx, Wh, ws["xt"])
    if cell == "rnn":
        rnn_backward_kernel(*common, ws["hs"], ws["dh"], ws["dA"], ws["dhrec"],
                            ws["dxt"], ws["dx"], grads["Wx"], grads["Wh"], grads["b"])
    elif cell == "lstm":
        lstm_backward_kernel(*common, ws["gates"], ws["cs"], ws["hs"], ws["tc"],
                             ws["dh"], ws["dc"], ws["dA"], ws["dhrec"], ws["dxt"], ws["dx"],
                             grads["Wx"], grads["Wh"], grads["b"])
    else:
        gru_backward_kernel(*common, ws["gates"], ws["hn"], ws["hs"], ws["dh"],
                            ws["dA"], ws["dAh"], ws["dhrec"], ws["dxt"], ws["dx"],
                            grads["Wx"], grads["Wh"], grads["bx"], grads["bh"])
    return ws["dx"] if need_dx else None
