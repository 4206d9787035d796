"""Provides the embedding kernels: the id lookup, learned positions, and skip-gram's dot.

Ids arrive as numbers of the network's dtype (the data's x); `ids_to_index` turns them
into int64 indices and reports the first one that is not an integer in [0, vocab), so a
bad id is an error message, never an out-of-bounds read. Forward and backward side by
side; outputs go into buffers the caller owns.
"""

from __future__ import annotations

from tuinn.engine.jit import kernel


@kernel
def ids_to_index(ids, vocab, index):
    """index = ids as int64 (flat walk of any shape); returns the flat position of the
    first id that is not an integer in [0, vocab) (NaN included), or -1."""
    src, dst = ids.reshape(ids.size), index.reshape(index.size)
    for i in range(src.size):
        v = src[i]
        if not (v >= 0.0 and v < vocab) or v != int(v):
            return i
        dst[i] = int(v)
    return -1


# ------------------------------------------------------------------ embedding
@kernel
def embedding_forward(index, W, y):
    """y[r] = W[index[r]]: index (M,), W (V, D), y (M, D)."""
    m = index.shape[0]
    d = W.shape[1]
    for r in range(m):
        k = index[r]
        for j in range(d):
            y[r, j] = W[k, j]


@kernel
def embedding_backward(index, dy, dW):
    """dW = 0, then dW[index[r]] += dy[r] (a repeated id gathers every row's gradient)."""
    v, d = dW.shape
    for k in range(v):
        for j in range(d):
            dW[k, j] = 0.0
    for r in range(index.shape[0]):
        k = index[r]
        for j in range(d):
            dW[k, j] += dy[r, j]


# ------------------------------------------------------------------ position
@kernel
def position_forward(x, P, y):
    """y[n] = x[n] + P: x, y (N, T, D), P (T, D)."""
    n, t, d = x.shape
    for i in range(n):
        for s in range(t):
            for j in range(d):
                y[i, s, j] = x[i, s, j] + P[s, j]


@kernel
def position_backward(dy, dP):
    """dP = the sum of dy over the batch (dx = dy needs no kernel)."""
    n, t, d = dy.shape
    for s in range(t):
        for j in range(d):
            acc = 0.0
            for i in range(n):
                acc += dy[i, s, j]
            dP[s, j] = acc


# ------------------------------------------------------------------ skipgram
@kernel
def skipgram_forward(index, W_in, W_out, y):
    """y[r, 0] = W_in[center] . W_out[word], (center, word) = index[r]: index (N, 2)."""
    d = W_in.shape[1]
    for r in range(index.shape[0]):
        c = index[r, 0]
        w = index[r, 1]
        acc = 0.0
        for j in range(d):
            acc += W_in[c, j] * W_out[w, j]
        y[r, 0] = acc


@kernel
def skipgram_backward(index, W_in, W_out, dy, dW_in, dW_out):
    """dW_in[center] += dy * W_out[word], dW_out[word] += dy * W_in[center] (from zero)."""
    v, d = W_in.shape
    for k in range(v):
        for j in range(d):
            dW_in[k, j] = 0.0
            dW_out[k, j] = 0.0
    for r in range(index.shape[0]):
        c = index[r, 0]
        w = index[r, 1]
        g = dy[r, 0]
        for j in range(d):
            dW_in[c, j] += g * W_out[w, j]
            dW_out[w, j] += g * W_in[c, j]
