"""Provides a by-hand benchmark: run mode's training iterations per second on two MLPs.

Networks (dense + ReLU, softmax cross-entropy, SGD or Adam, lr 0.01):
  small  2-16-16-3     batch 64,  spiral data (640 points, 10 batches an epoch)
  large  64-256-256-10 batch 128, blobs data (1280 points, 10 batches an epoch)
in float64 and float32. Three implementations start from the same weights and train on
the same batches (tuinn's per-epoch shuffle):
  tuinn  - NetworkProgram.train_iteration() of a scenario built in memory (load_text):
           run mode's fast path, time-travel snapshots included;
  numpy  - a plain NumPy implementation of the same network and optimizer;
  torch  - PyTorch on the CPU (nn.Linear/ReLU, CrossEntropyLoss, torch.optim), when
           `import torch` works; 1 thread, and again with every core (torch-all).
Before timing, each runs --check iterations from the start and the largest loss
difference to tuinn is printed (they must agree). Timing: the best of --repeats
windows of --seconds, the implementations taking turns window by window. Everything runs single-threaded (NUMBA_NUM_THREADS and the BLAS
thread variables are set to 1 below, before NumPy, Numba or PyTorch load), except
the torch-all column. Not a test. Run:

    .venv/bin/python benchmarks/bench_mlp.py [--seconds 0.2] [--repeats 15] [--size small]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seconds", type=float, default=0.2, help="timing window")
parser.add_argument("--repeats", type=int, default=15,
                    help="windows per implementation and case; the best counts")
parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
parser.add_argument("--optim", choices=["sgd", "adam", "both"], default="both")
parser.add_argument("--size", choices=["small", "large", "both"], default="both")
parser.add_argument("--check", type=int, default=25, help="iterations compared before timing")
parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
parser.add_argument("--history", type=int, default=200, help="[debug] history of the scenario")
ARGS = parser.parse_args()
for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"                       # before NumPy/Numba/torch load their pools

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

from tuinn.engine.network import NetworkProgram  # noqa: E402
from tuinn.scenario.loader import load_text  # noqa: E402

LR = 0.01
SIZES = {  # name: (layer widths, batch, [data] table)
    "small": ((2, 16, 16, 3), 64, 'generator = "spiral"\nsamples = 640\nclasses = 3\nnoise = 0.2'),
    "large": ((64, 256, 256, 10), 128,
              'generator = "blobs"\nsamples = 1280\nclasses = 10\nnoise = 1.0'),
}


def scenario(size: str, dtype: str, optim: str) -> str:
    widths, batch, data = SIZES[size]
    layers = "\n".join(f'[[model.layers]]\ntype = "dense"\nunits = {w}\ninit = "he"\n\n'
                       f'[[model.layers]]\ntype = "relu"\n' for w in widths[1:-1])
    return f"""[scenario]
name = "bench {size}"
kind = "network"
seed = 0
dtype = "{dtype}"

[data]
{data}

[model]
input = [{widths[0]}]

{layers}
[[model.layers]]
type = "dense"
units = {widths[-1]}

[loss]
type = "softmax_ce"

[optimizer]
type = "{optim}"
lr = {LR}

[train]
epochs = 1000000
batch_size = {batch}

[debug]
history = {ARGS.history}
"""


class Batches:
    """tuinn's batches: a permutation per epoch from the seed (drawn once an epoch), rows
    gathered the fast way: ndarray.take (x[idx] is ~1 us slower), Tensor.index_select."""

    def __init__(self, prog: NetworkProgram, torch=None):
        self.torch = torch
        self.x, self.y = prog.x, prog.y
        if torch is not None:
            self.x, self.y = torch.from_numpy(prog.x), torch.from_numpy(prog.y)
        self.seed, self.bs, self.per_epoch = prog.seed, prog.batch_size, prog.per_epoch
        self.epoch, self.order = -1, None

    def __call__(self, i: int):
        epoch, b = divmod(i, self.per_epoch)
        if epoch != self.epoch:
            order = np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.x))
            self.epoch = epoch
            self.order = order if self.torch is None else self.torch.from_numpy(order)
        idx = self.order[b * self.bs:(b + 1) * self.bs]
        if self.torch is None:
            return self.x.take(idx, axis=0), self.y.take(idx, axis=0)
        return self.x.index_select(0, idx), self.y.index_select(0, idx)


# ------------------------------------------------------------------------ tuinn

def tuinn_factory(prog: NetworkProgram):
    return lambda: prog.train_iteration()


# ------------------------------------------------------------------------ numpy

def numpy_factory(prog: NetworkProgram, optim: str):
    """A plain NumPy MLP (dense + ReLU, softmax CE) with PyTorch's SGD or Adam rule."""
    params = prog.params()
    names = [k[:-2] for k in params if k.endswith(".W")]
    Ws = [params[n + ".W"].copy() for n in names]
    bs = [params[n + ".b"].copy() for n in names]
    plist = [p for pair in zip(Ws, bs) for p in pair]
    m = [np.zeros_like(p) for p in plist]
    v = [np.zeros_like(p) for p in plist]
    b1, b2, eps = 0.9, 0.999, 1e-8
    batches = Batches(prog)
    state = {"i": 0, "t": 0}
    last = len(Ws) - 1

    def step():
        x, y = batches(state["i"])
        state["i"] += 1
        n = len(y)
        rows = np.arange(n)
        hs, acts = [], [x]
        for li, (W, b) in enumerate(zip(Ws, bs)):
            h = acts[-1] @ W + b
            hs.append(h)
            if li < last:
                acts.append(np.maximum(h, 0))
        s = hs[-1]
        mx = s.max(axis=1, keepdims=True)
        e = np.exp(s - mx)
        z = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(z[:, 0]) - (s[rows, y] - mx[:, 0]))
        d = e / z
        d[rows, y] -= 1.0
        d /= n
        grads = [None] * len(plist)
        for li in range(last, -1, -1):
            grads[2 * li] = acts[li].T @ d
            grads[2 * li + 1] = d.sum(axis=0)
            if li:
                d = (d @ Ws[li].T) * (hs[li - 1] > 0)
        if optim == "sgd":
            for p, g in zip(plist, grads):
                p -= LR * g
        else:
            state["t"] += 1
            t = state["t"]
            c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
            for p, g, mm, vv in zip(plist, grads, m, v):
                mm *= b1
                mm += (1.0 - b1) * g
                vv *= b2
                vv += (1.0 - b2) * (g * g)
                p -= LR * (mm / c1) / (np.sqrt(vv / c2) + eps)
        return float(loss)
    return step


# ------------------------------------------------------------------------ torch

def torch_factory(prog: NetworkProgram, optim: str):
    import torch
    torch.set_num_threads(1)
    params = prog.params()
    names = [k[:-2] for k in params if k.endswith(".W")]
    tdt = torch.float32 if prog.dtype == np.float32 else torch.float64
    mods = []
    for i, n in enumerate(names):
        W = params[n + ".W"]
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).to(tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(params[n + ".b"]))
        mods.append(lin)
        if i < len(names) - 1:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = (torch.optim.SGD(net.parameters(), lr=LR) if optim == "sgd"
           else torch.optim.Adam(net.parameters(), lr=LR))
    lossf = torch.nn.CrossEntropyLoss()
    batches = Batches(prog, torch)
    state = {"i": 0}

    def step():
        x, y = batches(state["i"])
        state["i"] += 1
        opt.zero_grad()
        loss = lossf(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ------------------------------------------------------------------------- main

def rates(steps: dict, threads: dict) -> dict:
    """Best iterations/second of each step over ARGS.repeats windows of ARGS.seconds;
    the implementations take turns, so a busy moment hits them alike. `threads`: torch
    threads for a step's windows (else 1)."""
    best = dict.fromkeys(steps, 0.0)
    for _ in range(ARGS.repeats):
        for name, step in steps.items():
            if name in threads:
                import torch
                torch.set_num_threads(threads[name])
            n, t0 = 0, time.perf_counter()
            while (t := time.perf_counter() - t0) < ARGS.seconds:
                step()
                n += 1
            best[name] = max(best[name], n / t)
            if name in threads:
                torch.set_num_threads(1)
    return best


def main():
    pick = lambda a, all_: all_ if a == "both" else [a]   # noqa: E731
    try:
        import torch
        have_torch = not ARGS.no_torch
    except ImportError:
        have_torch = False
    cores = len(os.sched_getaffinity(0))
    import numba
    print(f"numpy {np.__version__}, numba {numba.__version__}"
          + (f", torch {torch.__version__} (torch-all: {cores} threads)" if have_torch
             else ", no torch") + f"; {cores} cores; best of {ARGS.repeats} x {ARGS.seconds} s")
    cols = ["tuinn", "numpy"] + (["torch", "torch-all"] if have_torch else [])
    head = (f"| {'case':<28} | " + " | ".join(f"{c + ' it/s':>14}" for c in cols)
            + " | tuinn/numpy |" + (" tuinn/torch |" if have_torch else ""))
    rows = []
    for size in pick(ARGS.size, ["small", "large"]):
        for dtype in pick(ARGS.dtype, ["float64", "float32"]):
            for optim in pick(ARGS.optim, ["sgd", "adam"]):
                text = scenario(size, dtype, optim)
                t0 = time.perf_counter()
                progs = {c: NetworkProgram(load_text(text, f"<bench-{size}>")) for c in cols}
                steps = {"tuinn": tuinn_factory(progs["tuinn"]),
                         "numpy": numpy_factory(progs["numpy"], optim)}
                if have_torch:
                    steps["torch"] = torch_factory(progs["torch"], optim)
                    steps["torch-all"] = torch_factory(progs["torch-all"], optim)
                losses = {c: [s() for _ in range(ARGS.check)] for c, s in steps.items()}
                ref = np.array(losses["tuinn"])
                diff = ", ".join(f"{c} {np.max(np.abs(np.array(v) - ref)):.1e}"
                                 for c, v in losses.items() if c != "tuinn")
                widths = "-".join(map(str, SIZES[size][0]))
                case = f"{widths} b{SIZES[size][1]} f{dtype[5:]} {optim}"
                print(f"{case}: setup + first {ARGS.check} iterations "
                      f"{time.perf_counter() - t0:.2f} s; loss {ref[0]:.6f} -> {ref[-1]:.6f};"
                      f" max |loss - tuinn's| over them: {diff}", flush=True)
                r = rates(steps, {"torch-all": cores} if have_torch else {})
                row = (f"| {case:<28} | " + " | ".join(f"{r[c]:14.0f}" for c in cols)
                       + f" | {r['tuinn'] / r['numpy']:11.2f} |"
                       + (f" {r['tuinn'] / r['torch']:11.2f} |" if have_torch else ""))
                rows.append(row)
                print(row, flush=True)
    print("\n" + head + "\n|" + "|".join("-" * (len(c) - 1) + ":" if i else "-" * len(c)
                                         for i, c in enumerate(head.split("|")[1:-1])) + "|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
