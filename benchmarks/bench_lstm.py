"""Provides the LSTM training-speed benchmark: tuinn vs plain NumPy vs PyTorch CPU (by hand).

One iteration = forward + backward (BPTT) + an SGD update of an LSTM (input 8, hidden
64, T 32, batch 16) with a dense head (64 -> 1) and an MSE loss. Prints iterations per
second for float64 and float32 and the ratios. Columns: numpy, the textbook NumPy loop
(weight gradients accumulated per timestep); numpy-b, the same with the weight
gradients and dx as one matmul each after the loop; tuinn, the LSTM layer; torch-K,
torch.nn.LSTM + nn.Linear with K threads (when `import torch` works). Wall-clock: run
it on a quiet machine.

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


def numpy_step(x, y, p, batched=False):
    """Forward + BPTT + SGD with NumPy: per-timestep matmuls, vectorised gates.

    batched=False is the textbook loop (CS231n style: the weight gradients accumulate
    timestep by timestep); batched=True leaves them, and dx, to one matmul each after
    the loop, as tuinn's kernels do."""
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
    grads = {"Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros_like(b),
             "W": dW, "bd": dbd}
    dx = np.empty_like(x)
    for t in range(t_len - 1, -1, -1):
        i, f, g, o, tc = acts[t]
        dc = dc + dh * o * (1 - tc * tc)
        da[t, :, :H] = dc * g * i * (1 - i)
        da[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
        da[t, :, 2 * H:3 * H] = dc * i * (1 - g * g)
        da[t, :, 3 * H:] = dh * tc * o * (1 - o)
        if not batched:
            grads["Wx"] += x[:, t].T @ da[t]
            grads["Wh"] += hs[t].T @ da[t]
            grads["b"] += da[t].sum(0)
            dx[:, t] = da[t] @ Wx.T
        dh = da[t] @ Wh.T
        dc = dc * f
    if batched:
        da2 = da.reshape(t_len * n, 4 * H)
        xt = x.transpose(1, 0, 2).reshape(t_len * n, i_len)
        grads.update(Wx=xt.T @ da2, Wh=hs[:t_len].reshape(t_len * n, H).T @ da2, b=da2.sum(0))
        dx = (da2 @ Wx.T).reshape(t_len, n, i_len).transpose(1, 0, 2)
    _ = dx                                                         # a layer returns dx
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
def torch_runner(dtype):
    import torch
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H, batch_first=True).to(tdt)
    head = torch.nn.Linear(H, 1).to(tdt)
    opt = torch.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=LR)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        out, _ = lstm(x)                                           # (N, T, H)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        opt.step()
        return loss
    return step


def rates(runners: dict, seconds: float, rounds: int = 5) -> dict:
    """Iterations per second of each runner: the best of `rounds` turns, taken in turn
    (round robin), so that every runner meets the same background load."""
    best = dict.fromkeys(runners, 0.0)
    for fn in runners.values():
        for _ in range(3):
            fn()                                                   # warm up (and compile)
    for _ in range(rounds):
        for name, fn in runners.items():
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds / rounds:
                fn()
                n += 1
            best[name] = max(best[name], n / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per implementation")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    threads = torch.get_num_threads() if torch is not None else 0
    rows = []
    for dtype in (np.float64, np.float32):
        x, y, p = make_data(dtype)
        tm = TuinnModel(p, dtype)
        loss_t = tm.step(x, y)
        loss_n, g_n = numpy_step(x, y, {k: v.copy() for k, v in p.items()})
        _, g_b = numpy_step(x, y, {k: v.copy() for k, v in p.items()}, batched=True)
        assert all(np.allclose(g_n[k], g_b[k], rtol=1e-3, atol=1e-6) for k in g_n)
        pn = {k: v.copy() for k, v in p.items()}
        pb = {k: v.copy() for k, v in p.items()}
        runners = {"numpy": lambda: numpy_step(x, y, pn),
                   "numpy-b": lambda: numpy_step(x, y, pb, batched=True),
                   "tuinn": lambda: tm.step(x, y)}
        if torch is not None:
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            step = torch_runner(dtype)

            def on(n, step=step, xt=xt, yt=yt):
                def run():
                    torch.set_num_threads(n)
                    return step(xt, yt)
                return run
            runners["torch-1"] = on(1)
            if threads > 1:
                runners[f"torch-{threads}"] = on(threads)
        r = rates(runners, args.seconds)
        if torch is not None:
            torch.set_num_threads(threads)
        rows.append((np.dtype(dtype).name, r, abs(loss_t - loss_n) / abs(loss_n)))
    print(f"LSTM training iterations/second (best of 5 turns): input {I}, hidden {H}, T {T}, "
          f"batch {N}, dense head + mse + sgd; {os.cpu_count()} CPUs")
    names = list(rows[0][1])
    others = [k for k in names if k != "tuinn"]
    print(f"{'dtype':8}" + "".join(f"{k:>10}" for k in names)
          + "".join(f"{'tuinn/' + k:>15}" for k in others))
    for dtype, r, check in rows:
        print(f"{dtype:8}" + "".join(f"{r[k]:10.1f}" for k in names)
              + "".join(f"{r['tuinn'] / r[k]:15.2f}" for k in others)
              + f"   (first loss vs numpy: rel diff {check:.0e})")


if __name__ == "__main__":
    main()
