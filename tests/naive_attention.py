"""Provides a slow, obvious NumPy reference of multi-head self-attention (the contract's
formulas, head by head) and its backward pass, written out by hand."""

from __future__ import annotations

import numpy as np


def forward(x, p, heads, causal):
    """x (N, T, D) -> y (N, T, D) and the arrays the layer's views expose."""
    N, T, D = x.shape
    dk = D // heads
    Q, K, V = x @ p["Wq"] + p["bq"], x @ p["Wk"] + p["bk"], x @ p["Wv"] + p["bv"]
    S = np.zeros((N, heads, T, T))
    A = np.zeros((N, heads, T, T))
    C = np.zeros((N, T, D))
    mask = np.triu(np.full((T, T), -np.inf), 1) if causal else np.zeros((T, T))
    for h in range(heads):
        cols = slice(h * dk, (h + 1) * dk)
        S[:, h] = Q[:, :, cols] @ K[:, :, cols].transpose(0, 2, 1) / np.sqrt(dk)
        z = S[:, h] + mask
        e = np.exp(z - z.max(axis=2, keepdims=True))
        A[:, h] = e / e.sum(axis=2, keepdims=True)
        C[:, :, cols] = A[:, h] @ V[:, :, cols]
    y = C @ p["Wo"] + p["bo"]
    return y, dict(x=x, Q=Q, K=K, V=V, scores=S, A=A, C=C)


def backward(p, cache, dy, heads, causal):
    """Gradients of every parameter, dx, and the views' gradients (dC, dA, dscores...)."""
    x, Q, K, V, A, C = (cache[k] for k in ("x", "Q", "K", "V", "A", "C"))
    N, T, D = x.shape
    dk = D // heads
    g = {"Wo": np.einsum("ntd,nte->de", C, dy), "bo": dy.sum(axis=(0, 1))}
    dC = dy @ p["Wo"].T
    dQ, dK, dV = np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)
    dA, dS = np.zeros_like(A), np.zeros_like(A)
    allowed = np.tril(np.ones((T, T))) if causal else np.ones((T, T))
    for h in range(heads):
        cols = slice(h * dk, (h + 1) * dk)
        a = A[:, h]                                                    # (N, T, T)
        dA[:, h] = dC[:, :, cols] @ V[:, :, cols].transpose(0, 2, 1) * allowed  # masked: 0
        dV[:, :, cols] = a.transpose(0, 2, 1) @ dC[:, :, cols]
        dS[:, h] = a * (dA[:, h] - (a * dA[:, h]).sum(axis=2, keepdims=True))
        dQ[:, :, cols] = dS[:, h] @ K[:, :, cols] / np.sqrt(dk)
        dK[:, :, cols] = dS[:, h].transpose(0, 2, 1) @ Q[:, :, cols] / np.sqrt(dk)
    for w, b, d in (("Wq", "bq", dQ), ("Wk", "bk", dK), ("Wv", "bv", dV)):
        g[w] = np.einsum("ntd,nte->de", x, d)
        g[b] = d.sum(axis=(0, 1))
    dx = dQ @ p["Wq"].T + dK @ p["Wk"].T + dV @ p["Wv"].T
    return g, dx, dict(dC=dC, dA=dA, dscores=dS, dQ=dQ, dK=dK, dV=dV)
