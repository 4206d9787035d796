"""Provides the PyTorch forward passes of attention and (bidirectional) rnn/lstm/gru on
tuinn's parameter names, shared by tests/test_trace_torch_seq.py and the committed-case
generator tests/fixtures/seqtorch/make_cases.py (both need torch; CI runs neither)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def attention(p: dict, name: str, x, heads: int, causal: bool):
    """Self-attention on x (N, T, D) as torch.nn.MultiheadAttention(D, heads,
    batch_first=True) with in_proj_weight = concat(Wq^T, Wk^T, Wv^T), in_proj_bias =
    concat(bq, bk, bv), out_proj = (Wo^T, bo); causal masks keys after the query."""
    T, D = x.shape[1], x.shape[2]
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=x.dtype), 1) if causal else None
    W = torch.cat([p[f"{name}.Wq"].T, p[f"{name}.Wk"].T, p[f"{name}.Wv"].T])
    b = torch.cat([p[f"{name}.bq"], p[f"{name}.bk"], p[f"{name}.bv"]])
    xt = x.transpose(0, 1)
    y, _ = F.multi_head_attention_forward(
        xt, xt, xt, D, heads, W, b, None, None, False, 0.0, p[f"{name}.Wo"].T,
        p[f"{name}.bo"], training=False, need_weights=False, attn_mask=mask)
    return y.transpose(0, 1)


def recurrent(p: dict, name: str, cell: str, x, hidden: int, bidirectional: bool,
              sequences: bool):
    """torch.nn.RNN/LSTM/GRU(batch_first=True) on x (N, T, I) with tuinn's Wx (I, G),
    Wh (H, G), b (G) (gru: bx, bh) and, bidirectional, their `_r` twins for the reverse
    direction. Returns every step's h (N, T, dirs*H) or the final states (N, dirs*H)."""
    G = GATES[cell] * hidden
    weights = []
    for s in ("", "_r") if bidirectional else ("",):
        bi = p[f"{name}.bx{s}"] if cell == "gru" else p[f"{name}.b{s}"]
        bh = p[f"{name}.bh{s}"] if cell == "gru" else torch.zeros(G, dtype=x.dtype)
        weights += [p[f"{name}.Wx{s}"].T, p[f"{name}.Wh{s}"].T, bi, bh]
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        x.shape[2], hidden, batch_first=True, bidirectional=bidirectional).to(x.dtype)
    names = [n for n, _ in mod.named_parameters()]
    out, h_n = torch.func.functional_call(mod, dict(zip(names, weights)), (x,))
    if cell == "lstm":
        h_n = h_n[0]
    if sequences:
        return out
    return torch.cat(list(h_n), dim=1)
