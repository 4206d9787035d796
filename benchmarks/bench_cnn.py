"""Provides a by-hand benchmark: training iterations per second of a small CNN.

Network: input 1x28x28, conv2d 8 filters 3x3 padding 1, ReLU, maxpool 2, dense 10,
softmax cross-entropy, batch 32, plain SGD. Three implementations start from the same
weights and batch (their iteration-0 losses are printed to show they agree):
  tuinn  - tuinn's layers and kernels (conv/pool here; dense, relu, loss and sgd from
           the colleagues' modules when importable, else a NumPy stand-in, as printed);
  numpy  - a NumPy reference: im2col by fancy indexing + matmul, reshape max-pool;
  torch  - PyTorch on the CPU, if `import torch` works.
Not a test. Run:  .venv/bin/python benchmarks/bench_cnn.py [--threads 1] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (default 1)")
parser.add_argument("--seconds", type=float, default=2.0, help="timing window per run")
parser.add_argument("--repeats", type=int, default=3, help="runs per case; the best counts")
parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
parser.add_argument("--numpy-tail", action="store_true",
                    help="use the NumPy stand-ins for dense/relu/loss/sgd in the tuinn run")
ARGS = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)           # before NumPy loads its BLAS

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

from tuinn.engine.layers.conv import Conv2D, MaxPool  # noqa: E402

N, C, H, F, K, CLASSES, LR = 32, 1, 28, 8, 3, 10, 0.01


def make_weights(dtype):
    rng = np.random.default_rng(0)
    return {"conv.W": rng.normal(0, np.sqrt(2 / 9), (F, C, K, K)).astype(dtype),
            "conv.b": np.zeros(F, dtype),
            "dense.W": rng.normal(0, np.sqrt(2 / 1568), (F * 14 * 14, CLASSES)).astype(dtype),
            "dense.b": np.zeros(CLASSES, dtype),
            "x": rng.standard_normal((N, C, H, H)).astype(dtype),
            "y": rng.integers(0, CLASSES, N).astype(np.int64)}


def np_softmax_ce(s, y):
    z = s - s.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    p[np.arange(len(y)), y] -= 1
    return float(loss), p / len(y)


# ------------------------------------------------------------------------ tuinn

def tuinn_step_factory(w, dtype):
    rng = np.random.default_rng(0)
    conv = Conv2D("conv2d1", {"filters": F, "kernel": K, "padding": 1}, (C, H, H), rng, dtype)
    conv.need_dx = False                          # the first layer needs no dx
    pool = MaxPool("maxpool1", {"size": 2}, (F, H, H), rng, dtype)
    conv.params["W"][...] = w["conv.W"]
    conv.params["b"][...] = w["conv.b"]
    tail = "numpy"
    if not ARGS.numpy_tail:
        try:
            from tuinn.engine.kernels.loss import softmax_ce
            from tuinn.engine.kernels.optim import sgd_step
            from tuinn.engine.layers.dense import Dense
            from tuinn.engine.layers.elementwise import ReLU
            tail = "tuinn"
        except ImportError as err:
            print(f"  (tuinn dense/relu/loss/sgd not importable: {err}; NumPy stand-ins)")
    if tail == "tuinn":
        relu = ReLU("relu1", {}, (F, H, H), rng, dtype)
        dense = Dense("dense1", {"units": CLASSES}, (F * 14 * 14,), rng, dtype)
        dense.params["W"][...] = w["dense.W"]
        dense.params["b"][...] = w["dense.b"]
        probs = np.empty((N, CLASSES), dtype)
        dout = np.empty((N, CLASSES), dtype)
        bad = np.empty(1, np.int64)
        layers = [conv, relu, pool, dense]

        def step(x, y):
            h = conv.forward(x, True, rng)
            h = relu.forward(h, True, rng)
            h = pool.forward(h, True, rng)
            s = dense.forward(h.reshape(N, -1), True, rng)
            loss = softmax_ce(s, y, probs, dout, bad)
            g = dense.backward(dout).reshape(N, F, 14, 14)
            g = pool.backward(g)
            g = relu.backward(g)
            conv.backward(g)
            for layer in layers:
                for k, p in layer.params.items():
                    sgd_step(p.reshape(-1), layer.grads[k].reshape(-1), LR)
            return loss
        return step, tail

    Wd, bd = w["dense.W"].copy(), w["dense.b"].copy()

    def step(x, y):
        h = conv.forward(x, True, rng)
        r = np.maximum(h, 0)
        p = pool.forward(r, True, rng)
        flat = p.reshape(N, -1)
        loss, ds = np_softmax_ce(flat @ Wd + bd, y)
        dflat = ds @ Wd.T
        Wd[...] -= LR * (flat.T @ ds)
        bd[...] -= LR * ds.sum(axis=0)
        g = pool.backward(dflat.reshape(N, F, 14, 14))
        conv.backward(g * (h > 0))
        conv.params["W"] -= LR * conv.grads["W"]
        conv.params["b"] -= LR * conv.grads["b"]
        return loss
    return step, tail


# ------------------------------------------------------------------------ numpy

def im2col_indices(c, h, w, k, p, s):
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    i0 = np.tile(np.repeat(np.arange(k), k), c)
    i1 = s * np.repeat(np.arange(oh), ow)
    j0 = np.tile(np.arange(k), k * c)
    j1 = s * np.tile(np.arange(ow), oh)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)             # (CKK, OH*OW)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    kk = np.repeat(np.arange(c), k * k).reshape(-1, 1)
    return kk, i, j


def numpy_step_factory(w, dtype):
    Wc, bc = w["conv.W"].copy(), w["conv.b"].copy()
    Wd, bd = w["dense.W"].copy(), w["dense.b"].copy()
    kk, ii, jj = im2col_indices(C, H, H, K, 1, 1)

    def step(x, y):
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        cols = xp[:, kk, ii, jj]                             # (N, CKK, P)
        h = (np.matmul(Wc.reshape(F, -1), cols) + bc[:, None]).reshape(N, F, H, H)
        r = np.maximum(h, 0)
        blocks = r.reshape(N, F, 14, 2, 14, 2)
        p = blocks.max(axis=(3, 5))                          # (N, F, 14, 14)
        flat = p.reshape(N, -1)
        loss, ds = np_softmax_ce(flat @ Wd + bd, y)
        dp = (ds @ Wd.T).reshape(N, F, 14, 1, 14, 1)
        Wd[...] -= LR * (flat.T @ ds)
        bd[...] -= LR * ds.sum(axis=0)
        mask = blocks == p[:, :, :, None, :, None]
        dh = ((mask * dp).reshape(N, F, H, H)) * (h > 0)
        dhf = dh.reshape(N, F, -1)
        Wc[...] -= LR * np.tensordot(dhf, cols, axes=([0, 2], [0, 2])).reshape(Wc.shape)
        bc[...] -= LR * dhf.sum(axis=(0, 2))
        return loss
    return step


# ------------------------------------------------------------------------ torch

def torch_step_factory(w, dtype):
    import torch
    torch.set_num_threads(ARGS.threads)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    net = torch.nn.Sequential(torch.nn.Conv2d(C, F, K, padding=1), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(F * 14 * 14, CLASSES)).to(tdt)
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(w["conv.W"]))
        net[0].bias.copy_(torch.from_numpy(w["conv.b"]))
        net[4].weight.copy_(torch.from_numpy(w["dense.W"].T.copy()))
        net[4].bias.copy_(torch.from_numpy(w["dense.b"]))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    cache = {}

    def step(x, y):
        if cache.get("x") is not x:
            cache["x"], cache["tx"], cache["ty"] = x, torch.from_numpy(x), torch.from_numpy(y)
        opt.zero_grad()
        loss = lossf(net(cache["tx"]), cache["ty"])
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ------------------------------------------------------------------------- main

def rate(step, x, y) -> float:
    """Best iterations/second over ARGS.repeats windows of ARGS.seconds."""
    best = 0.0
    for _ in range(ARGS.repeats):
        n, t0 = 0, time.perf_counter()
        while (t := time.perf_counter() - t0) < ARGS.seconds:
            step(x, y)
            n += 1
        best = max(best, n / t)
    return best


def main():
    dtypes = [np.float32, np.float64] if ARGS.dtype == "both" else [np.dtype(ARGS.dtype).type]
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    print(f"CNN 1x28x28 -> conv 8x3x3 pad 1 -> relu -> maxpool 2 -> dense 10, batch {N}, SGD;"
          f" threads {ARGS.threads}; numpy {np.__version__}"
          + (f"; torch {torch.__version__}" if have_torch else "; torch not installed"))
    for dtype in dtypes:
        w = make_weights(dtype)
        x, y = w["x"], w["y"]
        t0 = time.perf_counter()
        tstep, tail = tuinn_step_factory(w, dtype)
        steps = {f"tuinn ({tail} tail)": tstep, "numpy im2col": numpy_step_factory(w, dtype)}
        if have_torch:
            steps["torch cpu"] = torch_step_factory(w, dtype)
        losses = {name: step(x, y) for name, step in steps.items()}   # warm-up + compile
        print(f"\n{np.dtype(dtype).name}: first call (compile or cache load) "
              f"{time.perf_counter() - t0:.2f} s; iteration-0 loss "
              + ", ".join(f"{k.split()[0]} {v:.8f}" for k, v in losses.items()))
        for step in steps.values():
            for _ in range(3):
                step(x, y)
        rates = {name: rate(step, x, y) for name, step in steps.items()}
        base = rates[next(iter(rates))]
        for name, r in rates.items():
            print(f"  {name:<22} {r:9.1f} it/s   tuinn / this = {base / r:5.2f}")


if __name__ == "__main__":
    main()
