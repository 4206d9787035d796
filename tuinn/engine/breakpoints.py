"""Provides breakpoints: parsing, checks after a step or a fast iteration, and locate().

    nan | inf | nonfinite  [in TENSOR]        loss < 0.05          grad_norm[(dense1.W)] > 100
    dead_relu[(relu1)] > 0.5                  saturated[(lstm1)] > 0.9
    iteration == 100       epoch >= 3         step [forward|backward|update] NODE     layer NAME

`check_step(session)` holds at the first step of a pass whose own results make the
condition true; `check_fast(program)` after one `NetworkProgram.train_iteration()`.
`locate` turns a fast hit into the exact step by replaying that iteration. iteration
and epoch conditions hold where they become true (at the first step of the first
iteration that meets them), so `iteration >= 100` stops once, not every iteration.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tuinn.engine import debug as D
from tuinn.engine.debug import did_you_mean
from tuinn.errors import TuinnError
from tuinn.fmt import num

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
           "==": operator.eq}
NONFINITE = ("nan", "inf", "nonfinite")
METRICS = ("loss", "grad_norm", "dead_relu", "saturated", "iteration", "epoch")
POSITIONAL = ("step", "layer")
KINDS = NONFINITE + METRICS + POSITIONAL
_WHAT = {"nan": "NaN", "inf": "Inf", "nonfinite": "NaN/Inf"}
_NETWORK_ONLY = ("dead_relu", "saturated", "iteration", "epoch", "layer")


@dataclass(eq=False)
class Breakpoint:
    text: str
    kind: str                      # one of KINDS
    enabled: bool = True
    hits: int = 0
    op: str = ""                   # comparison of metric breakpoints
    value: float = 0.0             # its threshold
    ref: D.Ref | None = None       # nan/inf target; grad_norm/dead_relu/saturated argument
    phase: str = ""                # step breakpoints: "" = any phase
    node: str = ""                 # step / layer breakpoints

    def check_fast(self, program) -> str | None:
        """After one train_iteration (network): why the iteration just run hits this
        breakpoint, or None. step/layer: "the next iteration will reach ..."."""
        if program.kind == "graph":
            return None
        with np.errstate(all="ignore"):       # overflow to Inf is what they look for
            return _FAST[self.kind](self, program)

    def check_step(self, session) -> str | None:
        """After the session has run its current step: why this breakpoint holds there."""
        if session.current is None:
            return None
        with np.errstate(all="ignore"):
            return _STEP[self.kind](self, session)

    def _holds(self, v: float) -> bool:
        return COMPARE[self.op](v, self.value)

    def _cmp(self, label: str, v: float) -> str:
        """"loss 0.049 < 0.05", "grad_norm(dense1.W) = 153.2 > 100"."""
        return f"{label}{' ' if label == 'loss' else ' = '}{num(v)} {self.op} {num(self.value)}"

    @property
    def label(self) -> str:
        return self.kind + (f"({self.ref.text})" if self.ref is not None else "")


# ------------------------------------------------------------------ parsing
def parse_breakpoint(text: str, names: Iterable[str] | None = None) -> Breakpoint:
    """Parse one breakpoint; TuinnError with the column and a hint when malformed.
    `names` (debug.debug_names(program), or any list of names) checks tensor names."""
    if not isinstance(text, str):
        raise TuinnError(f"a breakpoint is text, got {text!r}")
    text = text.strip()
    names = D.as_names(names)
    cur = D.Cursor(text, "breakpoint")
    tok = cur.take()
    if tok.kind == "end":
        raise cur.error("empty breakpoint", 0, "for example: nan, loss < 0.05, step dense1")
    if tok.kind != "name" or tok.text not in KINDS:
        hint = did_you_mean(tok.text, KINDS) or "breakpoints: " + ", ".join(KINDS)
        if names and tok.text in names:
            hint = f"to stop on {tok.text}, use nan in {tok.text}, or watch it"
        raise cur.error(f"unknown breakpoint {tok.text!r}", tok.col, hint)
    kind = tok.text
    if names is not None and names.kind == "graph" and kind in _NETWORK_ONLY:
        raise cur.error(f"{kind} breakpoints are for network scenarios", tok.col,
                        "in a graph: nan, inf, loss, grad_norm, step NAME")
    bp = Breakpoint(text, kind)
    if kind in NONFINITE:
        if cur.peek().kind == "name" and cur.peek().text == "in":
            cur.take()
            bp.ref = D.resolve(cur, *cur.dotted("a tensor name after 'in'"), names)
        elif cur.peek().kind != "end":
            raise cur.error(f"expected 'in' or the end after {kind!r}, got "
                            f"{cur.show(cur.peek())}", cur.peek().col, f"{kind} in dense1")
    elif kind in POSITIONAL:
        _parse_position(cur, bp, names)
    else:
        _parse_metric(cur, bp, names, tok)
    cur.end("the breakpoint")
    return bp


def _parse_position(cur: D.Cursor, bp: Breakpoint, names: D.Names | None) -> None:
    if bp.kind == "step" and cur.peek().kind == "name" and cur.peek(1).kind == "name":
        tok = cur.take()
        if tok.text not in D.PHASES:
            raise cur.error(f"unknown phase {tok.text!r}", tok.col,
                            did_you_mean(tok.text, D.PHASES) or "phases: forward, backward, update")
        bp.phase = tok.text
    what = "a layer name" if bp.kind == "layer" else "a step's node name"
    bp.node, col = cur.dotted(f"{what} after {bp.kind!r}")
    if names is None:
        return
    if bp.kind == "layer":
        layers = [n for n, k in names.items() if k.startswith(("layer", "?"))]
        if bp.node not in layers:
            what = "no layer named" if bp.node not in names else "not a layer:"
            raise cur.error(f"{what} {bp.node!r}", col,
                            did_you_mean(bp.node, layers) or "layers: " + ", ".join(layers))
        return
    if names.steps is None:
        if bp.node not in names:
            raise cur.error(f"no step named {bp.node!r}", col, did_you_mean(bp.node, names))
        return
    nodes = sorted({n for _, n in names.steps})
    if bp.node not in nodes:
        hint = did_you_mean(bp.node, nodes) or "steps: " + ", ".join(nodes)
        if names.get(bp.node, "").startswith("layer"):
            hint = f"{bp.node} runs inside a residual block: use layer {bp.node}"
        raise cur.error(f"no step named {bp.node!r}", col, hint)
    if bp.phase and (bp.phase, bp.node) not in names.steps:
        have = [p for p in D.PHASES if (p, bp.node) in names.steps]
        raise cur.error(f"{bp.node} has no {bp.phase} step", col,
                        f"its steps: {', '.join(have)}")


def _parse_metric(cur: D.Cursor, bp: Breakpoint, names: D.Names | None, tok) -> None:
    kind = bp.kind
    if cur.at("("):
        if kind not in ("grad_norm", "dead_relu", "saturated"):
            raise cur.error(f"{kind} takes no argument", cur.peek().col, f"{kind} > 1")
        cur.take()
        dotted, col = cur.dotted(f"a name inside {kind}( )")
        bp.ref = _metric_ref(cur, kind, dotted, col, names)
        close = cur.take()
        if close.text != ")":
            raise cur.error(f"expected ')' after {kind}({dotted}, got {cur.show(close)}",
                            close.col)
    else:
        _check_present(cur, kind, names, tok.col)
    op = cur.take()
    after = bp.label
    if op.kind != "op" or op.text not in COMPARE:
        raise cur.error(f"expected a comparison (<, <=, >, >= or ==) after {after!r}, got "
                        f"{cur.show(op)}", op.col, f"for example {after} > 1")
    if op.text == "==" and kind not in ("iteration", "epoch"):
        raise cur.error(f"{after} == x compares floats exactly", op.col, "use <, <=, > or >=")
    bp.op = op.text
    bp.value, col = cur.number(op.text)
    if kind in ("iteration", "epoch") and (bp.value < 0 or bp.value != int(bp.value)):
        raise cur.error(f"{kind} counts from 0: expected a whole number", col)
    if kind in ("dead_relu", "saturated") and not 0 <= bp.value <= 1:
        raise cur.error(f"{kind} is a share between 0 and 1, got {num(bp.value)}", col,
                        f"{kind} > 0.5 means more than half")


def _metric_ref(cur, kind, dotted, col, names) -> D.Ref:
    ref = D.resolve(cur, dotted, col, names)
    if ref.grad:
        raise cur.error(f"{kind}() takes a name, not a gradient", col,
                        f"{kind}({ref.name})")
    k = ref.kind
    if kind == "grad_norm":
        if names is not None and names.kind == "network" and k not in ("param",) \
                and not k.startswith("layer"):
            raise cur.error(f"grad_norm() takes a parameter or a layer, not {dotted!r}", col,
                            did_you_mean(dotted, [n for n, v in names.items() if v == "param"]))
        if (k.startswith("layer:") and k != "layer:residual"
                and not any(n.startswith(dotted + ".") and v == "param" for n, v in names.items())):
            raise cur.error(f"{dotted} has no parameters", col, "grad_norm() of a layer with "
                            "weights, or of one parameter such as dense1.W")
    elif k != "?":
        want = ("relu",) if kind == "dead_relu" else tuple(D.SATURATING)
        if not (k.startswith("layer:") and k[6:] in want):
            ok = [n for n, v in names.items() if v.startswith("layer:") and v[6:] in want]
            raise cur.error(f"{kind}() takes a {' or '.join(want)} layer; {dotted!r} is "
                            f"{'a ' + k[6:] + ' layer' if k.startswith('layer') else 'not a layer'}",
                            col, ("layers: " + ", ".join(ok)) if ok else None)
    return ref


def _check_present(cur, kind, names, col) -> None:
    if names is None or names.kind != "network" or kind not in ("dead_relu", "saturated"):
        return
    want = ("relu",) if kind == "dead_relu" else tuple(D.SATURATING)
    if not any(k.startswith("layer:") and k[6:] in want for k in names.values()):
        raise cur.error(f"this network has no {' or '.join(want)} layer", col)


# ------------------------------------------------------------------ checks: step mode
def _where(step) -> str:
    return f"at {step.phase} {step.node}"


def _bad_text(what: str, label: str, a) -> str | None:
    n = D.nonfinite_count(a, what)
    if not n:
        return None
    a = np.asarray(a)
    kind = _WHAT[what] if what != "nonfinite" else ("NaN" if np.isnan(a).any() else "Inf")
    return f"{kind} in {label}" + (f" = {num(a.reshape(-1)[0])}" if a.size == 1
                                   else f" ({n} of {a.size} values)")


def _produced(session) -> list[tuple[str, np.ndarray]]:
    """What the current step wrote: its value, the gradients it added, local gradients."""
    prog, tape, st = session.program, session.tape, session.current
    if prog.kind == "graph":
        if st.phase == "forward":
            return [(st.node, tape.values[st.node])]
        g = prog.nodes[st.node]
        out = [(f"{st.node}.grad", tape.grads[st.node])] if st.node == prog.output else []
        out += [(f"{a}.grad", tape.grads[a]) for a in g.args]
        return out + [(f"local d{st.node}/d{a}", la) for a, la in zip(g.args, tape.local[st.node])]
    idx = D.index(prog)
    if st.phase == "forward":
        return [(st.node, tape.values[st.node])]
    if st.phase == "update":
        return [(st.node, tape.values[st.node])]
    below = idx.last if st.node == D.LOSS else idx.prev[st.node]
    out = [(f"{below}.grad", tape.grads[below])] if below in tape.grads else []
    return out + [(f"{k}.grad", tape.grads[k]) for k in idx.param_grads_at.get(st.index, ())]


def _step_nonfinite(bp: Breakpoint, session) -> str | None:
    st = session.current
    if bp.ref is None:
        arrays = _produced(session)
    elif st.index in D.producers(session.program, bp.ref):
        arr, _ = D.read_step(session, bp.ref)
        arrays = [] if arr is None else [(bp.ref.text, arr)]
    else:
        return None
    for label, a in arrays:
        text = _bad_text(bp.kind, label, a)
        if text:
            return f"{text} {_where(st)}"
    return None


def _step_loss(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    if prog.kind == "graph":
        if st.phase != "forward" or st.node != prog.output:
            return None
        v = session.tape.values[st.node]
        if np.size(v) != 1:
            return None
    elif st.phase != "forward" or st.node != D.LOSS:
        return None
    else:
        v = session.tape.values[D.LOSS]
    v = float(np.asarray(v).reshape(-1)[0])
    return f"{bp._cmp('loss', v)} {_where(st)}" if bp._holds(v) else None


def _grad_keys(bp: Breakpoint, prog) -> list[str]:
    """The parameters (network) or names (graph) whose gradients grad_norm measures."""
    if prog.kind == "graph":
        return [bp.ref.name] if bp.ref is not None else list(prog.inputs)
    if bp.ref is None:
        return list(prog.param_layers)
    if bp.ref.name in prog.param_layers:
        return [bp.ref.name]
    idx = D.index(prog)
    return [k for k, (layer, _) in prog.param_layers.items()
            if layer.name == bp.ref.name or idx.top[layer.name] == bp.ref.name]


def _step_grad_norm(bp: Breakpoint, session) -> str | None:
    prog, st, tape = session.program, session.current, session.tape
    keys = _grad_keys(bp, prog)
    if prog.kind == "graph":
        if st.index != D.index(prog).last:
            return None
        v = float(np.sqrt(sum(D.sq(prog.grad_of(tape, k)) for k in keys)))
    else:
        made = D.index(prog).param_grads_at.get(st.index, ())
        if not keys or not any(k in made for k in keys) or not all(k in tape.grads for k in keys):
            return None
        v = float(np.sqrt(D.grad_sq(prog, keys)))     # the layers' grads: those on the tape
    return f"{bp._cmp(bp.label, v)} {_where(st)}" if bp._holds(v) else None


def _share_layers(bp: Breakpoint, prog):
    idx = D.index(prog)
    if bp.ref is not None:
        layer = idx.layers.get(bp.ref.name)
        return [layer] if layer is not None else []
    return idx.relus if bp.kind == "dead_relu" else idx.sats


def _share(bp: Breakpoint, prog) -> tuple[float, str] | None:
    layers = _share_layers(bp, prog)
    counts = (D.dead_share if bp.kind == "dead_relu" else D.saturated_share)(layers)
    if not layers or counts is None or not counts[1]:
        return None
    part, whole = counts
    v = part / whole
    what = "units" if bp.kind == "dead_relu" else "values"
    return (v, f"{bp._cmp(bp.label, v)} ({part} of {whole} {what})") if bp._holds(v) else None


def _step_share(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    if prog.kind == "graph" or st.phase != "forward":
        return None
    if st.index != D.index(prog).last_fwd(_share_layers(bp, prog)):
        return None
    got = _share(bp, prog)
    return f"{got[1]} {_where(st)}" if got else None


def _edge(bp: Breakpoint, prog, it: int) -> bool:
    """iteration/epoch: the condition holds at `it` and did not at the iteration before."""
    of = (lambda i: i) if bp.kind == "iteration" else prog.epoch_of
    return bp._holds(of(it)) and (it == 0 or not bp._holds(of(it - 1)))


def _time_text(bp: Breakpoint, prog, it: int) -> str:
    if bp.kind == "iteration":
        return f"iteration {it} ({bp.text})"
    return f"epoch {prog.epoch_of(it)} begins at iteration {it} ({bp.text})"


def _step_time(bp: Breakpoint, session) -> str | None:
    prog, st = session.program, session.current
    if prog.kind == "graph" or st.index != 0 or not _edge(bp, prog, prog.iteration):
        return None
    return f"{_time_text(bp, prog, prog.iteration)} {_where(st)}"


def _matches(bp: Breakpoint, prog, st) -> bool:
    if bp.kind == "step":
        return st.node == D.node_of(prog, bp.node) and (not bp.phase or st.phase == bp.phase)
    if not st.layer:
        return False
    if st.layer == bp.node:
        return True
    top = D.index(prog).top
    if st.phase == "update":              # a parameter of a layer inside block bp.node
        return top.get(st.layer) == bp.node
    return top.get(bp.node) == st.layer   # bp.node runs inside the block st.layer


def _step_position(bp: Breakpoint, session) -> str | None:
    st = session.current
    return f"{bp.text}: {_where(st)}" if _matches(bp, session.program, st) else None


_STEP = {**{k: _step_nonfinite for k in NONFINITE}, "loss": _step_loss,
         "grad_norm": _step_grad_norm, "dead_relu": _step_share, "saturated": _step_share,
         "iteration": _step_time, "epoch": _step_time,
         "step": _step_position, "layer": _step_position}


# ------------------------------------------------------------------ checks: run mode
def _ran(prog) -> int | None:
    it = prog.iteration - 1
    return it if 0 <= it < len(prog.losses) else None


def _output(idx, layer, prog, it):
    y = layer.cache.get("y")
    return y if y is not None else D.read_fast(prog, D.Ref(layer.name))[0]


def _fast_nonfinite(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    if it is None:
        return None
    if bp.ref is not None:
        arr, _ = D.read_fast(prog, bp.ref)
        arrays = [] if arr is None else [(bp.ref.text, arr)]
    else:                                  # suspects, in step order; a dot screens each
        idx = D.index(prog)
        arrays = [(la.name, y) for la in prog.layers
                  if (y := _output(idx, la, prog, it)) is not None and not D.quick_finite(y)]
        if not np.isfinite(prog.losses[it]):
            arrays.append((D.LOSS, np.float64(prog.losses[it])))
        packed = prog.packed
        if not (packed is not None and packed.intact() and D.quick_finite(packed.w)
                and D.quick_finite(packed.g)):
            keys = sorted(prog.param_layers, key=lambda k: idx.bwd[idx.owner_top[k]])
            arrays += [(f"{k}.grad", D.read_fast(prog, D.Ref(k, True))[0]) for k in keys]
            arrays += [(k, D.read_fast(prog, D.Ref(k))[0]) for k in prog.param_layers]
    for label, a in arrays:
        text = _bad_text(bp.kind, label, a)
        if text:
            return f"{text} in iteration {it}"
    return None


def _fast_loss(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    if it is None or not bp._holds(prog.losses[it]):
        return None
    return f"{bp._cmp('loss', prog.losses[it])} in iteration {it}"


def _fast_grad_norm(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    keys = _grad_keys(bp, prog)
    if it is None or not keys:
        return None
    v = float(np.sqrt(D.grad_sq(prog, keys)))
    return f"{bp._cmp(bp.label, v)} in iteration {it}" if bp._holds(v) else None


def _fast_share(bp: Breakpoint, prog) -> str | None:
    it = _ran(prog)
    got = None if it is None else _share(bp, prog)
    return f"{got[1]} in iteration {it}" if got else None


def _fast_time(bp: Breakpoint, prog) -> str | None:
    it = prog.iteration - 1
    return _time_text(bp, prog, it) if it >= 0 and _edge(bp, prog, it) else None


def _fast_position(bp: Breakpoint, prog) -> str | None:
    if not any(_matches(bp, prog, st) for st in prog.steps):
        return None
    return f"the next iteration will reach {bp.text}"


_FAST = {**{k: _fast_nonfinite for k in NONFINITE}, "loss": _fast_loss,
         "grad_norm": _fast_grad_norm, "dead_relu": _fast_share, "saturated": _fast_share,
         "iteration": _fast_time, "epoch": _fast_time,
         "step": _fast_position, "layer": _fast_position}


# ------------------------------------------------------------------ the collection
class Breakpoints:
    """An ordered list of breakpoints; the first enabled one that holds wins."""

    def __init__(self, items: Iterable[Breakpoint] = ()):
        self.items: list[Breakpoint] = list(items)

    @classmethod
    def from_spec(cls, texts: Iterable[str], names=None, *, file: str | None = None,
                  line: int | None = None) -> "Breakpoints":
        """From `[debug] breakpoints`; errors point at that key."""
        out = cls()
        for text in texts:
            try:
                out.add(text, names)
            except TuinnError as err:
                err.file, err.line, err.key = err.file or file, err.line or line, "debug.breakpoints"
                raise
        return out

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Breakpoint:
        return self.items[i]

    def list(self) -> list[Breakpoint]:
        return list(self.items)

    def add(self, bp: Breakpoint | str, names=None) -> Breakpoint:
        """Add (parsing text); a breakpoint with the same text is returned, not doubled."""
        if isinstance(bp, str):
            bp = parse_breakpoint(bp, names)
        for old in self.items:
            if old.text == bp.text:
                return old
        self.items.append(bp)
        return bp

    def find(self, which: int | str | Breakpoint) -> Breakpoint:
        if isinstance(which, Breakpoint) and which in self.items:
            return which
        if isinstance(which, int) and not isinstance(which, bool) and 0 <= which < len(self.items):
            return self.items[which]
        if isinstance(which, str):
            for bp in self.items:
                if bp.text == which.strip():
                    return bp
        raise TuinnError(f"no breakpoint {which!r}", hint=did_you_mean(
            str(which), [b.text for b in self.items]))

    def remove(self, which: int | str | Breakpoint) -> Breakpoint:
        bp = self.find(which)
        self.items.remove(bp)
        return bp

    def toggle(self, which: int | str | Breakpoint, enabled: bool | None = None) -> bool:
        """Flip (or set) enabled; returns the new state."""
        bp = self.find(which)
        bp.enabled = (not bp.enabled) if enabled is None else bool(enabled)
        return bp.enabled

    @property
    def active(self) -> list[Breakpoint]:
        return [bp for bp in self.items if bp.enabled]

    def first_hit_fast(self, program) -> tuple[Breakpoint, str] | None:
        """After one train_iteration: the first enabled breakpoint hit (its count +1)."""
        for bp in self.items:
            if bp.enabled:
                reason = bp.check_fast(program)
                if reason:
                    bp.hits += 1
                    return bp, reason
        return None

    def first_hit_step(self, session) -> tuple[Breakpoint, str] | None:
        """After a step: the first enabled breakpoint that holds there (its count +1)."""
        for bp in self.items:
            if bp.enabled:
                reason = bp.check_step(session)
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


def run_to_hit(session, breakpoints: Breakpoints, max_steps: int = 100_000) -> tuple[Breakpoint, str] | None:
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
