"""Provides the end-to-end training benchmark: the whole `tuinn train` process vs PyTorch CPU eager (by hand).

Each workload (W1-W4 of issue 11; W3 in float64 and float32) is written as a scenario
with an .npz of its data and one of its initial parameters, so tuinn and PyTorch train
the same model from the same weights on the same batches in the same order (tuinn's
seeded permutation per epoch, replayed here for PyTorch). tuinn is timed as users run
it: `python -m tuinn train FILE --epochs E --json` as a process, at two epoch counts;
the difference, divided by the iterations it adds, is the time per iteration (start-up,
loading and compiling cancel out). PyTorch runs in this process: the same epochs of
`zero_grad`, forward, loss, `backward`, `step` and `loss.item()` per batch. One thread
everywhere: OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS=1 (set here before NumPy loads, and
passed to the tuinn processes) and torch.set_num_threads(1). Each time is the minimum
of `--repeats` runs (the machine may be shared: the minimum is the least disturbed).

Printed per workload: tuinn and PyTorch microseconds per iteration, wall-clock (what
the issue's goals are stated in) and CPU time (the tuinn processes' user + system time
from getrusage, PyTorch's process time: less disturbed by other load on a shared
machine), their ratios (lower is better for tuinn), the goal, and the mean training
loss of the last epoch of the shorter run from both, which must agree (float rounding
only: summation order in BLAS and the reductions).

    .venv/bin/python benchmarks/bench_train.py [--only W4] [--repeats 3] [--scale 1.0]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

SEED = 7


@dataclass
class Workload:
    key: str
    title: str
    dtype: str
    batch: int
    samples: int
    epochs: tuple[int, int]      # the two epoch counts tuinn is timed at
    goal: float


WORKLOADS = [
    Workload("W1", "MLP 2-16-16-3, batch 64, SGD, float64", "float64", 64, 64 * 100, (2, 1002), 0.03),
    Workload("W2", "MLP 64-256-256-10, batch 128, SGD, float64", "float64", 128, 128 * 20, (1, 81), 0.8),
    Workload("W3", "LSTM 8-64, T 32, batch 16, dense 1, MSE, Adam, float64", "float64", 16, 16 * 20,
             (1, 61), 0.3),
    Workload("W3f", "the same LSTM in float32", "float32", 16, 16 * 20, (1, 101), 0.5),
    Workload("W4", "CNN 1x28x28, conv 8 3x3 pad 1, relu, maxpool 2, dense 10, batch 32, SGD, "
                   "float64", "float64", 32, 32 * 20, (1, 61), 0.25),
]


# ------------------------------------------------------------------ data and weights
def make(w: Workload) -> tuple[str, dict, dict]:
    """(layers TOML, data {"x", "y"}, initial params {"name.key": array}) of a workload."""
    rng = np.random.default_rng(SEED)
    dt = np.dtype(w.dtype)
    n = w.samples
    if w.key in ("W1", "W2"):
        sizes = (2, 16, 16, 3) if w.key == "W1" else (64, 256, 256, 10)
        x = rng.standard_normal((n, sizes[0]))
        y = np.argmax(x @ rng.standard_normal((sizes[0], sizes[-1])), axis=1)
        layers, params = "", {}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers += f'[[model.layers]]\ntype = "dense"\nname = "fc{i}"\nunits = {b}\n'
            if i < len(sizes) - 1:
                layers += '[[model.layers]]\ntype = "relu"\n'
            params[f"fc{i}.W"] = rng.normal(0, np.sqrt(2.0 / a), (a, b))
            params[f"fc{i}.b"] = np.zeros(b)
        return layers, {"x": x.astype(dt), "y": y.astype(np.int64)}, \
            {k: v.astype(dt) for k, v in params.items()}
    if w.key.startswith("W3"):
        T, I, H = 32, 8, 64
        x = rng.standard_normal((n, T, I))
        y = np.tanh(x[:, :4, 0].sum(axis=1, keepdims=True) / 2)            # (N, 1)
        layers = ('[[model.layers]]\ntype = "lstm"\nname = "lstm"\nhidden = 64\n'
                  '[[model.layers]]\ntype = "dense"\nname = "head"\nunits = 1\n')
        k = 1 / np.sqrt(H)
        params = {"lstm.Wx": rng.uniform(-k, k, (I, 4 * H)), "lstm.Wh": rng.uniform(-k, k, (H, 4 * H)),
                  "lstm.b": np.zeros(4 * H), "head.W": rng.uniform(-k, k, (H, 1)),
                  "head.b": np.zeros(1)}
        return layers, {"x": x.astype(dt), "y": y.astype(dt)}, \
            {k: v.astype(dt) for k, v in params.items()}
    x = rng.standard_normal((n, 1, 28, 28))
    y = np.argmax(x.reshape(n, -1) @ rng.standard_normal((784, 10)), axis=1)
    layers = ('[[model.layers]]\ntype = "conv2d"\nname = "conv"\nfilters = 8\nkernel = 3\n'
              'padding = 1\n[[model.layers]]\ntype = "relu"\n[[model.layers]]\ntype = "maxpool"\n'
              'size = 2\n[[model.layers]]\ntype = "flatten"\n'
              '[[model.layers]]\ntype = "dense"\nname = "fc"\nunits = 10\n')
    params = {"conv.W": rng.normal(0, np.sqrt(2 / 9), (8, 1, 3, 3)), "conv.b": np.zeros(8),
              "fc.W": rng.normal(0, np.sqrt(2 / 1568), (1568, 10)), "fc.b": np.zeros(10)}
    return layers, {"x": x.astype(dt), "y": y.astype(np.int64)}, \
        {k: v.astype(dt) for k, v in params.items()}


def write_scenario(w: Workload, folder: str) -> str:
    layers, data, params = make(w)
    np.savez(os.path.join(folder, f"{w.key}-data.npz"), **data)
    np.savez(os.path.join(folder, f"{w.key}-params.npz"), **params)
    inp = list(data["x"].shape[1:])
    w3 = w.key.startswith("W3")
    text = f"""[scenario]
name = "bench {w.key}"
kind = "network"
seed = {SEED}
dtype = "{w.dtype}"
[data]
file = "{w.key}-data.npz"
[model]
input = {inp}
{layers}
[params]
file = "{w.key}-params.npz"
[loss]
type = "{'mse' if w3 else 'softmax_ce'}"
[optimizer]
type = "{'adam' if w3 else 'sgd'}"
lr = {0.001 if w3 else 0.01}
[train]
epochs = 1
batch_size = {w.batch}
shuffle = true
[debug]
history = 200
"""
    path = os.path.join(folder, f"{w.key}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


# ------------------------------------------------------------------ tuinn, as a process
def child_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_tuinn(path: str, epochs: int) -> tuple[float, float, list[float]]:
    """(wall seconds the whole `tuinn train` process took, its CPU seconds, the epochs'
    mean losses)."""
    cmd = [sys.executable, "-m", "tuinn", "train", path, "--epochs", str(epochs), "--json"]
    c0, t0 = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    seconds, cpu = time.perf_counter() - t0, child_cpu() - c0
    if done.returncode != 0:
        raise SystemExit(f"tuinn train failed:\n{done.stderr}")
    losses = [json.loads(line)["loss"] for line in done.stdout.splitlines()
              if line.startswith("{") and '"epoch"' in line]
    return seconds, cpu, losses


# ------------------------------------------------------------------ PyTorch, in-process
def torch_model(w: Workload, params: dict):
    import torch
    from torch import nn
    t = lambda a: torch.from_numpy(np.array(a, order="C"))   # a copy: runs start alike  # noqa: E731
    if w.key in ("W1", "W2"):
        mods, i = [], 1
        while f"fc{i}.W" in params:
            W = params[f"fc{i}.W"]
            lin = nn.Linear(W.shape[0], W.shape[1])
            mods.append(lin)
            with torch.no_grad():
                lin.weight = nn.Parameter(t(W.T.copy()))
                lin.bias = nn.Parameter(t(params[f"fc{i}.b"]))
            mods.append(nn.ReLU())
            i += 1
        return nn.Sequential(*mods[:-1])
    if w.key.startswith("W3"):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(8, 64, batch_first=True)
                self.head = nn.Linear(64, 1)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1])
        net = Net()
        with torch.no_grad():
            net.lstm.weight_ih_l0 = nn.Parameter(t(params["lstm.Wx"].T.copy()))
            net.lstm.weight_hh_l0 = nn.Parameter(t(params["lstm.Wh"].T.copy()))
            net.lstm.bias_ih_l0 = nn.Parameter(t(params["lstm.b"]))
            # tuinn's LSTM has one bias: PyTorch's second stays 0 and untrained (trained,
            # it would take a second step of the same gradient: twice tuinn's)
            net.lstm.bias_hh_l0 = nn.Parameter(t(np.zeros_like(params["lstm.b"])),
                                               requires_grad=False)
            net.head.weight = nn.Parameter(t(params["head.W"].T.copy()))
            net.head.bias = nn.Parameter(t(params["head.b"]))
        net.lstm.flatten_parameters()
        return net
    conv = nn.Conv2d(1, 8, 3, padding=1)
    fc = nn.Linear(1568, 10)
    with torch.no_grad():
        conv.weight = nn.Parameter(t(params["conv.W"]))
        conv.bias = nn.Parameter(t(params["conv.b"]))
        fc.weight = nn.Parameter(t(params["fc.W"].T.copy()))
        fc.bias = nn.Parameter(t(params["fc.b"]))
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fc)


def orders(n: int, epochs: int) -> list[np.ndarray]:
    """tuinn's batch order: a seeded permutation per epoch (NetworkProgram.batch_rows)."""
    return [np.random.default_rng([SEED, 1, e]).permutation(n) for e in range(epochs)]


def run_torch(w: Workload, epochs: int, repeats: int) -> tuple[float, float, list[float]]:
    """(best wall and best CPU seconds per iteration over `repeats` runs of `epochs`
    epochs, the first run's epoch mean losses)."""
    import torch
    torch.set_num_threads(1)
    _, data, params = make(w)
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    w3 = w.key.startswith("W3")
    n, b = len(data["x"]), w.batch
    per_epoch = -(-n // b)
    batches = [torch.from_numpy(o) for o in orders(n, epochs)]
    best = best_cpu = float("inf")
    first = None
    for _ in range(repeats + 1):                   # the first run warms up
        net = torch_model(w, params)
        opt = (torch.optim.Adam(net.parameters(), lr=0.001) if w3
               else torch.optim.SGD(net.parameters(), lr=0.01))
        lossf = torch.nn.MSELoss() if w3 else torch.nn.CrossEntropyLoss()
        means = []
        c0, t0 = time.process_time(), time.perf_counter()
        for order in batches:
            total = 0.0
            for k in range(per_epoch):
                rows = order[k * b:(k + 1) * b]
                xb, yb = x.index_select(0, rows), y.index_select(0, rows)
                opt.zero_grad()
                loss = lossf(net(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item()
            means.append(total / per_epoch)
        seconds = (time.perf_counter() - t0) / (epochs * per_epoch)
        cpu = (time.process_time() - c0) / (epochs * per_epoch)
        if first is None:
            first = means
        else:
            best, best_cpu = min(best, seconds), min(best_cpu, cpu)
    return best, best_cpu, first


# ------------------------------------------------------------------ the table
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="workload keys (W1 W2 W3 W3f W4)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the longer run's epochs")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tuinn-bench-") as folder:
        for w in WORKLOADS:
            if args.only and w.key not in args.only:
                continue
            e1, e2 = w.epochs
            e2 = e1 + max(1, int(round((e2 - e1) * args.scale)))
            path = write_scenario(w, folder)
            run_tuinn(path, e1)                    # warm the Numba cache
            short = [run_tuinn(path, e1) for _ in range(args.repeats)]
            long = [run_tuinn(path, e2) for _ in range(args.repeats)]
            iterations = (e2 - e1) * -(-w.samples // w.batch)
            tu = (min(r[0] for r in long) - min(r[0] for r in short)) / iterations
            tu_cpu = (min(r[1] for r in long) - min(r[1] for r in short)) / iterations
            losses = long[0][2]
            to, to_cpu, tlosses = run_torch(w, e1 + -(-(e2 - e1) // 4), args.repeats)
            lt, lp = losses[e1 - 1], tlosses[e1 - 1]
            rows.append((w, tu, to, tu_cpu, to_cpu, lt, lp))
            print(f"{w.key:4} wall: tuinn {tu * 1e6:8.1f} us/it, torch {to * 1e6:8.1f} us/it, "
                  f"ratio {tu / to:.3f};  cpu: tuinn {tu_cpu * 1e6:8.1f}, torch "
                  f"{to_cpu * 1e6:8.1f}, ratio {tu_cpu / to_cpu:.3f} (goal <= {w.goal});  "
                  f"loss after epoch {e1}: tuinn {lt:.12g} torch {lp:.12g} "
                  f"(diff {abs(lt - lp):.1e})", flush=True)
    print()
    print("| workload | tuinn us/it | torch us/it | ratio | tuinn cpu us/it | torch cpu us/it "
          "| cpu ratio | goal | loss tuinn | loss torch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, tu, to, tu_cpu, to_cpu, lt, lp in rows:
        print(f"| {w.key} {w.title} | {tu * 1e6:.1f} | {to * 1e6:.1f} | {tu / to:.3f} | "
              f"{tu_cpu * 1e6:.1f} | {to_cpu * 1e6:.1f} | {tu_cpu / to_cpu:.3f} | "
              f"<= {w.goal} | {lt:.8g} | {lp:.8g} |")


if __name__ == "__main__":
    main()
