"""Provides slow, obvious NumPy references of the recurrent kernels (rnn, lstm, gru).

One Python loop over timesteps, batch first, straight from the contract's formulas;
the backward pass is textbook BPTT. Each function returns what the layer exposes:
the output, the per-timestep arrays (N, T, H) and, for backward, grads and dx.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _out(hs, seq):
    return hs if seq else hs[:, -1]


def _dh_out(dy, t, T, seq):
    if seq:
        return dy[:, t]
    return dy if t == T - 1 else np.zeros_like(dy)


# ----------------------------------------------------------------------------- rnn

def rnn_forward(x, p, seq=False):
    N, T, _ = x.shape
    H = p["Wh"].shape[0]
    h = np.zeros((N, H))
    hs = np.zeros((N, T, H))
    for t in range(T):
        h = np.tanh(x[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        hs[:, t] = h
    return _out(hs, seq), {"h": hs}


def rnn_backward(x, p, cache, dy, seq=False):
    N, T, _ = x.shape
    hs = cache["h"]
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    dh_all, da_all = np.zeros_like(hs), np.zeros_like(hs)
    dnext = np.zeros_like(hs[:, 0])
    for t in reversed(range(T)):
        dh = dnext + _dh_out(dy, t, T, seq)
        da = dh * (1 - hs[:, t] ** 2)
        hprev = hs[:, t - 1] if t > 0 else np.zeros_like(dh)
        g["Wx"] += x[:, t].T @ da
        g["Wh"] += hprev.T @ da
        g["b"] += da.sum(0)
        dx[:, t] = da @ p["Wx"].T
        dnext = da @ p["Wh"].T
        dh_all[:, t], da_all[:, t] = dh, da
    return g, dx, {"dh": dh_all, "da": da_all}


# ---------------------------------------------------------------------------- lstm

def lstm_forward(x, p, seq=False):
    N, T, _ = x.shape
    H = p["Wh"].shape[0]
    h, c = np.zeros((N, H)), np.zeros((N, H))
    cache = {k: np.zeros((N, T, H)) for k in ("i", "f", "g", "o", "c", "h")}
    for t in range(T):
        a = x[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"]
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            cache[k][:, t] = v
    return _out(cache["h"], seq), cache


def lstm_backward(x, p, cache, dy, seq=False):
    N, T, _ = x.shape
    H = p["Wh"].shape[0]
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    out = {k: np.zeros((N, T, H)) for k in ("dh", "dc", "di", "df", "dg", "do")}
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        i, f, gg, o, c = (cache[k][:, t] for k in "ifgoc")
        c_prev = cache["c"][:, t - 1] if t > 0 else np.zeros((N, H))
        h_prev = cache["h"][:, t - 1] if t > 0 else np.zeros((N, H))
        dh = dh_next + _dh_out(dy, t, T, seq)
        dc = dc_next + dh * o * (1 - np.tanh(c) ** 2)
        di = dc * gg * i * (1 - i)
        df = dc * c_prev * f * (1 - f)
        dg = dc * i * (1 - gg ** 2)
        do = dh * np.tanh(c) * o * (1 - o)
        da = np.concatenate([di, df, dg, do], axis=1)
        g["Wx"] += x[:, t].T @ da
        g["Wh"] += h_prev.T @ da
        g["b"] += da.sum(0)
        dx[:, t] = da @ p["Wx"].T
        dh_next = da @ p["Wh"].T
        dc_next = dc * f
        for k, v in zip(("dh", "dc", "di", "df", "dg", "do"), (dh, dc, di, df, dg, do)):
            out[k][:, t] = v
    return g, dx, out


# ----------------------------------------------------------------------------- gru

def gru_forward(x, p, seq=False):
    N, T, _ = x.shape
    H = p["Wh"].shape[0]
    h = np.zeros((N, H))
    cache = {k: np.zeros((N, T, H)) for k in ("r", "z", "n", "h", "hn")}
    for t in range(T):
        ax = x[:, t] @ p["Wx"] + p["bx"]
        ah = h @ p["Wh"] + p["bh"]
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        h = (1 - z) * n + z * h
        for k, v in zip(("r", "z", "n", "h", "hn"), (r, z, n, h, ah[:, 2 * H:])):
            cache[k][:, t] = v
    return _out(cache["h"], seq), cache


def gru_backward(x, p, cache, dy, seq=False):
    N, T, _ = x.shape
    H = p["Wh"].shape[0]
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    out = {k: np.zeros((N, T, H)) for k in ("dh", "dr", "dz", "dn")}
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        r, z, n, hn = (cache[k][:, t] for k in ("r", "z", "n", "hn"))
        h_prev = cache["h"][:, t - 1] if t > 0 else np.zeros((N, H))
        dh = dh_next + _dh_out(dy, t, T, seq)
        dn = dh * (1 - z) * (1 - n ** 2)            # d pre-activation of n
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_prev - n) * z * (1 - z)
        dax = np.concatenate([dr, dz, dn], axis=1)
        dah = np.concatenate([dr, dz, dn * r], axis=1)
        g["Wx"] += x[:, t].T @ dax
        g["bx"] += dax.sum(0)
        g["Wh"] += h_prev.T @ dah
        g["bh"] += dah.sum(0)
        dx[:, t] = dax @ p["Wx"].T
        dh_next = dah @ p["Wh"].T + dh * z
        for k, v in zip(("dh", "dr", "dz", "dn"), (dh, dr, dz, dn)):
            out[k][:, t] = v
    return g, dx, out


FORWARD = {"rnn": rnn_forward, "lstm": lstm_forward, "gru": gru_forward}
BACKWARD = {"rnn": rnn_backward, "lstm": lstm_backward, "gru": gru_backward}
