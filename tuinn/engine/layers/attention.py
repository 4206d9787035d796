"""Provides the attention layer: multi-head self-attention on (N, T, D), causal or not.

Parameters follow the contract: Wq, Wk, Wv, Wo (D, D) and bq, bk, bv, bo (D,), with
head h owning columns h*dk .. (h+1)*dk - 1 (dk = D / heads); the same arithmetic as
torch.nn.MultiheadAttention(D, heads, batch_first=True) with in_proj_weight =
concat(Wq^T, Wk^T, Wv^T), in_proj_bias = concat(bq, bk, bv), out_proj = (Wo^T, bo).

`cache` holds, for the views, after forward: "x" (N, T, D) the input, "Q", "K", "V"
(N, T, D) the projections, "scores" (N, heads, T, T) = q.k / sqrt(dk) without the mask,
"A" (N, heads, T, T) the attention weights (each query's row sums to 1; masked keys
0), "C" (N, T, D) the heads' weighted sums side by side, "y" (N, T, D); after
backward: "dy", "dC", "dQ", "dK", "dV" (N, T, D) and "dA", "dscores" (N, heads, T, T)
(0 at masked keys, whose weights are constants).
They are views into layer-owned buffers that the next forward/backward overwrites.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_bias, init_weight
from tuinn.engine.kernels.attention import attention_backward, attention_forward
from tuinn.engine.layers.base import Layer, register
from tuinn.errors import TuinnError

WEIGHTS = ("Wq", "Wk", "Wv", "Wo")
BIASES = ("bq", "bk", "bv", "bo")


@register
class Attention(Layer):
    """Self-attention: every position a query over the keys of its sequence."""

    type: ClassVar[str] = "attention"
    defaults: ClassVar[dict] = {"heads": 1, "causal": False, "init": "xavier",
                                "init_std": 0.01}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 2 or min(self.in_shape) < 1:
            raise TuinnError(f"{self.name}: attention needs a sequence input [time, features], "
                             f"got {list(self.in_shape)}", key="model.input",
                             hint="put it after an embedding, or use input = [time, features]")
        opts = {**self.defaults, **{k: v for k, v in self.options.items() if v is not None}}
        heads = opts["heads"]
        if isinstance(heads, bool) or not isinstance(heads, (int, np.integer)) or heads < 1:
            raise TuinnError(f"{self.name}: heads must be a positive integer, got {heads!r}",
                             key="heads")
        self.T, self.D = (int(d) for d in self.in_shape)
        if self.D % int(heads):
            fits = [h for h in range(1, self.D + 1) if self.D % h == 0]
            raise TuinnError(f"{self.name}: {heads} heads do not divide the width D = "
                             f"{self.D}", key="heads",
                             hint="heads must divide D: one of " + ", ".join(map(str, fits)))
        self.heads = int(heads)
        self.dk = self.D // self.heads
        self.causal = bool(opts["causal"])
        kind, std, D = opts["init"], float(opts["init_std"]), self.D
        for k in WEIGHTS:
            self.params[k] = init_weight(kind, (D, D), D, D, rng, self.dtype, std)   # (D, D)
        for k in BIASES:
            self.params[k] = init_bias((D,), self.dtype)                            # (D,)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return (self.T, D)

    def note(self) -> str:
        mask = ", causal" if self.causal else ""
        return f"{self.heads} head{'s' if self.heads > 1 else ''} of {self.dk}{mask}"

    def _p(self, k: str) -> np.ndarray:
        p = self.params[k]
        if p.dtype != self.dtype or not p.flags.c_contiguous:
            p = np.ascontiguousarray(p, dtype=self.dtype)
        return p

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        if x.ndim != 3 or x.shape[1:] != (self.T, self.D):
            raise TuinnError(f"{self.name}: attention expects input (N, {self.T}, {self.D}), "
                             f"got {x.shape}", key="model.input")
        N, T, D, h = x.shape[0], self.T, self.D, self.heads
        seq, grid = (N, T, D), (N, h, T, T)
        xb = self.buffer("x", seq)
        xb[...] = x                                           # kept for backward and views
        x = xb
        for k in ("dy", "dC", "dQ", "dK", "dV", "dA", "dscores"):
            self.cache.pop(k, None)                           # stale until backward
        Q, K, V, C, y = (self.buffer(k, seq) for k in ("Q", "K", "V", "C", "y"))
        S, A = self.buffer("scores", grid), self.buffer("A", grid)
        attention_forward(x, *(self._p(k) for k in WEIGHTS), *(self._p(k) for k in BIASES),
                          h, self.causal, Q, K, V, S, A, C, y)
        self.cache.update(x=x, Q=Q, K=K, V=V, scores=S, A=A, C=C, y=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self.cache.get("x")
        if x is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        if dy.shape != x.shape:
            raise ValueError(f"{self.name}: dy {dy.shape} does not fit y {x.shape}")
        seq, grid = x.shape, self.cache["A"].shape
        dyb = self.buffer("dy", seq)
        dyb[...] = dy
        dy = dyb
        dC, dQ, dK, dV, dx = (self.buffer(k, seq) for k in ("dC", "dQ", "dK", "dV", "dx"))
        dA, dS = self.buffer("dA", grid), self.buffer("dscores", grid)
        for k, p in self.params.items():
            g = self.grads.get(k)
            if g is None or g.shape != p.shape or g.dtype != self.dtype or not g.flags.c_contiguous:
                self.grads[k] = np.zeros(p.shape, self.dtype)
        c = self.cache
        attention_backward(dy, x, *(self._p(k) for k in WEIGHTS), self.heads, self.causal,
                           c["Q"], c["K"], c["V"], c["A"], c["C"], dC, dA, dS, dQ, dK, dV, dx,
                           *(self.grads[k] for k in WEIGHTS), *(self.grads[k] for k in BIASES))
        self.cache.update(dy=dy, dC=dC, dQ=dQ, dK=dK, dV=dV, dA=dA, dscores=dS)
        return dx
