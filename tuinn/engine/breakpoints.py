"""Provides breakpoints: checks after a step or a fast iteration, the list, and locate().

    nan | inf  [in TENSOR]                    loss < 0.05          grad_norm[(dense1.W)] > 100
    dead_relu[(relu1)] > 0.5                  saturated[(attention1)] > 0.9 (collapsed rows)
    gan only: d_loss < 0.05   g_loss > 5   spread < 0.05   d_wins   (tuinn/engine/gan_debug.py)
    iteration == 100       epoch >= 3         step [forward|backward|update] NODE     layer NAME

`check_step(session)` holds at the first step of a pass whose own results make the
condition true; `check_fast(program)` after one `NetworkProgram.train_iteration()`.
`locate` turns a fast hit into the exact step by replaying that iteration. iteration
and epoch conditions hold where they become true (at the first step of the first
iteration that meets them), so `iteration >= 100` stops once, not every iteration.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tuinn.engine import debug as D
from tuinn.engine.debuglist import TextList
from tuinn.engine import watches as W
from tuinn.engine.debug import LOSS, NONFINITE, POSITIONAL, Ref
from tuinn.errors import TuinnError
from tuinn.fmt import num

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
           "==": operator.eq}


@dataclass(eq=False)
class Breakpoint:
    text: str
    kind: str                      # one of debug.KINDS
    enabled: bool = True
    hits: int = 0
    op: str = ""                   # comparison of metric breakpoints
    value: float = 0.0             # its threshold
    ref: Ref | None = None         # nan/inf target; grad_norm/dead_relu/saturated argument
    phase: str = ""                # step breakpoints: "" = any phase
    node: str = ""                 # step / layer breakpoints

    def check_fast(self, program) -> str | None:
        """After one train_iteration (network): why the iteration just run hits this
        breakpoint, or None. step/layer: "the next iteration will reach ..."."""
        if program.kind == "graph":
            return None
        with np.errstate(all="ignore"):       # overflow to Inf is what they look for
            if program.kind == "gan" and self.kind not in ("iteration", "epoch", "step"):
                from tuinn.engine.gan_debug import check_fast
                return check_fast(self, program)
            return _FAST[self.kind](self, program)

    def check_step(self, session) -> str | None:
        """After the session has run its current step: why this breakpoint holds there."""
        if session.current is None:
            return None
        with np.errstate(all="ignore"):
            if session.program.kind == "gan" and self.kind not in ("iteration", "epoch", "step"):
                from tuinn.engine.gan_debug import check_step
                return check_step(self, session)
            return _STEP[self.kind](self, session)

    @property
    def label(self) -> str:
        return D.label(self.kind, self.ref)

    def _why(self, v: float, tail: str = "") -> str | None:
        """"loss 0.049 < 0.05", "grad_norm(dense1.W) = 153.2 > 100", or None."""
        if not COMPARE[self.op](v, self.value):
            return None
        sep = " " if self.kind == "loss" else " = "
        return f"{self.label}{sep}{num(v)} {self.op} {num(self.value)}{tail}"


def parse_breakpoint(text: str, names: Iterable[str] | None = None) -> Breakpoint:
    """Parse one breakpoint; TuinnError with the column and a hint when malformed.
    `names` (debug_names(program), or any list of names) checks tensor names."""
    if not isinstance(text, str):
        raise TuinnError(f"a breakpoint is text, got {type(text).__name__}")
    return Breakpoint(text.strip(), **D.parse_breakpoint_parts(text.strip(), D.as_names(names)))


# ------------------------------------------------------------------ checks: step mode
def _at(step) -> str:
    return f" at {step.phase} {step.node}"


def _first_bad(bp: Breakpoint, arrays, where: str) -> str | None:
    for label, a in arrays:
        text = W.nonfinite(a, bp.kind, label)
        if text:
            return text + where
    return None


def _step_nonfinite(bp: Breakpoint, session) -> str | None:
    st = session.current
    if bp.ref is None:
        return _first_bad(bp, W.produced(session), _at(st))
    if st.index not in W.producers(session.program, bp.ref):
        return None
    arr, _ = W.read_step(session, bp.ref)
    return None if arr is None else _first_bad(bp, [(bp.ref.text, arr)], _at(st))


def _step_loss(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    node = prog.output if prog.kind == "graph" else LOSS     # a graph: its output
    v = session.tape.values[node] if st.phase == "forward" and st.node == node else None
    return None if v is None or np.size(v) != 1 else bp._why(float(np.ravel(v)[0]), _at(st))


def _grad_keys(bp: Breakpoint, prog) -> list[str]:
    """The parameters (network) or names (graph) whose gradients grad_norm measures."""
    if prog.kind == "graph":
        return [bp.ref.name] if bp.ref is not None else list(prog.inputs)
    if bp.ref is None or bp.ref.name in prog.param_layers:
        return [bp.ref.name] if bp.ref is not None else list(prog.param_layers)
    top = W.index(prog).top
    return [k for k, (layer, _) in prog.param_layers.items()
            if bp.ref.name in (layer.name, top[layer.name])]


def _step_grad_norm(bp: Breakpoint, session) -> str | None:
    prog, st, tape = session.program, session.current, session.tape
    keys = _grad_keys(bp, prog)
    if prog.kind == "graph":
        if st.index != W.index(prog).last:
            return None
        return bp._why(float(np.sqrt(sum(W.sq(prog.grad_of(tape, k)) for k in keys))), _at(st))
    made = W.index(prog).param_grads_at.get(st.index, ())
    if not keys or not any(k in made for k in keys) or not all(k in tape.grads for k in keys):
        return None                        # not the step that completes them
    return bp._why(float(np.sqrt(W.grad_sq(prog, keys))), _at(st))


def _share_layers(bp: Breakpoint, prog) -> list:
    idx = W.index(prog)
    if bp.ref is not None:
        return [idx.layers[bp.ref.name]] if bp.ref.name in idx.layers else []
    return idx.relus if bp.kind == "dead_relu" else idx.sats


def _share(bp: Breakpoint, prog, where: str) -> str | None:
    layers = _share_layers(bp, prog)
    counts = (W.dead_share if bp.kind == "dead_relu" else W.saturated_share)(layers)
    if not layers or counts is None or not counts[1]:
        return None
    part, whole = counts
    what = "units" if bp.kind == "dead_relu" else _saturated_what(layers)
    return bp._why(part / whole, f" ({part} of {whole} {what}){where}")


def _saturated_what(layers) -> str:
    """What saturated counts in `layers`: values, attention rows, or both."""
    rows = {la.type == "attention" for la in layers}
    return {frozenset({False}): "values", frozenset({True}): "attention rows"}.get(
        frozenset(rows), "values and attention rows")


def _step_share(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    if prog.kind == "graph" or st.index != W.index(prog).last_fwd(_share_layers(bp, prog)):
        return None                        # decided after the (last) layer's forward step
    return _share(bp, prog, _at(st))


def _edge(bp: Breakpoint, prog, it: int) -> str | None:
    """iteration/epoch: the condition holds at `it` and did not at the iteration before."""
    def hold(i: int) -> bool:
        return COMPARE[bp.op](i if bp.kind == "iteration" else prog.epoch_of(i), bp.value)

    if not (hold(it) and (it == 0 or not hold(it - 1))):
        return None
    if bp.kind == "iteration":
        return f"iteration {it} ({bp.text})"
    return f"epoch {prog.epoch_of(it)} begins at iteration {it} ({bp.text})"


def _step_time(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    if prog.kind == "graph" or st.index != 0:
        return None
    why = _edge(bp, prog, prog.iteration)
    return why and why + _at(st)


def _matches(bp: Breakpoint, prog, st) -> bool:
    if bp.kind == "step":
        return st.node == W.node_of(prog, bp.node) and (not bp.phase or st.phase == bp.phase)
    if not st.layer:
        return False
    if st.layer == bp.node:
        return True
    top = W.index(prog).top
    if st.phase == "update":               # a parameter of a layer inside block bp.node
        return top.get(st.layer) == bp.node
    return top.get(bp.node) == st.layer    # bp.node runs inside the block st.layer


def _step_position(bp: Breakpoint, session) -> str | None:
    st = session.current
    return f"{bp.text}:{_at(st)}" if _matches(bp, session.program, st) else None


_STEP = {**dict.fromkeys(NONFINITE, _step_nonfinite), "loss": _step_loss,
         "grad_norm": _step_grad_norm, "dead_relu": _step_share, "saturated": _step_share,
         "iteration": _step_time, "epoch": _step_time,
         "step": _step_position, "layer": _step_position}


# ------------------------------------------------------------------ checks: run mode
def _ran(prog) -> int | None:
    it = prog.iteration - 1
    return it if 0 <= it < len(prog.losses) else None


def _fast_nonfinite(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    if it is None:
        return None
    if bp.ref is not None:
        arr, _ = W.read_fast(prog, bp.ref)
        arrays = [] if arr is None else [(bp.ref.text, arr)]
    else:                                  # suspects, in step order; one dot screens each
        outs = [(la.name, la.cache.get("y")) for la in prog.layers]
        outs = [(n, y if y is not None else W.read_fast(prog, Ref(n))[0]) for n, y in outs]
        outs += [(k, W.buffer_of(prog, k)) for k in prog.buffer_layers]  # running statistics
        arrays = [(n, y) for n, y in outs if y is not None and not W.quick_finite(y)]
        if not math.isfinite(prog.losses[it]):
            arrays.append((LOSS, np.float64(prog.losses[it])))
        packed = prog.packed
        if not (packed is not None and packed.intact() and W.quick_finite(packed.w)
                and W.quick_finite(packed.g)):
            idx = W.index(prog)
            keys = sorted(prog.param_layers, key=lambda k: idx.bwd[idx.owner_top[k]])
            arrays += [(f"{k}.grad", W.read_fast(prog, Ref(k, True))[0]) for k in keys]
            arrays += [(k, W.read_fast(prog, Ref(k))[0]) for k in prog.param_layers]
    return _first_bad(bp, arrays, f" in iteration {it}")


def _fast_loss(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    return None if it is None else bp._why(prog.losses[it], f" in iteration {it}")


def _fast_grad_norm(bp: Breakpoint, prog) -> str | None:
    it, keys = _ran(prog), _grad_keys(bp, prog)
    if it is None or not keys:
        return None
    return bp._why(float(np.sqrt(W.grad_sq(prog, keys))), f" in iteration {it}")


def _fast_share(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    return None if it is None else _share(bp, prog, f" in iteration {it}")


def _fast_time(bp: Breakpoint, prog) -> str | None:
    return _edge(bp, prog, prog.iteration - 1) if prog.iteration > 0 else None


def _fast_position(bp: Breakpoint, prog) -> str | None:
    if any(_matches(bp, prog, st) for st in prog.steps):
        return f"the next iteration will reach {bp.text}"
    return None


_FAST = {**dict.fromkeys(NONFINITE, _fast_nonfinite), "loss": _fast_loss,
         "grad_norm": _fast_grad_norm, "dead_relu": _fast_share, "saturated": _fast_share,
         "iteration": _fast_time, "epoch": _fast_time,
         "step": _fast_position, "layer": _fast_position}


# ------------------------------------------------------------------ the list
class Breakpoints(TextList):
    """An ordered list of breakpoints; the first enabled one that holds wins."""

    key = "debug.breakpoints"
    what = "breakpoint"
    parse = staticmethod(lambda text, names=None: parse_breakpoint(text, names))

    @property
    def active(self) -> list[Breakpoint]:
        return [bp for bp in self.items if bp.enabled]

    def toggle(self, which: int | str | Breakpoint, enabled: bool | None = None) -> bool:
        """Flip (or set) enabled; returns the new state."""
        bp = self.find(which)
        bp.enabled = (not bp.enabled) if enabled is None else bool(enabled)
        return bp.enabled

    def first_hit_fast(self, program) -> tuple[Breakpoint, str] | None:
        """After one train_iteration: the first enabled breakpoint hit (its count +1)."""
        return self._first(lambda bp: bp.check_fast(program))

    def first_hit_step(self, session) -> tuple[Breakpoint, str] | None:
        """After a step: the first enabled breakpoint that holds there (its count +1)."""
        return self._first(lambda bp: bp.check_step(session))

    def _first(self, check) -> tuple[Breakpoint, str] | None:
        for bp in self.items:
            reason = check(bp) if bp.enabled else None
            if reason:
                bp.hits += 1
                return bp, reason
        return None


# ------------------------------------------------------------------ from run mode to a step
def _scan(session, bps: list[Breakpoint]) -> str | None:
    while not session.at_end:
        session.step_over()
        for bp in bps:
            reason = bp.check_step(session)
            if reason:
                session.stopped_because = reason
                return reason
    return None


def locate(session, breakpoints: Iterable[Breakpoint], hit: Breakpoint | None = None) -> str | None:
    """After `first_hit_fast` hit `hit` in iteration i (the program stands at i + 1):
    replay iteration i from its snapshot step by step and stop at the first step where
    an enabled breakpoint holds; return why (also in `session.stopped_because`).
    A step/layer `hit` is reached in iteration i + 1 instead. Hit counts are not
    changed. None: no step confirmed it; the session then stands at the start of i + 1."""
    prog = session.program
    bps = [bp for bp in breakpoints if bp.enabled]
    if hit is not None and hit.kind in POSITIONAL:
        session.sync()
        reason = _scan(session, bps)
        if reason is None:
            session.sync()
        return reason
    history = getattr(prog, "history", None)
    snap = history[-1] if history else None
    if (snap is None or snap.iteration != prog.iteration - 1
            or (not len(snap.params) and prog.param_layers)):
        session.sync()                     # no snapshot of that iteration (history = 0)
        return None
    prog.restore(history.pop())
    session.sync()
    reason = _scan(session, [bp for bp in bps if bp.kind not in POSITIONAL])
    if reason is None:
        session.next_iteration()
    return reason


def run_to_hit(session, breakpoints: Breakpoints,
               max_steps: int = 100_000) -> tuple[Breakpoint, str] | None:
    """Step mode's "continue": step over steps (into the next iterations for a network)
    until an enabled breakpoint holds (its count +1); None at a graph's end or after
    `max_steps` steps."""
    for _ in range(max_steps):
        before = session.tick, session.iteration
        session.step_over()
        if (session.tick, session.iteration) == before:
            return None
        got = breakpoints.first_hit_step(session)
        if got:
            session.stopped_because = got[1]
            return got
    return None
