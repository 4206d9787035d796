"""Provides slow, obvious NumPy references for the layered-network kernels (tests only).

Written for clarity, not speed: explicit loops where they make the definition plain.
"""

from __future__ import annotations

import math

import numpy as np


# ----------------------------------------------------------------- layers
def dense_forward(x, W, b):
    n, i_dim = x.shape
    o_dim = W.shape[1]
    y = np.zeros((n, o_dim))
    for r in range(n):
        for o in range(o_dim):
            y[r, o] = b[o] + sum(x[r, i] * W[i, o] for i in range(i_dim))
    return y


def dense_backward(x, W, dy):
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(W.shape[1])
    for r in range(x.shape[0]):
        for i in range(W.shape[0]):
            for o in range(W.shape[1]):
                dx[r, i] += dy[r, o] * W[i, o]
                dW[i, o] += x[r, i] * dy[r, o]
        db += dy[r]
    return dx, dW, db


def relu(x):
    return np.where(x > 0, x, 0.0)


def relu_grad(x, dy):
    return np.where(x > 0, dy, 0.0)


def leaky_relu(x, slope):
    return np.where(x > 0, x, slope * x)


def leaky_relu_grad(x, dy, slope):
    return np.where(x > 0, dy, slope * dy)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_grad(x, dy):
    s = sigmoid(x)
    return dy * s * (1.0 - s)


def tanh(x):
    return np.tanh(x)


def tanh_grad(x, dy):
    return dy * (1.0 - np.tanh(x) ** 2)


def dropout(x, mask):
    """mask: the kept/dropped pattern (1/0); scaled by 1/keep rate inside the layer."""
    return x * mask


# ----------------------------------------------------------------- losses
def softmax_ce(s, y):
    n = s.shape[0]
    total = 0.0
    ds = np.zeros(s.shape)
    for i in range(n):
        row = s[i] - s[i].max()
        p = np.exp(row) / np.exp(row).sum()
        total += -math.log(p[y[i]])
        ds[i] = p
        ds[i, y[i]] -= 1.0
    return total / n, ds / n


def hinge(s, y, margin):
    n, c = s.shape
    total = 0.0
    ds = np.zeros(s.shape)
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            m = s[i, j] - s[i, y[i]] + margin
            if m > 0:
                total += m
                ds[i, j] += 1.0
                ds[i, y[i]] -= 1.0
    return total / n, ds / n


def mse(out, t):
    d = out - t
    return float(np.mean(d ** 2)), 2.0 * d / d.size


def bce(s, t):
    """The textbook form -[t log p + (1 - t) log(1 - p)]: fine for moderate logits."""
    p = sigmoid(s)
    value = -np.mean(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    return float(value), (p - t) / s.size


def l2(lam, weights):
    return lam * sum(float((w ** 2).sum()) for w in weights)


# ------------------------------------------------------------- optimizers
class NaiveOptimizer:
    """PyTorch's update rules, one parameter at a time, no weight decay."""

    def __init__(self, type, lr, momentum=0.9, alpha=0.99, beta1=0.9, beta2=0.999, eps=1e-8):
        self.type, self.lr, self.mu, self.alpha = type, lr, momentum, alpha
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.state = {}

    def step(self, key, w, g):
        st = self.state.setdefault(key, {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0})
        if self.type == "sgd":
            return w - self.lr * g
        if self.type == "momentum":
            st["v"] = self.mu * st["v"] + g
            return w - self.lr * st["v"]
        if self.type == "rmsprop":
            st["v"] = self.alpha * st["v"] + (1 - self.alpha) * g * g
            return w - self.lr * g / (np.sqrt(st["v"]) + self.eps)
        st["t"] += 1
        t = st["t"]
        st["m"] = self.b1 * st["m"] + (1 - self.b1) * g
        st["v"] = self.b2 * st["v"] + (1 - self.b2) * g * g
        m_hat = st["m"] / (1 - self.b1 ** t)
        v_hat = st["v"] / (1 - self.b2 ** t)
        return w - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# --------------------------------------------------------------------- MLP
def mlp_softmax_l2(x, y, W1, b1, W2, b2, lam):
    """dense -> relu -> dense -> softmax_ce + lam * (|W1|^2 + |W2|^2): loss and grads."""
    h_pre = dense_forward(x, W1, b1)
    h = relu(h_pre)
    s = dense_forward(h, W2, b2)
    data_loss, ds = softmax_ce(s, y)
    loss = data_loss + l2(lam, [W1, W2])
    dh, dW2, db2 = dense_backward(h, W2, ds)
    dh_pre = relu_grad(h_pre, dh)
    _, dW1, db1 = dense_backward(x, W1, dh_pre)
    return loss, {"dense1.W": dW1 + 2 * lam * W1, "dense1.b": db1,
                  "dense2.W": dW2 + 2 * lam * W2, "dense2.b": db2}


# ------------------------------------------------------- finite differences
def numeric_grad(f, a, eps=1e-6):
    """Centred differences of the scalar f() with respect to every entry of a (in place)."""
    g = np.zeros(a.shape)
    flat = a.reshape(-1)
    gf = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gf[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0
