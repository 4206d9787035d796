"""Provides the LSTM training-speed benchmark: tuinn vs plain NumPy vs PyTorch CPU (by hand).

One iteration = forward + backward (BPTT) + an SGD update of an LSTM (input 8, hidden
64, T 32, batch 16) with a dense head (64 -> 1) and an MSE loss. Prints iterations per
second for float64 and float32 and the ratios. PyTorch is measured when `import torch`
works, with one thread and with its default thread count.

    .venv/bin/python benchmarks/bench_lstm.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tuinn.engine.layers.recurrent import LSTM  # noqa: E402

N, T, I, H = 16, 32, 8, 64
LR = 0.01


def make_data(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, I)).astype(dtype)               # (N, T, I)
    y = rng.standard_normal((N, 1)).astype(dtype)                  # (N, 1)
    p = {"Wx": rng.normal(0, 0.2, (I, 4 * H)), "Wh": rng.normal(0, 0.1, (H, 4 * H)),
         "b": np.zeros(4 * H), "W": rng.normal(0, 0.1, (H, 1)), "bd": np.zeros(1)}
    return x, y, {k: v.astype(dtype) for k, v in p.items()}


# ------------------------------------------------------------------ plain NumPy
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_step(x, y, p):
    """Forward + BPTT + SGD with NumPy: per-timestep matmuls, vectorised gates."""
    Wx, Wh, b, W, bd = p["Wx"], p["Wh"], p["b"], p["W"], p["bd"]
    n, t_len, i_len = x.shape
    hs = np.zeros((t_len + 1, n, H), x.dtype)
    cs = np.zeros((t_len + 1, n, H), x.dtype)
    xp = (x.reshape(n * t_len, i_len) @ Wx).reshape(n, t_len, 4 * H) + b
    acts = []
    for t in range(t_len):
        a = xp[:, t] + hs[t] @ Wh                                  # (N, 4H)
        i, f = _sig(a[:, :H]), _sig(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
        cs[t + 1] = f * cs[t] + i * g
        tc = np.tanh(cs[t + 1])
        hs[t + 1] = o * tc
        acts.append((i, f, g, o, tc))
    out = hs[t_len] @ W + bd                                       # (N, 1)
    loss = float(np.mean((out - y) ** 2))
    d = 2.0 * (out - y) / out.size
    dW, dbd = hs[t_len].T @ d, d.sum(0)
    dh, dc = d @ W.T, np.zeros((n, H), x.dtype)
    da = np.empty((t_len, n, 4 * H), x.dtype)
    for t in range(t_len - 1, -1, -1):
        i, f, g, o, tc = acts[t]
        dc = dc + dh * o * (1 - tc * tc)
        da[t, :, :H] = dc * g * i * (1 - i)
        da[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
        da[t, :, 2 * H:3 * H] = dc * i * (1 - g * g)
        da[t, :, 3 * H:] = dh * tc * o * (1 - o)
        dh = da[t] @ Wh.T
        dc = dc * f
    da2 = da.reshape(t_len * n, 4 * H)
    xt = x.transpose(1, 0, 2).reshape(t_len * n, i_len)
    grads = {"Wx": xt.T @ da2, "Wh": hs[:t_len].reshape(t_len * n, H).T @ da2,
             "b": da2.sum(0), "W": dW, "bd": dbd}
    _dx = (da2 @ Wx.T)                                             # dx, as a layer would
    for k, g in grads.items():
        p[k] -= LR * g
    return loss, grads


# ------------------------------------------------------------------ tuinn
class TuinnModel:
    def __init__(self, p, dtype):
        self.lstm = LSTM("lstm1", {"hidden": H, "return_sequences": False, "init": "zeros",
                                   "init_std": 0.0}, (T, I), np.random.default_rng(0), dtype)
        for k in ("Wx", "Wh", "b"):
            self.lstm.params[k][...] = p[k]
        self.W, self.bd = p["W"].copy(), p["bd"].copy()

    def step(self, x, y):
        h = self.lstm.forward(x, True, None)                       # (N, H)
        out = h @ self.W + self.bd
        loss = float(np.mean((out - y) ** 2))
        d = 2.0 * (out - y) / out.size
        dW, dbd = h.T @ d, d.sum(0)
        self.lstm.backward(d @ self.W.T)
        for k, g in self.lstm.grads.items():
            self.lstm.params[k] -= LR * g
        self.W -= LR * dW
        self.bd -= LR * dbd
        return loss


# ------------------------------------------------------------------ PyTorch
def torch_runner(p, dtype, threads):
    import torch
    if threads:
        torch.set_num_threads(threads)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    lstm = torch.nn.LSTM(I, H, batch_first=True).to(tdt)
    head = torch.nn.Linear(H, 1).to(tdt)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=LR)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        opt.step()
        return loss
    _ = p
    return step


def rate(fn, seconds):
    """Iterations per second: the best of 3 runs of about seconds/3 each."""
    for _ in range(3):
        fn()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3:
            fn()
            n += 1
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    try:
        import torch
        default_threads = torch.get_num_threads()
    except ImportError:
        torch = None
    rows = []
    for dtype in (np.float64, np.float32):
        x, y, p = make_data(dtype)
        tm = TuinnModel(p, dtype)
        loss_t = tm.step(x, y)
        loss_n, _ = numpy_step(x, y, {k: v.copy() for k, v in p.items()})
        r = {"dtype": np.dtype(dtype).name, "check": abs(loss_t - loss_n) / abs(loss_n)}
        pn = {k: v.copy() for k, v in p.items()}
        r["numpy"] = rate(lambda: numpy_step(x, y, pn), args.seconds)
        r["tuinn"] = rate(lambda: tm.step(x, y), args.seconds)
        if torch is not None:
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            for label, threads in (("torch-1", 1), (f"torch-{default_threads}", default_threads)):
                step = torch_runner(p, dtype, threads)
                r[label] = rate(lambda: step(xt, yt), args.seconds)
            torch.set_num_threads(default_threads)
        rows.append(r)
    print(f"LSTM training iterations/second: input {I}, hidden {H}, T {T}, batch {N}, "
          f"dense head + mse + sgd; {os.cpu_count()} CPUs")
    names = [k for k in rows[0] if k not in ("dtype", "check")]
    print(f"{'dtype':8}" + "".join(f"{k:>12}" for k in names)
          + f"{'tuinn/numpy':>13}" + "".join(f"{'tuinn/' + k:>15}" for k in names if
                                             k.startswith("torch")))
    for r in rows:
        line = f"{r['dtype']:8}" + "".join(f"{r[k]:12.1f}" for k in names)
        line += f"{r['tuinn'] / r['numpy']:13.2f}"
        line += "".join(f"{r['tuinn'] / r[k]:15.2f}" for k in names if k.startswith("torch"))
        print(line + f"   (loss check vs numpy: rel diff {r['check']:.1e})")


if __name__ == "__main__":
    main()
