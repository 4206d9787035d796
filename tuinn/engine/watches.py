"""Provides watches, and the reading of named tensors that breakpoints share with them.

    dense1.W   dense1.W.grad   dense1   dense1.grad   lstm1.f   loss   input   x   q.grad
    attn1.A   bn1.running_var   lstm1.f_r   (cache arrays, buffers, a reverse direction)
    norm(x) mean(x) std(x) max(x) min(x) abs(x) sum(x)      max(abs(dense1.W.grad))

`read_step` reads a tensor from a Session (step mode: only what this pass has computed
so far), `read_fast` from a NetworkProgram after `train_iteration` (run mode). The
measures the breakpoints use (norms, dead units, saturation, NaN counts) live in
tuinn/engine/debug_measures.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tuinn.engine import debug as D
from tuinn.engine.debuglist import TextList
from tuinn.engine.debug import INPUT, LOSS, SATURATING, Ref
from tuinn.engine.debug_measures import (dead_share, grad_sq, nonfinite,  # noqa: F401
                                         quick_finite, saturated_share, sq)
from tuinn.errors import TuinnError
from tuinn.fmt import num, summary


# ------------------------------------------------------------------ where things happen
class NetIndex:
    """Where things happen in a NetworkProgram's steps (built once per program)."""

    def __init__(self, prog):
        self.layers, self.top, self.prev = {}, {}, {}    # every layer, its top layer, its input

        def walk(layers, prev: str, top: str | None) -> str:
            for layer in layers:                          # residual blocks nest: the first
                self.layers[layer.name] = layer           # layer inside reads the block's
                self.top[layer.name] = top or layer.name  # input
                self.prev[layer.name] = prev
                walk(layer.children(), prev, top or layer.name)
                prev = layer.name
            return prev
        self.last = walk(prog.layers, INPUT, None)        # the output layer (or input)
        self.fwd, self.bwd, self.update = {}, {}, {}
        self.loss_fwd = self.loss_bwd = -1
        for st in prog.steps:
            if st.node == LOSS and st.phase != "update":
                if st.phase == "forward":
                    self.loss_fwd = st.index
                else:
                    self.loss_bwd = st.index
            else:
                {"forward": self.fwd, "backward": self.bwd, "update": self.update}[st.phase][
                    st.node] = st.index
        tops = [layer.name for layer in prog.layers]
        #: the step that writes tape.grads[name] (dL/d output of a top-level layer, input)
        self.grad_writer = {n: self.bwd[tops[i + 1]] if i + 1 < len(tops) else self.loss_bwd
                            for i, n in enumerate(tops)}
        if tops:
            self.grad_writer[INPUT] = self.bwd[tops[0]]
        self.owner_top = {key: self.top[layer.name]
                          for key, (layer, _) in prog.param_layers.items()}
        self.param_grads_at: dict[int, list[str]] = {}    # backward step -> param keys
        for key, top in self.owner_top.items():
            self.param_grads_at.setdefault(self.bwd[top], []).append(key)
        #: buffers (running statistics): the top layer whose forward step updates each,
        #: and forward step -> buffer keys
        self.buffer_top = {key: self.top[layer.name]
                           for key, (layer, _) in getattr(prog, "buffer_layers", {}).items()}
        self.buffers_at: dict[int, list[str]] = {}
        for key, top in self.buffer_top.items():
            self.buffers_at.setdefault(self.fwd[top], []).append(key)
        self.relus = [la for la in self.layers.values() if la.type == "relu"]
        self.sats = [la for la in self.layers.values() if la.type in SATURATING]
        self.names = None                                  # filled by index()

    def last_fwd(self, layers) -> int:
        return max((self.fwd[self.top[la.name]] for la in layers), default=-1)


class GraphIndex:
    """Where each node's value and gradient are written in a GraphProgram."""

    def __init__(self, prog):
        self.fwd = {st.node: st.index for st in prog.steps if st.phase == "forward"}
        self.bwd = {st.node: st.index for st in prog.steps if st.phase == "backward"}
        self.writers: dict[str, list[int]] = {}           # node -> steps adding to its grad
        for g in prog.spec.gates:
            self.writers.setdefault(g.id, []).append(self.bwd[g.id])
            for a in g.args:
                self.writers.setdefault(a, []).append(self.bwd[g.id])
        self.last = len(prog.steps) - 1
        self.names = None


_INDEX: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def index(program) -> NetIndex | GraphIndex:
    idx = _INDEX.get(program)
    if idx is None:
        idx = _INDEX[program] = (GraphIndex if program.kind == "graph" else NetIndex)(program)
        idx.names = D.debug_names(program)
    return idx


def kind_of(idx: NetIndex, name: str) -> str | None:
    """"input", "loss", "layer", "param", "buffer" or "cache" (None: no such tensor)."""
    kind = idx.names.get(name)
    if kind is None and name.rpartition(".")[0] in idx.layers:
        kind = "cache"                     # a cache key of a layer type added since
    return None if kind is None else kind.split(":")[0]


def node_of(program, name: str) -> str:
    """A graph's node id for a name (assigned names may differ from node ids)."""
    return program.spec.names.get(name, name) if program.kind == "graph" else name


def producers(program, ref: Ref) -> tuple[int, ...]:
    """The steps of a pass that write `ref` (its value, or its gradient)."""
    idx = index(program)
    if program.kind == "graph":
        node = node_of(program, ref.name)
        if ref.grad:
            return tuple(idx.writers.get(node, ()))
        return (idx.fwd[node],) if node in idx.fwd else (0,)
    kind = kind_of(idx, ref.name)
    if kind == "input":
        return (idx.grad_writer[INPUT],) if ref.grad and INPUT in idx.grad_writer else (0,)
    if kind == "loss":
        return (idx.loss_fwd,)
    if kind == "param":
        return (idx.bwd[idx.owner_top[ref.name]] if ref.grad else idx.update[ref.name],)
    if kind == "buffer":                   # a training forward step updates it
        return (idx.fwd[idx.buffer_top[ref.name]],)
    if kind == "layer":
        if ref.grad:
            return (idx.grad_writer[ref.name],) if ref.name in idx.grad_writer else ()
        return (idx.fwd[idx.top[ref.name]],)
    if kind == "cache":
        layer, key = ref.name.rsplit(".", 1)
        top = idx.top[layer]
        return (idx.bwd[top] if key.startswith("d") else idx.fwd[top],)
    return ()


# ------------------------------------------------------------------ reading tensors
def layer_output(idx: NetIndex, name: str, source) -> np.ndarray | None:
    """A layer's output from its cache (flatten and dropout keep none: from their input's);
    `source(INPUT)` gives the batch."""
    if name == INPUT:
        return source(INPUT)
    layer = idx.layers[name]
    cache = layer.cache
    if "y" in cache:
        return cache["y"]
    if layer.type in ("rnn", "lstm", "gru"):
        h = cache.get("h")                                            # (N, T, H)
        if h is None or not getattr(layer, "bi", False):
            return h if h is None or layer.seq else h[:, -1]
        hr = cache.get("h_r")                                         # indexed by t
        if hr is None:
            return None
        if layer.seq:                                                 # (N, T, 2H)
            return np.concatenate([h, hr], axis=-1)
        return np.concatenate([h[:, -1], hr[:, 0]], axis=-1)          # (N, 2H)
    if layer.type in ("flatten", "dropout"):
        x = layer_output(idx, idx.prev[name], source)
        if x is None:
            return None
        if layer.type == "flatten":
            return x.reshape(len(x), -1)
        mask = cache.get("mask")
        return x * mask if mask is not None and mask.shape == x.shape else None
    return None


def buffer_of(program, key: str) -> np.ndarray:
    """A buffer (bn1.running_var) as it is now: the layer's own array."""
    layer, k = program.buffer_layers[key]
    return layer.running[k]


def read_step(session, ref: Ref) -> tuple[np.ndarray | None, str]:
    """`ref` as this pass has computed it so far; (None, why) when it has not."""
    prog, tape = session.program, session.tape
    if prog.kind == "graph":
        if node_of(prog, ref.name) not in prog.nodes and ref.name not in prog.inputs:
            return None, f"no tensor named {ref.name}"
        arr = prog.grad_of(tape, ref.name) if ref.grad else prog.value_of(tape, ref.name)
        return arr, "" if arr is not None else "not yet"
    idx = index(prog)
    kind, arr = kind_of(idx, ref.name), None
    if kind is None:
        return None, f"no tensor named {ref.name}"
    if kind in ("input", "loss"):
        arr = (tape.grads if ref.grad else tape.values).get(ref.name)
    elif kind == "param":
        layer, k = prog.param_layers[ref.name]
        arr = tape.grads.get(ref.name) if ref.grad else layer.params[k]
    elif kind == "buffer":                 # as it is now (updated by the forward step)
        arr = buffer_of(prog, ref.name)
    elif kind == "layer" and idx.top[ref.name] == ref.name:
        arr = (tape.grads if ref.grad else tape.values).get(ref.name)
    elif kind == "layer":
        if ref.grad:
            return None, "not kept for layers inside a residual block"
        if session.executed(idx.fwd[idx.top[ref.name]]):
            arr = layer_output(idx, ref.name, lambda n: tape.values.get(n))
    elif kind == "cache" and session.executed(producers(prog, ref)[0]):
        layer, key = ref.name.rsplit(".", 1)
        arr = idx.layers[layer].cache.get(key)
    return arr, "" if arr is not None else "not yet"


def read_fast(program, ref: Ref) -> tuple[np.ndarray | None, str]:
    """`ref` after `program.train_iteration()`: parameters as updated, their gradients,
    the layer caches and the loss of the iteration just run."""
    if program.kind == "graph":
        return None, "a graph has no run mode"
    idx = index(program)
    kind = kind_of(idx, ref.name)
    if kind is None:
        return None, f"no tensor named {ref.name}"
    it = program.iteration - 1
    if kind not in ("param", "buffer") and not 0 <= it < len(program.losses):
        return None, "no iteration run yet"
    arr, why = None, "not kept in run mode"
    if kind == "param":
        layer, k = program.param_layers[ref.name]
        arr = layer.grads[k] if ref.grad else layer.params[k]
    elif kind == "buffer":
        arr = buffer_of(program, ref.name)
    elif kind == "loss":
        arr = np.float64(program.losses[it])
    elif ref.grad:
        if ref.name == idx.last and idx.last != INPUT:
            arr = program.loss.cache.get("dout")
    elif kind == "input":
        arr = program.batch(it)[0]
    elif kind == "layer":
        arr = layer_output(idx, ref.name, lambda n: program.batch(it)[0] if n == INPUT else None)
    elif kind == "cache":
        layer, key = ref.name.rsplit(".", 1)
        arr = idx.layers[layer].cache.get(key)
    return arr, "" if arr is not None else why


def produced(session) -> list[tuple[str, np.ndarray]]:
    """What the current step wrote: its value, the gradients it added, local gradients."""
    prog, tape, st = session.program, session.tape, session.current
    if prog.kind == "graph":
        if st.phase == "forward":
            return [(st.node, tape.values[st.node])]
        g = prog.nodes[st.node]
        out = [(f"{st.node}.grad", tape.grads[st.node])] if st.node == prog.output else []
        out += [(f"{a}.grad", tape.grads[a]) for a in g.args]
        return out + [(f"local d{st.node}/d{a}", la) for a, la in zip(g.args, tape.local[st.node])]
    idx = index(prog)
    if st.phase != "backward":             # a layer's output, the loss, an updated parameter
        return [(st.node, tape.values[st.node])] + [       # and the running statistics
            (k, buffer_of(prog, k)) for k in idx.buffers_at.get(st.index, ())]
    below = idx.last if st.node == LOSS else idx.prev[st.node]
    out = [(f"{below}.grad", tape.grads[below])] if below in tape.grads else []
    return out + [(f"{k}.grad", tape.grads[k]) for k in idx.param_grads_at.get(st.index, ())
                  if k in tape.grads]                    # a frozen parameter has none


# ------------------------------------------------------------------ watches
def _reduce(fn):
    def run(a):
        a = np.asarray(a, dtype=np.float64)
        return float(fn(a)) if a.size else float("nan")
    return run


FUNCTIONS = {
    "norm": _reduce(lambda a: np.sqrt(np.sum(a * a))),    # Euclidean (Frobenius) norm
    "mean": _reduce(np.mean), "std": _reduce(np.std),
    "max": _reduce(np.max), "min": _reduce(np.min), "sum": _reduce(np.sum),
    "abs": lambda a: np.abs(a) if isinstance(a, np.ndarray) else abs(a),
}


@dataclass(frozen=True)
class WatchValue:
    text: str
    value: np.ndarray | float | None
    available: bool
    note: str = ""                 # why not available: "not yet", "not kept in run mode"

    def format(self, digits: int = 4) -> str:
        """"0.1234", "(2,16) μ=0.01", or the note."""
        if not self.available:
            return self.note or "not yet"
        if isinstance(self.value, float):
            return num(self.value, digits)
        return summary(self.value, digits)


@dataclass(eq=False)
class Watch:
    text: str
    ref: Ref
    fns: tuple[str, ...] = ()      # outermost first

    def _value(self, arr, note: str) -> WatchValue:
        if arr is None:
            return WatchValue(self.text, None, False, note or "not yet")
        if not self.fns:
            a = np.array(arr, copy=True)
            return WatchValue(self.text, float(a) if a.ndim == 0 else a, True)
        value = arr
        with np.errstate(all="ignore"):
            for fn in reversed(self.fns):
                value = FUNCTIONS[fn](value)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = float(value)
        return WatchValue(self.text, value, True)

    def evaluate(self, session) -> WatchValue:
        """In step mode: not available (note "not yet") until this pass computes it."""
        return self._value(*read_step(session, self.ref))

    def evaluate_program(self, program) -> WatchValue:
        """In run mode, after train_iteration(): parameters (as updated), their gradients,
        the caches and loss of that iteration; layer output gradients are not kept
        (except the output layer's)."""
        return self._value(*read_fast(program, self.ref))


def parse_watch(text: str, names: Iterable[str] | None = None) -> Watch:
    """Parse a watch; TuinnError with the column and a hint when malformed or unknown.
    `names` (debug_names(program), or any list of names) checks tensor names."""
    if not isinstance(text, str):
        raise TuinnError(f"a watch is text, got {type(text).__name__}")
    ref, fns = D.parse_watch_parts(text.strip(), D.as_names(names))
    return Watch(text.strip(), ref, fns)


class Watches(TextList):
    """An ordered list of watches, evaluated together."""

    key = "debug.watch"
    what = "watch"
    parse = staticmethod(lambda text, names=None: parse_watch(text, names))

    def evaluate(self, session) -> list[WatchValue]:
        return [w.evaluate(session) for w in self.items]

    def evaluate_program(self, program) -> list[WatchValue]:
        return [w.evaluate_program(program) for w in self.items]
