"""Provides attention_view: what the attention view shows of an attention layer at the
cursor: per head the weights A as a query-by-key map labelled with the tokens, and for
the selected cell the score q·k/√dk written out, the softmax row and the weighted sum of
the values; on the backward pass the same for the gradients.

Values come from the layer's cache (copied) and, for the score, from the layer's input
and the parameters this iteration's forward pass used (the tape keeps the old values
once the update steps have run). No UI imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn.engine.network import INPUT
from tuinn.engine.session import Session
from tuinn.tui.present_embed import vocab_of
from tuinn.tui.present_rnn import _owner, _step
from tuinn.tui.render.plot import compact

TERMS = 3                    # products of a dot product written out before "…"
DIMS = 4                     # entries of a vector written out before "…"


@dataclass
class AttentionData:
    layer: str
    phase: str                       # "forward" | "backward"
    heads: int
    head: int                        # the selected head
    T: int
    dk: int
    causal: bool
    sample: int
    batch: int
    tokens: list[str]                # one label per position (a token, or the position)
    A: np.ndarray                    # (heads, T, T) of the sample
    query: int
    key: int
    score: float                     # q·k/√dk of the selected cell (before the mask)
    masked: bool                     # the selected key is in the query's future (causal)
    dA: np.ndarray | None = None     # (heads, T, T) on the backward pass
    lines: list[tuple[str, str]] = field(default_factory=list)   # (text, "value" | "grad")
    collapsed: list[int] = field(default_factory=list)   # queries of the head whose row is
                                                          # (almost) all on one key


def attention_layer_of(session: Session) -> str | None:
    """The attention layer the cursor's forward or backward step runs (itself, or inside
    the residual block whose step it is), if any."""
    step = session.current
    if step is None or step.phase not in ("forward", "backward") or not step.layer:
        return None
    for layer in session.program.layers:
        if layer.name != step.layer:
            continue
        for la in [layer] + layer.sublayers():
            if la.type == "attention":
                return la.name
    return None


def _params(session: Session, layer) -> dict[str, np.ndarray]:
    """The parameters this iteration's forward pass used."""
    before = session.tape.extra.get("before", {})
    out = {}
    for k, v in layer.params.items():
        old = before.get(f"{layer.name}.{k}") if isinstance(before, dict) else None
        out[k] = np.asarray(v if old is None else old, dtype=np.float64)
    return out


def _tokens(session: Session, T: int, sample: int) -> list[str]:
    """The sample's tokens when the network's input is ids of a known vocabulary, else
    the positions 0..T-1."""
    prog = session.program
    vocab = vocab_of(prog)
    ids = session.tape.values.get(INPUT)
    if vocab is not None and ids is not None and np.ndim(ids) == 2 and np.shape(ids)[1] == T:
        row = np.asarray(ids)[sample]
        if np.all((row >= 0) & (row < len(vocab))):
            return [vocab[int(i)] for i in row]
    return [str(t) for t in range(T)]


def _v(x: float) -> str:
    return compact(float(x))


def _n(x: float) -> str:
    s = _v(x)
    return f"({s})" if s.startswith("-") else s


def _zero(row: np.ndarray) -> str:
    """The sum of a softmax row's gradient: 0 up to rounding (its entries' size)."""
    total, size = float(row.sum()), float(np.abs(row).max(initial=0.0))
    return "0" if abs(total) <= 1e-9 * size else _v(total)


def _vec(a: np.ndarray) -> str:
    shown = ", ".join(_v(x) for x in a[:DIMS])
    return f"[{shown}{', …' if a.size > DIMS else ''}]"


def _dot(a: np.ndarray, b: np.ndarray) -> str:
    terms = " + ".join(f"{_n(x)}·{_n(y)}" for x, y in zip(a[:TERMS], b[:TERMS]))
    return terms + (" + …" if a.size > TERMS else "")


def attention_view(session: Session, layer_name: str, head: int = 0, query: int | None = None,
                   key: int | None = None, sample: int = 0) -> AttentionData | None:
    """The view of `layer_name` at the cursor; None before its forward step has run.
    query defaults to the last position, key to the query's most attended key."""
    layer = next((la for la in session.program._all_layers() if la.name == layer_name), None)
    if layer is None or layer.type != "attention" or "A" not in layer.cache:
        return None
    owner = _owner(session, layer)
    fwd, bwd = _step(session, owner.name, "forward"), _step(session, owner.name, "backward")
    if fwd is None or not session.executed(fwd.index):
        return None
    backward = bwd is not None and session.executed(bwd.index) and "dA" in layer.cache
    c = {k: np.array(v, dtype=np.float64) for k, v in layer.cache.items()}   # copies
    N, T, h, dk = c["A"].shape[0], layer.T, layer.heads, layer.dk
    sample = min(max(0, sample), N - 1)
    head = min(max(0, head), h - 1)
    q = T - 1 if query is None else min(max(0, query), T - 1)
    A = c["A"][sample]                                               # (h, T, T)
    if key is None:
        key = int(np.argmax(A[head, q]))
    k = min(max(0, key), T - 1)
    p = _params(session, layer)
    cols = slice(head * dk, (head + 1) * dk)
    x = c["x"][sample]                                               # (T, D)
    qv = (x[q] @ p["Wq"] + p["bq"])[cols]                            # (dk,)
    kv = (x[k] @ p["Wk"] + p["bk"])[cols]
    dot = float(qv @ kv)
    score = dot / np.sqrt(dk)
    masked = layer.causal and k > q
    data = AttentionData(layer_name, "backward" if backward else "forward", h, head, T, dk,
                         layer.causal, sample, N, _tokens(session, T, sample), A, q, k,
                         score, masked)
    row = A[head, q]
    first = 1 if layer.causal else 0          # a causal query 0 has one key: nothing to choose
    data.collapsed = [int(i) for i in np.flatnonzero(A[head].max(axis=1) > 0.99) if i >= first]
    tok = data.tokens
    L = data.lines
    L.append((f"score(q {q} '{tok[q]}', k {k} '{tok[k]}') = q·k/√dk = ({_dot(qv, kv)}) / "
              f"√{dk} = {_v(dot)} / {_v(np.sqrt(dk))} = {_v(score)}"
              + ("   masked: a key after the query gets -inf, weight 0" if masked else ""),
              "value"))
    keys = range(q + 1) if layer.causal else range(T)
    scores = c["scores"][sample, head, q]
    L.append((f"A[{q}] = softmax(scores) = e^s / Σ e^s:  " + "  ".join(
        f"{tok[j]} {_v(scores[j])}→{_v(row[j])}" for j in keys), "value"))
    V = c["V"][sample][:, cols]                                      # (T, dk)
    out = c["C"][sample, q, cols]
    L.append((f"out[{q}] = Σ_k A[{q},k]·v_k = " + " + ".join(
        f"{_v(row[j])}·v{j}" for j in list(keys)[:TERMS]) + (" + …" if len(keys) > TERMS else "")
        + f" = {_vec(out)}", "value"))
    if backward:
        data.dA = c["dA"][sample]
        dC = c["dC"][sample, q, cols]                                # (dk,)
        dAr = c["dA"][sample, head, q]
        dS = c["dscores"][sample, head, q]
        mean = float(row @ dAr)
        L.append((f"∇A[{q},{k}] = ∇out[{q}]·v{k} = {_dot(dC, V[k])} = {_v(dAr[k])}", "grad"))
        L.append((f"∇s[{q},{k}] = A·(∇A - Σ_j A[{q},j]∇A[{q},j]) = {_n(row[k])}·({_v(dAr[k])}"
                  f" - {_n(mean)}) = {_v(dS[k])}", "grad"))
        dq = c["dQ"][sample, q, cols]
        L.append((f"∇q{q} = Σ_k ∇s[{q},k]·k_k/√dk = {_vec(dq)}   "
                  f"(∇s row: {_vec(dS[list(keys)])}, Σ ∇s = {_zero(dS)})", "grad"))
    return data
