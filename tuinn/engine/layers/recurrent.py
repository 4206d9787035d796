"""Provides the recurrent layers rnn, lstm and gru over batch-first sequences (N, T, I).

Parameters follow the contract: Wx (I, G*H), Wh (H, G*H) with the gate blocks side by
side (lstm i, f, g, o; gru r, z, n), b (G*H) or, for gru, bx and bh (3H). h0 = c0 = 0;
the output is the last h (N, H), or every h (N, T, H) with return_sequences.

`cache` holds the per-timestep arrays of the views, all (N, T, H): after forward
"h" (and lstm "i", "f", "g", "o", "c"; gru "r", "z", "n"); after backward "dh" (the
total dL/dh_t, including what flows back from t+1), lstm "dc", and the gradients of
the gate pre-activations: rnn "da", lstm "di", "df", "dg", "do", gru "dr", "dz", "dn".
They are views into layer-owned buffers that the next forward/backward overwrites
(copy one to keep it), as are the arrays forward and backward return.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels.recurrent import (GATES, recurrent_backward, recurrent_forward,
                                            workspace_shapes)
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError


class Recurrent(Layer):
    """Shared build/forward/backward; subclasses name the cell and its views."""

    defaults: ClassVar[dict] = {"return_sequences": False, "init": "xavier", "init_std": 0.01}
    biases: ClassVar[tuple[str, ...]] = ("b",)
    gate_names: ClassVar[tuple[str, ...]] = ()       # views of the post-activation gates
    grad_names: ClassVar[tuple[str, ...]] = ()       # views of the pre-activation gradients

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
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return (self.T, H) if self.seq else (H,)

    def substeps(self) -> int:
        return self.T

    def note(self) -> str:
        return f"{self.T} steps, " + ("every h" if self.seq else "last h")

    # ------------------------------------------------------------------ passes
    def _workspace(self, N: int) -> dict[str, np.ndarray]:
        shapes = workspace_shapes(self.type, N, self.T, self.I, self.H)
        return {k: self.buffer("ws." + k, s) for k, s in shapes.items()}

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.ndim != 3 or x.shape[1:] != (self.T, self.I):
            raise TuinnError(f"{self.name}: {self.type} expects input (N, {self.T}, {self.I}), "
                             f"got {x.shape}", key="model.input")
        N = x.shape[0]
        ws = self._workspace(N)
        recurrent_forward(self.type, x, self.params, ws)
        self._ws = ws
        hs = ws["hs"]                                                   # (T+1, N, H)
        for k in ("dh", "dc") + self.grad_names:
            self.cache.pop(k, None)                                     # stale until backward
        self.cache["h"] = hs[1:].transpose(1, 0, 2)                     # (N, T, H)
        self.cache.update(self._blocks(ws.get("gates"), self.gate_names))
        if self.type == "lstm":
            self.cache["c"] = ws["cs"][1:].transpose(1, 0, 2)
        if self.seq:
            y = self.buffer("y", (N, self.T, self.H))                   # (N, T, H)
            y[...] = self.cache["h"]
        else:
            y = self.buffer("y", (N, self.H))                           # (N, H)
            y[...] = hs[self.T]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        ws = getattr(self, "_ws", None)
        if ws is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        N = ws["hs"].shape[1]
        want = (N, self.T, self.H) if self.seq else (N, self.H)
        if dy.shape != want:
            raise ValueError(f"{self.name}: dy {dy.shape} does not fit y {want}")
        dx = recurrent_backward(self.type, dy, self.seq, self.params, ws, self.grads)
        self.cache["dh"] = ws["dh"].transpose(1, 0, 2)                  # (N, T, H)
        if self.type == "lstm":
            self.cache["dc"] = ws["dc"].transpose(1, 0, 2)
        self.cache.update(self._blocks(ws["dA"], self.grad_names))
        return dx                                                       # (N, T, I)

    def _blocks(self, a: np.ndarray | None, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The gate blocks of a (T, N, G*H) array as (N, T, H) views, by name."""
        H = self.H
        return {k: a[:, :, j * H:(j + 1) * H].transpose(1, 0, 2) for j, k in enumerate(names)}


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
