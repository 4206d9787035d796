"""Provides `train_gan`: headless training of a kind = "gan" scenario, epoch by epoch (`tuinn train`).

Each iteration is the app's (d_steps discriminator steps, then one generator step;
GanProgram.train_iteration). An epoch reports the mean discriminator and generator
losses of its iterations (each at its forward pass, before that step's update, as the
network epochs do), the spread of the last iteration's generated batch (mode collapse
drives it towards 0) and the share of the epoch's iterations in which the
discriminator won outright in one of its steps (scored every real point real and every
generated one fake: the `d_wins` breakpoint).
A NaN or Inf stops training at the step that made it, as for networks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator

from tuinn.engine.history import History
from tuinn.engine.run.training import NonFinite


@dataclass
class GanEpoch:
    epoch: int
    iteration: int
    d_loss: float               # mean discriminator loss over the epoch's iterations
    g_loss: float               # mean generator loss
    spread: float               # of the last iteration's generated batch
    d_wins: float               # share of iterations D classified every point right
    seconds: float


def train_gan(session, epochs: int | None = None) -> Iterator[GanEpoch]:
    """Train for `epochs` (default: the scenario's); one result per epoch. Raises
    NonFinite at the first NaN/Inf, the session standing on that step. Headless,
    nobody steps back: the history keeps only the last iteration's start."""
    from tuinn.engine.gan_debug import wins as d_won
    prog = session.program
    epochs = prog.epochs if epochs is None else epochs
    if prog.history.limit > 1:
        prog.history = History(1)
    start = time.perf_counter()
    for epoch in range(epochs):
        d_total = g_total = 0.0
        wins = 0
        for _ in range(prog.per_epoch):
            it = prog.iteration
            d = prog.train_iteration()
            g = prog.g_losses[it]
            if not (math.isfinite(d) and math.isfinite(g)) or not prog.params_finite():
                where = session.goto_nonfinite() or "NaN or Inf in the parameters"
                raise NonFinite(prog.iteration, where)
            d_total += d
            g_total += g
            last = prog.last
            wins += any(d_won(last[prog.prefix(k) + "D_real"], last[prog.prefix(k) + "D_fake"])
                        for k in range(prog.d_steps))
        yield GanEpoch(epoch, prog.iteration, d_total / prog.per_epoch,
                       g_total / prog.per_epoch, float(prog.spreads[prog.iteration - 1]),
                       wins / prog.per_epoch, time.perf_counter() - start)
