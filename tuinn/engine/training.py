"""Provides `train`: headless training epoch by epoch (for `tuinn train`), and `save_params`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np


@dataclass
class EpochResult:
    epoch: int
    iteration: int
    loss: float                 # mean training loss over the epoch's iterations
    val_loss: float | None
    accuracy: float | None      # on the training set, classification only
    val_accuracy: float | None
    seconds: float


class NonFinite(Exception):
    """Training produced NaN or Inf; `where` says at which step."""

    def __init__(self, iteration: int, where: str):
        super().__init__(f"iteration {iteration}: {where}")
        self.iteration = iteration
        self.where = where


def accuracy(prog, x, y) -> float | None:
    if len(x) == 0 or not (prog.loss.is_classification or prog.loss.type == "bce"):
        return None
    pred = prog.loss.predict(prog.predict(x))
    return float(np.mean(pred.reshape(np.shape(y)) == y))


def train(session, epochs: int | None = None,
          on_iteration: Callable[[int, float], None] | None = None) -> Iterator[EpochResult]:
    """Train for `epochs` (default: the scenario's) and yield one result per epoch.
    Raises NonFinite at the first NaN/Inf, with the session standing on that step."""
    prog = session.program
    epochs = prog.epochs if epochs is None else epochs
    start = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0                  # memory stays flat: the program keeps the losses,
        for _ in range(prog.per_epoch):          # bounded (tuinn/engine/lossseries.py)
            loss = prog.train_iteration()
            total += loss
            if on_iteration:
                on_iteration(prog.iteration, loss)
            if not math.isfinite(loss) or not prog.params_finite():
                where = session.goto_nonfinite() or "NaN or Inf in the parameters"
                raise NonFinite(prog.iteration, where)
        yield EpochResult(epoch, prog.iteration, total / prog.per_epoch, prog.validation_loss(),
                          accuracy(prog, prog.x, prog.y), accuracy(prog, prog.x_val, prog.y_val),
                          time.perf_counter() - start)


def save_params(prog, path: str, key: str = "--save") -> str:
    """Write the network's current parameters to an .npz or .safetensors file under the
    contract's names ("dense1.W", W as (in, out)), in the scenario's dtype, so that
    `[params] file` loads them back exactly; returns the path written."""
    from tuinn.scenario.params_io import write_params
    return write_params(path, prog.params(), key)
