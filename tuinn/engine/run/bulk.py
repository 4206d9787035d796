"""Provides `run_chunk`: `tuinn train`'s iterations of a network, many in one kernel call.

Three shapes of network have an epoch kernel: a dense chain (below), a CNN that starts
with conv2d -> relu -> maxpool and flattens into a dense chain (run/convbulk.py), an
LSTM with a dense head (run/recbulk.py); each plan gives the kernel's arguments
(`epoch_args`) and leaves the caches as after the last iteration (`bind`), and what
follows holds for all three.

`train_iteration` runs one iteration per call; for W1-sized networks (a 2-16-16-3 MLP)
the Python around the fused kernel (argument unboxing, the time-travel snapshot, the
loss series, the finite checks, the accuracy count) costs more than the kernel. Headless
training needs none of it per iteration, so for a chain plan (tuinn/engine/run/fastpath.py)
without L2 or frozen layers, one call of `epoch_classes`/`epoch_values`
(tuinn/engine/kernels/flatchain.py) runs the iterations from the current one to the end of
its epoch (the batches of one size: a smaller last batch is a call of its own). Each
iteration is exactly what `train_iteration` does: the fused call (chain_classes or
chain_values) on the batch from the epoch's order, then the packed optimizer step
(Optimizer.step_packed's kernels: sgd, momentum, rmsprop, adam; until every parameter
has its state, after the first iteration, iterations go one by one), its loss, its
correct predictions and the finite check of the updated parameters. Afterwards the
program's Python-side state is brought up to date in bulk, as those iterations one by
one would leave it: the iteration counter, the losses, the last batch and the caches,
and the history of start-of-iteration snapshots (headless it keeps at most two; the
kernel copies the parameters and optimizer state at the start of the last two).

NaN/Inf: the kernel stops at the first iteration whose loss is not finite or that leaves
a parameter NaN/Inf. The parameters and state go back to the start of the call and the
iterations before the bad one run again (the same bits), so the bad one is left to
`train_iteration`, which runs it as always; `tuinn train` then raises NonFinite with the
history standing at that iteration's start, exactly as on the per-iteration path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn.engine.kernels import chain as K
from tuinn.engine.network import Snapshot
from tuinn.engine.optim import _FlatSnapshot
from tuinn.engine.run.convbulk import conv_plan, conv_supported
from tuinn.engine.run.packed import ParamsView
from tuinn.engine.run.recbulk import lstm_plan, lstm_supported


#: fewer iterations than this go one by one: a call and its bookkeeping cost more than
#: one `train_iteration` (measured: a 1-iteration epoch 60 us against 50)
MIN_CHUNK = 2


@dataclass
class Chunk:
    losses: np.ndarray          # (done,) float64: each iteration's loss, in order
    correct: int                # correct predictions over the chunk's batches
    seen: int                   # targets counted (samples, or elements for bce)
    stopped: bool               # the next iteration makes a NaN/Inf: run it one by one


def bulk_supported(prog) -> bool:
    """True when `tuinn train` may run this program's iterations in bulk: a chain plan
    (or a CNN's or an LSTM's), no L2, nothing frozen, and a history of at most two
    snapshots (the headless one); else iteration by iteration."""
    return bool((prog._plans is not None or conv_supported(prog) or lstm_supported(prog))
                and prog.packed is not None
                and prog.optimizer.type in K.OPTIMIZERS and not prog.spec.network.loss.l2
                and not prog.frozen and prog.history.maxlen <= 2)


class _State:
    """The optimizer's packed state as the epoch kernels take it, with copies (`copy()`,
    `put_back()`) for a NaN's rerun and the rows the kernel fills for the history."""

    def __init__(self, prog, keep: int):
        opt, dt = prog.optimizer, prog.packed.dtype
        self.opt, self.flat = opt, opt._flat
        self.code = K.OPTIMIZERS[opt.type]
        self.hyper = np.array([float(getattr(opt, k)) for k in K.HYPER])
        none = np.empty(0, dt)
        flat = self.flat
        if self.code == K.SGD:
            self.v = self.m = none
            self.ts, self.bounds = np.empty(0, np.int64), np.empty(0, np.int64)
        else:
            self.v, self.ts, self.bounds = flat.v, flat.t, flat.bounds
            self.m = flat.m if flat.m is not None else none
        P = prog.packed.w.size
        rows = lambda a, kept: np.empty((2, a.size if kept else 0), a.dtype)  # noqa: E731
        self.snaps = rows(prog.packed.w, keep == 2)                  # (2, P) or (2, 0)
        self.snap_v = rows(self.v, keep == 2 and self.code != K.SGD)
        self.snap_m = rows(self.m, keep == 2 and self.m.size == P)
        self.snap_t = rows(self.ts, keep == 2 and self.code != K.SGD)

    @staticmethod
    def ready(opt) -> bool:
        """True when one packed step updates every parameter (Optimizer.step_packed's
        condition: each has its state); else the next iteration goes one by one."""
        if opt.type == "sgd":
            return True
        flat = opt._flat
        return flat is not None and not opt._strays and opt._state.keys() >= flat.keyset

    def args(self) -> tuple:
        return (self.code, self.hyper, self.v, self.m, self.ts, self.bounds)

    def snapshots(self) -> tuple:
        return (self.snaps, self.snap_v, self.snap_m, self.snap_t)

    def copy(self) -> tuple:
        return (self.v.copy(), self.m.copy(), self.ts.copy())

    def put_back(self, saved: tuple) -> None:
        for mine, then in zip((self.v, self.m, self.ts), saved):
            mine[...] = then

    def optim_snapshot(self, k: int):
        """What Optimizer.snapshot_packed() gives for row k of the kept state."""
        if self.code == K.SGD:
            return {}
        flat = self.flat
        return _FlatSnapshot(flat.layout, tuple(self.opt._state), self.snap_v[k],
                             self.snap_m[k] if flat.m is not None else None, self.snap_t[k])


def run_chunk(prog, limit: int) -> Chunk | None:
    """Run up to `limit` (>= 1) iterations from prog.iteration in one kernel call, up to
    the end of the current run of equal batch sizes in its epoch. None when the fused
    path cannot run them, or fewer than MIN_CHUNK (the caller steps one by one)."""
    if prog._requests or not _State.ready(prog.optimizer):
        return None
    packed = prog.packed
    if not packed.intact():
        packed.repack()
    it, per, bs = prog.iteration, prog.per_epoch, prog.batch_size
    b = it % per
    rows = prog.batch_rows(it)                          # draws the epoch's order
    n = len(rows)
    if n == bs:
        full = per if len(prog.x) % bs == 0 else per - 1    # batches of bs rows
        count = max(1, min(limit, full - b))
    else:
        count = 1                                       # the smaller last batch
    if count < MIN_CHUNK:
        return None
    if prog._plans is not None:
        plan = prog._plans.get(prog.x, prog.y, n)
    else:                                               # run/convbulk.py, run/recbulk.py
        plan = conv_plan(prog, n) or lstm_plan(prog, n)
    if plan is None:
        return None
    order = prog._order[1]                              # (M,) the epoch's row order
    state = _State(prog, prog.history.maxlen)           # keeps 1 or 2
    w = packed.w
    base, base_state = w.copy(), state.copy()           # at the start, for a NaN
    losses = np.empty(count)
    correct = np.zeros(1, np.int64)
    args = plan.epoch_args(prog.x, prog.y, order, b * bs) + state.args()
    done = plan.epoch_kernel(*args, losses, *state.snapshots(), correct)
    stopped = done < count
    if stopped:                                         # a NaN/Inf at iteration it + done
        w[...] = base
        state.put_back(base_state)
        correct[0] = 0
        losses = losses[:done]
        if done:                                        # the same bits again
            plan.epoch_kernel(*args, losses, *state.snapshots(), correct)
        else:
            plan.bind(np.nan, 0)
            return Chunk(losses, 0, 0, True)
    last = float(losses[-1])
    plan.bind(last, done)
    prog.last_batch = (plan.out, plan.target)           # the epoch's running accuracy
    if it == len(prog.losses):
        prog.losses.extend(losses)
    else:
        for i, value in enumerate(losses.tolist()):
            prog.record_loss(it + i, value)
    _advance(prog, done, state)
    return Chunk(losses, int(correct[0]), done * plan.target.size, stopped)


def _advance(prog, done: int, state: _State) -> None:
    """History and start as `done` calls of prog.advance(run_mode=True) leave them: the
    history gets each iteration's start (of which it keeps the last one or two), the
    start is the snapshot of the parameters now."""
    it = prog.iteration
    history = prog.history
    if history.maxlen <= 1:
        history.append(prog.start if done == 1 else Snapshot(it + done - 1, {}, None))
        prog.iteration = it + done
        prog.start = Snapshot(prog.iteration, {}, None)
        return
    layout = prog.packed.layout
    if done <= 2:
        history.append(prog.start)
    else:
        history.append(Snapshot(it + done - 2, ParamsView(state.snaps[0], layout),
                                state.optim_snapshot(0), prog.buffers()))
    if done >= 2:
        history.append(Snapshot(it + done - 1, ParamsView(state.snaps[1], layout),
                                state.optim_snapshot(1), prog.buffers()))
    prog.iteration = it + done
    prog.start = prog._snapshot(intact=True)
