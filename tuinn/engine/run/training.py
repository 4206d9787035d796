"""Provides `train`: headless training epoch by epoch (for `tuinn train`), and `save_params`.

Each epoch's training loss and accuracy come from the batches as they were trained (a
running mean, as Keras reports them: every batch's loss and predictions at its forward
pass, before that batch's update), never from another pass over the training set; the
validation loss and accuracy come from one eval-mode pass over the held-out split.

A chain of dense and elementwise layers without L2 or frozen layers trains an epoch's
batches in one kernel call (tuinn/engine/run/bulk.py), bit for bit the iterations one
by one; anything else, an `on_iteration` callback, or a history kept longer than one
iteration (`keep_history`), goes iteration by iteration, with a full snapshot of the
state only every SNAPSHOT_EVERY iterations (a NaN's replay reruns from the last one).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from tuinn.engine.history import History
from tuinn.engine.kernels import metrics as M
from tuinn.engine.losses import Loss
from tuinn.engine.run.bulk import bulk_supported, run_chunk


@dataclass
class EpochResult:
    epoch: int
    iteration: int
    loss: float                 # mean training loss over the epoch's iterations
    val_loss: float | None
    accuracy: float | None      # the epoch's batches as trained (running), or None
    val_accuracy: float | None
    seconds: float


class NonFinite(Exception):
    """Training produced NaN or Inf; `where` says at which step."""

    def __init__(self, iteration: int, where: str):
        super().__init__(f"iteration {iteration}: {where}")
        self.iteration = iteration
        self.where = where


def accuracy(prog, x, y) -> float | None:
    """Share of x predicted right by the current parameters (eval mode); None for mse."""
    if len(x) == 0 or not (prog.loss.is_classification or prog.loss.type == "bce"):
        return None
    pred = prog.loss.predict(prog.predict(x))
    return float(np.mean(pred.reshape(np.shape(y)) == y))


def batch_correct(loss, out: np.ndarray, target: np.ndarray) -> int:
    """How many of a batch's predictions (out, as the forward pass left it) match its
    targets: per sample (per position for a sequence) for softmax_ce and hinge, per
    element for bce; as `loss.predict(out) == target` counts them."""
    if (out.ndim == 2 and target.ndim == 1 and target.dtype == np.int64
            and out.flags.c_contiguous and target.flags.c_contiguous):
        return M.count_correct_classes(out, target)   # the usual (N, C) batch, as it is
    out = out if out.flags.c_contiguous else np.ascontiguousarray(out)
    if loss.is_classification:
        labels = target.reshape(-1)
        return int(M.count_correct_classes(out.reshape(labels.size, out.shape[-1]),
                                           np.ascontiguousarray(labels, dtype=np.int64)))
    t = target if target.dtype == out.dtype and target.flags.c_contiguous else \
        np.ascontiguousarray(target, dtype=out.dtype)
    return int(M.count_correct_binary(out.reshape(-1), t.reshape(-1)))


def validate(prog) -> tuple[float | None, float | None]:
    """(loss, accuracy) on the held-out split in one eval-mode pass; the loss is
    recorded for the loss curve, as `validation_loss` does. (None, None) without one."""
    if not len(prog.x_val):
        return None, None
    out = prog.predict(prog.x_val)
    loss = getattr(prog, "_validation_loss_fn", None)      # one Loss: buffers reused
    if loss is None:
        loss = prog._validation_loss_fn = Loss(prog.spec.network.loss)
    value = float(loss.forward(out, prog.y_val) + prog.l2_value())
    prog.losses.record_val(prog.iteration, value)
    acc = None
    if prog.loss.is_classification or prog.loss.type == "bce":
        acc = batch_correct(prog.loss, out, prog.y_val) / max(1, np.size(prog.y_val))
    return value, acc


#: headless, layer by layer: one iteration in this many starts from a full snapshot (the
#: parameters, the optimizer's state, the running statistics); the others take none. A
#: NaN's replay reruns the iterations since the last one: the same bits, as an iteration
#: depends only on its number and that state (batches and noise are drawn by number).
#: A snapshot is a copy of every parameter and moment: ~3% of an LSTM's or CNN's iteration.
SNAPSHOT_EVERY = 16


class SparseSnapshots:
    """The per-iteration path's snapshots, every SNAPSHOT_EVERY iterations and at the
    last two iterations of each epoch (so an epoch ends as it always did: the history
    holds their starts, and `start` is real)."""

    def __init__(self, prog):
        self.prog = prog
        self.none = History(0)               # advance() then keeps no copy
        self.saved = None                    # the last real snapshot: a replay's start
        self.older = None                    # the one before it

    @staticmethod
    def real(snap) -> bool:
        """False for the placeholder advance() leaves when it keeps no copy."""
        return snap is not None and (snap.optim is not None or len(snap.params) > 0)

    def before(self, left: int) -> None:
        """Before train_iteration; `left`: the epoch's iterations after this one. The
        last two keep their starts, as a full history would (History(1) holds two)."""
        prog = self.prog
        near_end = left <= 1
        due = self.saved is None or prog.iteration - self.saved.iteration >= SNAPSHOT_EVERY
        if (due or near_end) and not self.real(prog.start):
            prog.start = prog._snapshot()
        if self.real(prog.start) and prog.start is not self.saved:
            self.saved, self.older = prog.start, self.saved
        if not near_end:
            prog.history = self.none
        elif prog.history is self.none:
            prog.history = History(1)

    def replay(self, session) -> str | None:
        """The iteration just run made a NaN or Inf: stand where a full history would
        (its start and the one before in the history, rerun from the last snapshots if
        need be: the same bits), then replay it step by step to the step that made it
        (Session.goto_nonfinite)."""
        prog = self.prog
        bad = prog.iteration - 1
        h = prog.history
        if not (len(h) == 2 and h[-1].iteration == bad and all(map(self.real, h))):
            first = max(0, bad - 1)              # the starts a full history would hold
            snap = next((x for x in (self.saved, self.older)
                         if x is not None and x.iteration <= first), self.saved)
            prog.restore(snap)
            prog.history = self.none
            while prog.iteration < first:
                prog.train_iteration()
            prog.history = History(1)
            prog.start = prog._snapshot()
            while prog.iteration <= bad:
                prog.train_iteration()
        return session.goto_nonfinite()


def train(session, epochs: int | None = None,
          on_iteration: Callable[[int, float], None] | None = None,
          keep_history: bool = False) -> Iterator[EpochResult]:
    """Train for `epochs` (default: the scenario's) and yield one result per epoch.
    Raises NonFinite at the first NaN/Inf, with the session standing on that step.

    Headless, nobody steps back: unless `keep_history`, the time-travel history keeps
    only the last iteration's start (all a NonFinite replay needs). A ring of the
    scenario's `[debug] history` (200) fresh snapshots, each the parameters and the
    optimizer's state, costs ~10% of an LSTM iteration in memory traffic alone."""
    prog = session.program
    epochs = prog.epochs if epochs is None else epochs
    if not keep_history and prog.history.limit > 1:
        prog.history = History(1)
    start = time.perf_counter()
    loss_fn = prog.loss
    counts = loss_fn.is_classification or loss_fn.type == "bce"
    bulk = on_iteration is None and bulk_supported(prog)
    sparse = (SparseSnapshots(prog) if not (bulk or keep_history or on_iteration)
              and prog.history.limit >= 1 else None)
    for epoch in range(epochs):
        total = 0.0                  # memory stays flat: the program keeps the losses,
        correct = seen = 0           # bounded (tuinn/engine/lossseries.py)
        left = prog.per_epoch
        while left:
            chunk = run_chunk(prog, left) if bulk else None
            if chunk is not None:    # iterations in one kernel call (tuinn/engine/run/bulk.py)
                for loss in chunk.losses.tolist():
                    total += loss
                correct += chunk.correct
                seen += chunk.seen
                left -= chunk.losses.size
                if not (left and chunk.stopped):
                    continue         # else the next one makes a NaN: one by one, below
            left -= 1
            if sparse is not None:
                sparse.before(left)
            loss = prog.train_iteration()
            total += loss
            if on_iteration:
                on_iteration(prog.iteration, loss)
            if not math.isfinite(loss) or not prog.params_finite():
                where = (sparse.replay(session) if sparse is not None
                         else session.goto_nonfinite()) or "NaN or Inf in the parameters"
                raise NonFinite(prog.iteration, where)
            if counts:                 # the batch's predictions, from its forward pass
                out, target = prog.last_batch
                correct += batch_correct(loss_fn, out, target)
                seen += target.size
        val_loss, val_acc = validate(prog)
        yield EpochResult(epoch, prog.iteration, total / prog.per_epoch, val_loss,
                          correct / seen if counts and seen else None, val_acc,
                          time.perf_counter() - start)


def save_params(prog, path: str, key: str = "--save") -> str:
    """Write the network's current parameters to an .npz or .safetensors file under the
    contract's names ("dense1.W", W as (in, out)), in the scenario's dtype, with its
    buffers beside them ("bn1.running_mean", "bn1.running_var": eval mode needs them),
    so that `[params] file` loads them back exactly; returns the path written."""
    from tuinn.scenario.params_io import write_params
    buffers = prog.buffers() if hasattr(prog, "buffers") else {}
    return write_params(path, {**prog.params(), **buffers}, key)
