"""Provides the breakpoint checks of kind = "gan" (called by tuinn.engine.breakpoints).

    d_loss < 0.05     g_loss > 5     spread < 0.05     d_wins
    nan [in NAME]     inf [in NAME]  iteration >= 100  epoch >= 3     step [PHASE] NODE

spread is the generated points' spread relative to the real data's (see
tuinn.engine.gan.spread): below a small threshold the generator has collapsed onto
one mode. d_wins holds when the discriminator classifies a whole step's batches
right (every real logit > 0, every generated one < 0): it wins outright, and the
generator's gradient through it fades.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine import watches as W
from tuinn.engine.gan import spread


def _at(step) -> str:
    return f" at {step.phase} {step.node}"


def _plain(node: str) -> str:
    """"d2.d_loss" -> "d_loss"."""
    return node.rsplit(".", 1)[-1] if node.startswith("d") and "." in node[:4] else node


def wins(real: np.ndarray, fake: np.ndarray) -> bool:
    return bool(np.all(real > 0) and np.all(fake < 0))


def _win_text(real: np.ndarray, fake: np.ndarray, where: str) -> str:
    return (f"d_wins: D scores all {real.size} real points real and all {fake.size} "
            f"generated points fake{where}")


def check_step(bp, session) -> str | None:
    prog, st, tape = session.program, session.current, session.tape
    where = _at(st)
    if bp.kind in ("nan", "inf"):
        if st.phase == "update" and bp.ref is None:
            return None                          # a bad update shows in the next forward
        if bp.ref is not None and st.node != bp.ref.name:
            return None
        for key, arr in prog.step_record(tape, st).items():
            if key == "frozen" or (bp.ref is not None and (key == "grad") != bp.ref.grad):
                continue
            text = W.nonfinite(arr, bp.kind, f"{key} of {st.node}")
            if text:
                return text + where
        return None
    if st.phase != "forward":
        return None
    node = _plain(st.node)
    if bp.kind in ("d_loss", "g_loss") and node == bp.kind:
        return bp._why(float(tape.values[st.node]), where)
    if bp.kind == "spread" and st.node == "gen":
        return bp._why(spread(tape.values["gen"], prog.x), where)
    if bp.kind == "d_wins" and node == "D_fake":
        p = st.node[:-len("D_fake")]
        real, fake = tape.values[p + "D_real"], tape.values[st.node]
        return _win_text(real, fake, where) if wins(real, fake) else None
    return None


def check_fast(bp, prog) -> str | None:
    it = prog.iteration - 1
    if it < 0 or not prog.last:
        return None
    where, last = f" in iteration {it}", prog.last
    if bp.kind in ("nan", "inf"):
        for name, arr in last.items():
            if bp.ref is None or bp.ref.name == name:
                text = W.nonfinite(arr, bp.kind, name)
                if text:
                    return text + where
        return None
    if bp.kind == "d_loss":
        return bp._why(prog.losses[it], where)
    if bp.kind == "g_loss":
        return bp._why(prog.g_losses[it], where)
    if bp.kind == "spread":
        return bp._why(prog.spreads[it], where)
    if bp.kind == "d_wins":
        for k in range(prog.d_steps):
            p = prog.prefix(k)
            real, fake = last[p + "D_real"], last[p + "D_fake"]
            if wins(real, fake):
                return _win_text(real, fake, where)
    return None
