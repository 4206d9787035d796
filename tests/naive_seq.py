"""Provides slow, obvious NumPy references for gelu, embedding, position, layernorm,
batchnorm, seq_pool and skipgram (tests only): loops where they make the definition plain."""

from __future__ import annotations

import math

import numpy as np


def gelu(x):
    return np.vectorize(lambda v: v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))))(x)


def gelu_grad(x, dy):
    d = np.vectorize(lambda v: 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))
                     + v * math.exp(-v * v / 2.0) / math.sqrt(2.0 * math.pi))(x)
    return dy * d


def layernorm(x, gamma, beta, eps):
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows, dtype=float)
    for r, v in enumerate(rows):
        mu = sum(v) / len(v)
        var = sum((a - mu) ** 2 for a in v) / len(v)
        out[r] = gamma * (v - mu) / math.sqrt(var + eps) + beta
    return out.reshape(x.shape)


def layernorm_grads(x, gamma, eps, dy):
    """By the chain rule written out element by element (no vectorised shortcut)."""
    rows, drows = x.reshape(-1, x.shape[-1]), dy.reshape(-1, x.shape[-1])
    d = rows.shape[1]
    dx, dgamma, dbeta = np.zeros_like(rows, dtype=float), np.zeros(d), np.zeros(d)
    for r in range(len(rows)):
        v, g = rows[r], drows[r]
        mu = v.mean()
        s = math.sqrt(((v - mu) ** 2).mean() + eps)
        xh = (v - mu) / s
        dgamma += g * xh
        dbeta += g
        for i in range(d):                        # d y_j / d x_i
            for j in range(d):
                dxh = ((i == j) - 1.0 / d) / s - xh[j] * xh[i] / (d * s)
                dx[r, i] += g[j] * gamma[j] * dxh
    return dx.reshape(x.shape), dgamma, dbeta


def channels_last(x):
    """(N, C) -> (N, C); (N, T, C) -> (N*T, C); (N, C, H, W) -> (N*H*W, C)."""
    if x.ndim == 4:
        return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    return x.reshape(-1, x.shape[-1])


def batchnorm(x, gamma, beta, eps, running_mean, running_var, momentum, train):
    """(y, new running_mean, new running_var), as PyTorch's BatchNorm."""
    v = channels_last(x)
    if train:
        mean, var = v.mean(axis=0), v.var(axis=0)
        n = v.shape[0]
        unbiased = var * n / (n - 1) if n > 1 else var
        rm = (1 - momentum) * running_mean + momentum * mean
        rv = (1 - momentum) * running_var + momentum * unbiased
    else:
        mean, var, rm, rv = running_mean, running_var, running_mean, running_var
    y = gamma * (v - mean) / np.sqrt(var + eps) + beta
    if x.ndim == 4:
        n, c, h, w = x.shape
        y = np.moveaxis(y.reshape(n, h, w, c), -1, 1)
    return y.reshape(x.shape), rm, rv


def embedding(ids, W):
    n, t = ids.shape
    y = np.zeros((n, t, W.shape[1]))
    for i in range(n):
        for s in range(t):
            y[i, s] = W[int(ids[i, s])]
    return y


def embedding_grad(ids, dy, vocab):
    dW = np.zeros((vocab, dy.shape[-1]))
    for i in range(ids.shape[0]):
        for s in range(ids.shape[1]):
            dW[int(ids[i, s])] += dy[i, s]
    return dW


def seq_pool(x, mode):
    n, t, d = x.shape
    y = np.zeros((n, d))
    for i in range(n):
        for j in range(d):
            col = list(x[i, :, j])
            y[i, j] = (sum(col) / t if mode == "mean" else max(col) if mode == "max"
                       else col[-1])
    return y


def seq_pool_grad(x, dy, mode):
    n, t, d = x.shape
    dx = np.zeros(x.shape)
    for i in range(n):
        for j in range(d):
            if mode == "mean":
                dx[i, :, j] = dy[i, j] / t
            elif mode == "max":
                dx[i, list(x[i, :, j]).index(max(x[i, :, j])), j] = dy[i, j]
            else:
                dx[i, t - 1, j] = dy[i, j]
    return dx


def skipgram(ids, W_in, W_out):
    return np.array([[sum(W_in[int(c)] * W_out[int(w)])] for c, w in ids])


def skipgram_grads(ids, W_in, W_out, dy):
    dW_in, dW_out = np.zeros(W_in.shape), np.zeros(W_out.shape)
    for (c, w), g in zip(ids.astype(int), dy[:, 0]):
        dW_in[c] += g * W_out[w]
        dW_out[w] += g * W_in[c]
    return dW_in, dW_out
