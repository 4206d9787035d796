"""Provides the GAN screen's presenter: everything it draws, read off a GanProgram on the
engine thread (D's belief over the plane, real and generated points, G's push, losses).

The map's extent is the real data's, padded, and stays put while training, so the
points can be seen moving. Which generated points are shown: those of the current
step's batch (the discriminator's G(z) during its step, the generator's batch
during its step; before the first step G(z) of this iteration's noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn import fmt
from tuinn.engine.gan import spread

PAD = 0.35              # the extent: the real data's bounding box, padded by this share
MAX_REAL = 400          # real samples drawn (an even subsample of the data)

#: what each kind of step does, in words, for the side panel
EXPLAIN = {
    "fake": "G makes a batch of points from noise z (G held fixed)",
    "D_real": "D scores a batch of real points (logits)",
    "D_fake": "D scores G's points (logits)",
    "d_loss": "D's loss: bce(D(real), 1) + bce(D(G(z)), 0)",
    "gen": "G makes a fresh batch from new noise",
    "D_gen": "D scores G's fresh points (D held fixed)",
    "g_loss": "G's loss: bce(D(G(z)), 1), the non-saturating loss",
}
EXPLAIN_BACK = {
    "D_fake": "gradient into D through its scores of G's points",
    "D_real": "gradient into D through its scores of the real points",
    "D_gen": "gradient through D (not updated) down to G's points",
    "gen": "gradient on each of G's points (the arrows), back into G",
}


@dataclass
class GanFrame:
    """One frame of the GAN map and its side panel (plain numbers and strings)."""
    grid: np.ndarray                         # D(x) over the plane (GH, GW), row 0 at the top
    extent: tuple[float, float, float, float]
    real: np.ndarray                         # (R, 2)
    fake: np.ndarray                         # (B, 2)
    push: np.ndarray | None                  # (B, 2): -dL/dG(z), the way each point moves
    which: str                               # what the generated points are
    d_loss: list[float]
    g_loss: list[float]
    rows: list[tuple[str, str]]              # the side panel's name/value rows
    explain: str


def _plain(node: str) -> str:
    return node.split(".", 1)[1] if node[:1] == "d" and "." in node[:4] else node


class GanPresenter:
    def __init__(self, prog):
        x = prog.x.reshape(len(prog.x), -1)[:, :2]
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = (hi - lo) * PAD + 1e-6
        self.extent = (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
                       float(lo[1] - pad[1]), float(hi[1] + pad[1]))
        step = max(1, len(x) // MAX_REAL)
        self.real = np.array(x[::step][:MAX_REAL], dtype=np.float64)

    def grid(self, prog, gh: int, gw: int) -> np.ndarray:
        x0, x1, y0, y1 = self.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, gw), np.linspace(y1, y0, gh))
        return prog.discriminate(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gh, gw)

    def points(self, s) -> tuple[np.ndarray, np.ndarray | None, str]:
        """The generated points to show, G's push on them, and what they are."""
        tape, prog = s.tape, s.program
        if "gen" in tape.values:
            push = -tape.grads["gen"] if "gen" in tape.grads else None
            return tape.values["gen"], push, "G's batch"
        fakes = [st.node for st in prog.steps[:s.done_steps] if _plain(st.node) == "fake"]
        if fakes:
            return tape.values[fakes[-1]], None, "D's batch of G(z)"
        return prog.generate(tape.extra["noise_g"]), None, "G(z) now"

    def frame(self, s, dims: tuple[int, int]) -> GanFrame:
        prog, tape = s.program, s.tape
        fake, push, which = self.points(s)
        it = prog.iteration
        d_view, g_view = prog.losses.view(), prog.g_losses.view()
        step = s.current
        rows = [("iteration", str(it)), ("epoch", str(prog.epoch_of(it)))]
        for key, series in (("d_loss", prog.losses), ("g_loss", prog.g_losses)):
            v = tape.extra.get(key)
            if v is None and 0 < it <= len(series):     # not this iteration's yet: the last
                rows.append((key, f"{fmt.num(float(series[it - 1]), 4)} (it {it - 1})"))
            else:
                rows.append((key, "?" if v is None else fmt.num(float(v), 4)))
        rows.append(("spread", fmt.num(spread(fake, prog.x), 3)))
        p_fake = prog.discriminate(fake)
        p_real = prog.discriminate(self.real)
        rows.append(("D(real)", f"{np.mean(p_real):.0%} real"))
        rows.append(("D(G(z))", f"{np.mean(p_fake):.0%} real"))
        if push is not None:
            rows.append(("push", fmt.num(float(np.sqrt((push ** 2).sum(axis=1)).mean()), 3)))
        if step is None:
            explain = "next: D's step, then G's; n steps, c trains"
        elif step.phase == "update":
            net = "D" if step.node.startswith("discriminator.") else "G"
            explain = f"{net} takes a {step.op} step on {step.node.split('.', 1)[1]}"
        elif step.phase == "backward":
            explain = EXPLAIN_BACK.get(_plain(step.node), step.node)
        else:
            explain = EXPLAIN.get(_plain(step.node), step.node)
        return GanFrame(grid=self.grid(prog, *dims), extent=self.extent, real=self.real,
                        fake=np.asarray(fake, dtype=np.float64), push=push, which=which,
                        d_loss=list(d_view.train), g_loss=list(g_view.train), rows=rows,
                        explain=explain)


def losses_text(session) -> str:
    """The status line's value: both losses of this iteration (or of the last one run)."""
    prog, tape = session.program, session.tape
    out = []
    for key, series in (("D", prog.losses), ("G", prog.g_losses)):
        v = tape.extra.get(f"{key.lower()}_loss")
        if v is None and len(series):
            v = series[-1]
        out.append(f"{key} loss " + ("?" if v is None else fmt.num(float(v), 4)))
    return " · ".join(out)


def step_line(session, index: int) -> tuple[str, str, str]:
    """(phase, node, what it does) for the step list."""
    from tuinn.tui.present import PHASE_SHORT
    step = session.steps[index]
    return PHASE_SHORT.get(step.phase, step.phase), step.node, step.op
