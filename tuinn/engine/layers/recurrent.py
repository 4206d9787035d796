"""Provides the recurrent layers rnn, lstm and gru over batch-first sequences (N, T, I).

Parameters follow the contract: Wx (I, G*H), Wh (H, G*H) with the gate blocks side by
side (lstm i, f, g, o; gru r, z, n), b (G*H) or, for gru, bx and bh (3H). h0 = c0 = 0;
the output is the last h (N, H), or every h (N, T, H) with return_sequences.

bidirectional = true adds a second set of parameters with the suffix _r (Wx_r, Wh_r,
b_r; gru bx_r, bh_r) for a direction that runs from t = T-1 down to 0: the same
kernels on the time-reversed sequence. The output is then concat(h_fwd[t], h_bwd[t])
(N, T, 2H) with return_sequences, else concat(h_fwd[T-1], h_bwd[0]) (N, 2H).

`cache` holds the per-timestep arrays of the views, all (N, T, H): after forward
"h" (and lstm "i", "f", "g", "o", "c"; gru "r", "z", "n"); after backward "dh" (the
total dL/dh_t, including what flows back from t+1), lstm "dc", and the gradients of
the gate pre-activations: rnn "da", lstm "di", "df", "dg", "do", gru "dr", "dz", "dn".
They are views into layer-owned buffers that the next forward/backward overwrites
(copy one to keep it), as are the arrays forward and backward return. A bidirectional
layer keeps the forward direction's arrays under these names and the reverse
direction's under the same names with the suffix "_r" ("h_r", "f_r", "dh_r", ...),
indexed by the sequence's own t (so h_r[:, 0] is the reverse direction's final state).

Run mode sets `need_dx = False` on a first layer for its backward (tuinn/engine/run/
iteration.py): nothing reads that dx, and backward then returns None without computing
it (two small matrix products and a transpose of the kernels' work). The workspace's
buffers, and the cache's views of them, are made once per batch size and direction,
not on every pass (the views of a buffer stay valid while it lives).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels.recurrent_calls import (GATES, recurrent_backward,
                                                  recurrent_forward, workspace_shapes)
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


class Recurrent(Layer):
    """Shared build/forward/backward; subclasses name the cell and its views."""

    defaults: ClassVar[dict] = {"return_sequences": False, "bidirectional": False,
                                "init": "xavier", "init_std": 0.01}
    biases: ClassVar[tuple[str, ...]] = ("b",)
    gate_names: ClassVar[tuple[str, ...]] = ()       # views of the post-activation gates
    grad_names: ClassVar[tuple[str, ...]] = ()       # views of the pre-activation gradients
    need_dx: bool = True                             # False: backward skips dx (run mode)

    # ------------------------------------------------------------------ build
    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 2 or min(self.in_shape) < 1:
            raise TuinnError(f"{self.name}: {self.type} needs a sequence input [time, features], "
                             f"got {list(self.in_shape)}", key="model.input",
                             hint="for example input = [8, 4]: 8 timesteps of 4 features")
        hidden = self.options.get("hidden")
        if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1:
            raise TuinnError(f"{self.name}: hidden must be a positive integer, got {hidden!r}",
                             key="hidden")
        opts = {**self.defaults, **{k: v for k, v in self.options.items() if v is not None}}
        self.seq = bool(opts["return_sequences"])
        self.bi = bool(opts["bidirectional"])
        self.T, self.I = (int(d) for d in self.in_shape)
        self.H = H = int(hidden)
        G = GATES[self.type] * H
        kind, std = opts["init"], float(opts["init_std"])
        # fan_out is one gate's width H: each gate block is its own (in, H) matrix
        self.params["Wx"] = init_weight(kind, (self.I, G), self.I, H, rng, self.dtype,
                                        std)                            # (I, G*H)
        self.params["Wh"] = init_weight(kind, (H, G), H, H, rng, self.dtype, std)  # (H, G*H)
        for k in self.biases:
            self.params[k] = init_bias((G,), self.dtype)                # (G*H,)
        if self.bi:                                                     # the reverse direction
            self.params["Wx_r"] = init_weight(kind, (self.I, G), self.I, H, rng, self.dtype, std)
            self.params["Wh_r"] = init_weight(kind, (H, G), H, H, rng, self.dtype, std)
            for k in self.biases:
                self.params[k + "_r"] = init_bias((G,), self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        D = 2 if self.bi else 1
        return (self.T, D * H) if self.seq else (D * H,)

    def substeps(self) -> int:
        return self.T

    def note(self) -> str:
        both = ", both directions" if self.bi else ""
        return f"{self.T} steps, " + ("every h" if self.seq else "last h") + both

    # ------------------------------------------------------------------ passes
    def _workspace(self, N: int, prefix: str = "ws.") -> dict[str, np.ndarray]:
        """The kernels' buffers for batch size N (layer-owned, `buffer`), by name; the
        dict is kept per (prefix, N), the last few of them, as the buffers are."""
        kept = self.__dict__.setdefault("_ws_kept", {})
        ws = kept.get((prefix, N))
        if ws is None:
            shapes = workspace_shapes(self.type, N, self.T, self.I, self.H)
            ws = {k: self.buffer(prefix + k, s) for k, s in shapes.items()}
            if len(kept) >= 6:
                kept.clear()
            kept[(prefix, N)] = ws
        return ws

    def _direction(self, sfx: str) -> dict[str, np.ndarray]:
        """The parameters of one direction under the kernel's names (Wx, Wh, b...)."""
        return {k: self.params[k + sfx] for k in ("Wx", "Wh") + self.biases}

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.ndim != 3 or x.shape[1:] != (self.T, self.I):
            raise TuinnError(f"{self.name}: {self.type} expects input (N, {self.T}, {self.I}), "
                             f"got {x.shape}", key="model.input")
        N, T, H = x.shape[0], self.T, self.H
        for k in ("dh", "dc") + self.grad_names:
            self.cache.pop(k, None)                                     # stale until backward
            self.cache.pop(k + "_r", None)
        ws = self._workspace(N)
        recurrent_forward(self.type, x, self._direction(""), ws)
        self._ws = ws
        self.cache.update(self._views_of(ws, "")[0])
        if not self.bi:
            if self.seq:
                y = self.buffer("y", (N, T, H))                         # (N, T, H)
                y[...] = self.cache["h"]
            else:
                y = self.buffer("y", (N, H))                            # (N, H)
                y[...] = ws["hs"][T]
            return y
        wr = self._workspace(N, "wr.")                                  # time-reversed run
        recurrent_forward(self.type, x[:, ::-1], self._direction("_r"), wr)
        self._wr = wr
        self.cache.update(self._views_of(wr, "_r")[0])
        if self.seq:
            y = self.buffer("y", (N, T, 2 * H))                         # (N, T, 2H)
            y[:, :, :H] = self.cache["h"]
            y[:, :, H:] = self.cache["h_r"]                             # h_bwd[t]
        else:
            y = self.buffer("y", (N, 2 * H))                            # (N, 2H)
            y[:, :H] = ws["hs"][T]                                      # h_fwd[T-1]
            y[:, H:] = wr["hs"][T]                                      # h_bwd[0]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        ws = getattr(self, "_ws", None)
        if ws is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        N, H = ws["hs"].shape[1], self.H
        D = 2 if self.bi else 1
        want = (N, self.T, D * H) if self.seq else (N, D * H)
        if dy.shape != want:
            raise ValueError(f"{self.name}: dy {dy.shape} does not fit y {want}")
        dx = self._backward_direction(dy[..., :H], ws, "")              # (N, T, I) or None
        if not self.bi:
            return dx
        dyr = dy[:, ::-1, H:] if self.seq else dy[:, H:]                # in the run's order
        dxr = self._backward_direction(dyr, self._wr, "_r")             # (N, T, I) reversed
        if dx is None:
            return None
        out = self.buffer("dx", dx.shape)
        np.add(dx, dxr[:, ::-1], out=out)
        return out

    def _backward_direction(self, dy: np.ndarray, ws: dict, sfx: str) -> np.ndarray | None:
        """BPTT of one direction; its gradients land in self.grads[k + sfx]."""
        names = ("Wx", "Wh") + self.biases
        grads = {k: self.grads[k + sfx] for k in names}
        dx = recurrent_backward(self.type, dy, self.seq, self._direction(sfx), ws, grads,
                                self.need_dx)
        for k in names:
            self.grads[k + sfx] = grads[k]              # the same array unless it was replaced
        self.cache.update(self._views_of(ws, sfx)[1])
        return dx

    def _views_of(self, ws: dict, sfx: str) -> tuple[dict, dict]:
        """(forward views, backward views) of one direction's workspace, made once per
        workspace (kept with it, the last few)."""
        kept = self.__dict__.setdefault("_views_kept", {})
        got = kept.get((id(ws), sfx))
        if got is None or got[0] is not ws:
            rev = slice(None, None, -1) if sfx else slice(None)
            back = {"dh" + sfx: ws["dh"].transpose(1, 0, 2)[:, rev]}   # (N, T, H)
            if self.type == "lstm":
                back["dc" + sfx] = ws["dc"].transpose(1, 0, 2)[:, rev]
            back.update(self._blocks(ws["dA"], self.grad_names, sfx))
            got = (ws, self._views(ws, self.gate_names, sfx), back)
            if len(kept) >= 12:
                kept.clear()
            kept[(id(ws), sfx)] = got
        return got[1], got[2]

    def _views(self, ws: dict, names: tuple[str, ...], sfx: str) -> dict[str, np.ndarray]:
        """The forward arrays of one direction, (N, T, H) in the sequence's time order."""
        rev = slice(None, None, -1) if sfx else slice(None)
        out = {"h" + sfx: ws["hs"][1:].transpose(1, 0, 2)[:, rev]}
        out.update(self._blocks(ws.get("gates"), names, sfx))
        if self.type == "lstm":
            out["c" + sfx] = ws["cs"][1:].transpose(1, 0, 2)[:, rev]
        return out

    def _blocks(self, a: np.ndarray | None, names: tuple[str, ...],
                sfx: str = "") -> dict[str, np.ndarray]:
        """The gate blocks of a (T, N, G*H) array as (N, T, H) views, by name (+ sfx); the
        reverse direction's ("_r") are flipped back to the sequence's time order."""
        H = self.H
        rev = slice(None, None, -1) if sfx else slice(None)
        return {k + sfx: a[:, :, j * H:(j + 1) * H].transpose(1, 0, 2)[:, rev]
                for j, k in enumerate(names)}


@register
class RNN(Recurrent):
    """h = tanh(x Wx + h Wh + b); views "h", then "dh", "da"."""
    type: ClassVar[str] = "rnn"
    grad_names: ClassVar[tuple[str, ...]] = ("da",)


@register
class LSTM(Recurrent):
    """Gates i, f, g, o; c = f*c + i*g; h = o*tanh(c). Views i f g o c h, dh dc di df dg do."""
    type: ClassVar[str] = "lstm"
    gate_names: ClassVar[tuple[str, ...]] = ("i", "f", "g", "o")
    grad_names: ClassVar[tuple[str, ...]] = ("di", "df", "dg", "do")


@register
class GRU(Recurrent):
    """Gates r, z, n as PyTorch; h = (1-z)*n + z*h. Views r z n h, dh dr dz dn."""
    type: ClassVar[str] = "gru"
    biases: ClassVar[tuple[str, ...]] = ("bx", "bh")
    gate_names: ClassVar[tuple[str, ...]] = ("r", "z", "n")
    grad_names: ClassVar[tuple[str, ...]] = ("dr", "dz", "dn")
