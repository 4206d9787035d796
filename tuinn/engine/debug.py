"""Provides the core shared by breakpoints and watches: a safe tokenizer, tensor names.

A tensor name is `input`, `loss`, a layer (`dense1`: its output), a parameter
(`dense1.W`), a layer cache array (`lstm1.f`) or, in a graph, an input or an assigned
name; `NAME.grad` is dL/dNAME (a graph: d output/dNAME). `read_step` reads one from a
Session (step mode: only what this pass has computed so far), `read_fast` from a
NetworkProgram after `train_iteration` (run mode). Nothing here evaluates Python.
"""

from __future__ import annotations

import re
import weakref
from collections import namedtuple
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario.expr import did_you_mean as _close

INPUT, LOSS = "input", "loss"
PHASES = ("forward", "backward", "update")
#: cache keys each layer type fills; keys starting with "d" are written by the backward pass
CACHE_KEYS = {
    "dense": ("x", "y"), "relu": ("mask", "y"), "leaky_relu": ("mask", "y"),
    "sigmoid": ("y",), "tanh": ("y",), "dropout": ("mask",), "flatten": (),
    "conv2d": ("x", "y", "dy", "dx"), "maxpool": ("x", "y", "argmax", "dy", "dx"),
    "avgpool": ("x", "y", "dy", "dx"), "residual": ("x", "fx", "y"),
    "rnn": ("h", "dh", "da"),
    "lstm": ("i", "f", "g", "o", "c", "h", "dh", "dc", "di", "df", "dg", "do"),
    "gru": ("r", "z", "n", "h", "dh", "dr", "dz", "dn"),
}
#: arrays that saturate: layer type -> ((cache key, "sigmoid" | "tanh"), ...)
SATURATING = {"sigmoid": (("y", "sigmoid"),), "tanh": (("y", "tanh"),),
              "lstm": (("i", "sigmoid"), ("f", "sigmoid"), ("g", "tanh"), ("o", "sigmoid")),
              "gru": (("r", "sigmoid"), ("z", "sigmoid"), ("n", "tanh")),
              "rnn": (("h", "tanh"),)}
GRADABLE = ("input", "layer", "param", "value", "?")     # kinds that have a .grad


# ------------------------------------------------------------------ names
def did_you_mean(word: str, options) -> str | None:
    """A hint naming the closest option (a different case first: dense1.w -> dense1.W)."""
    options = list(options)
    same = [o for o in options if o.lower() == word.lower()]
    return f"did you mean {same[0]!r}?" if same else _close(word, options)


class Names(dict):
    """name -> kind: "input", "loss", "layer:<type>", "param", "cache", "value" (graph),
    or "?" (unknown: names given as a plain list). `kind` is the program's kind and
    `steps` the (phase, node) pairs of its steps, where known."""

    def __init__(self, items=(), kind: str | None = None, steps: frozenset | None = None):
        super().__init__(items)
        self.kind = kind
        self.steps = steps


def debug_names(program) -> Names:
    """Every name a breakpoint or a watch on `program` may use, with its kind."""
    steps = {(st.phase, st.node) for st in program.steps}
    if program.kind == "graph":
        out = Names({n: "input" for n in program.inputs}, "graph")
        for g in program.spec.gates:
            out[g.id] = "value"
        for name, node in program.spec.names.items():
            out.setdefault(name, "value")
            steps |= {(p, name) for p, n in list(steps) if n == node}
        out.steps = frozenset(steps)
        return out
    out = Names({INPUT: "input", LOSS: "loss"}, "network", frozenset(steps))
    for layer in index(program).layers.values():
        out[layer.name] = f"layer:{layer.type}"
        for k in dict.fromkeys(CACHE_KEYS.get(layer.type, ()) + tuple(layer.cache)):
            out[f"{layer.name}.{k}"] = "cache"
    for key in program.param_layers:
        out[key] = "param"
    return out


def as_names(names) -> Names | None:
    """`names` as Names: None stays None (no checking of names), a plain list gets "?"."""
    if names is None or isinstance(names, Names):
        return names
    if isinstance(names, Mapping):
        return Names(names)
    return Names({n: n if n in (INPUT, LOSS) else "?" for n in names})


# ------------------------------------------------------------------ tokens
Tok = namedtuple("Tok", "kind text col")            # kind: num | name | op | end
_NUM = re.compile(r"[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")
_OPS = ("<=", ">=", "==", "!=", "<", ">", "(", ")", ".", ",", "-", "+")
_BAD = {"'": "strings are not allowed", '"': "strings are not allowed",
        "[": "indexing is not supported", "]": "indexing is not supported",
        "=": "use '==' to compare", ";": "one breakpoint or watch per entry"}


class Cursor:
    """Tokens of one breakpoint or watch, with errors that name the text and column."""

    def __init__(self, text: str, what: str):
        self.text, self.what = text, what
        self.toks = self._tokenize(text)
        self.k = 0

    def error(self, message: str, col: int, hint: str | None = None) -> TuinnError:
        return TuinnError(f"{self.what} {self.text!r}: {message} (column {col + 1})", hint=hint)

    def _tokenize(self, text: str) -> list[Tok]:
        out, i, n = [], 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
                continue
            after_name = out and (out[-1].kind == "name" or out[-1].text == ")")
            m = _NUM.match(text, i) if c.isdigit() or (c == "." and not after_name) else None
            if m:
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] in "_."):
                    raise self.error(f"malformed number {text[i:end + 1]!r}", i)
                out.append(Tok("num", m.group(), i))
                i = end
                continue
            m = _NAME.match(text, i)
            if m:
                if m.group().startswith("__"):
                    raise self.error(f"names starting with '__' are not allowed "
                                     f"({m.group()!r})", i, "only tensor names and numbers")
                out.append(Tok("name", m.group(), i))
                i = m.end()
                continue
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise self.error(_BAD.get(c, f"unexpected character {c!r}"), i)
            out.append(Tok("op", op, i))
            i += len(op)
        out.append(Tok("end", "", n))
        return out

    # -------------------------------------------------------------- reading
    def peek(self, ahead: int = 0) -> Tok:
        return self.toks[min(self.k + ahead, len(self.toks) - 1)]

    def take(self) -> Tok:
        tok = self.peek()
        self.k = min(self.k + 1, len(self.toks) - 1)
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    @staticmethod
    def show(tok: Tok) -> str:
        return "the end" if tok.kind == "end" else repr(tok.text)

    def dotted(self, expected: str) -> tuple[str, int]:
        """NAME ('.' NAME)*, as one string, and its column."""
        tok = self.take()
        if tok.kind != "name":
            raise self.error(f"expected {expected}, got {self.show(tok)}", tok.col)
        parts = [tok.text]
        while self.at("."):
            dot = self.take()
            part = self.take()
            if part.kind != "name":
                raise self.error(f"expected a name after '.', got {self.show(part)}",
                                 part.col if part.kind != "end" else dot.col + 1)
            parts.append(part.text)
        return ".".join(parts), tok.col

    def number(self, after: str) -> tuple[float, int]:
        sign, col = 1.0, self.peek().col
        if self.at("-", "+"):
            sign = -1.0 if self.take().text == "-" else 1.0
        tok = self.take()
        if tok.kind != "num":
            raise self.error(f"expected a number after {after!r}, got {self.show(tok)}",
                             tok.col)
        return sign * float(tok.text), col

    def end(self, after: str) -> None:
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {self.show(tok)} after {after}", tok.col)


# ------------------------------------------------------------------ references
@dataclass(frozen=True)
class Ref:
    """A tensor: `name` (dense1.W, lstm1.f, loss, x) or, with `grad`, its gradient."""
    name: str
    grad: bool = False
    kind: str = "?"

    @property
    def text(self) -> str:
        return self.name + (".grad" if self.grad else "")


def _listing(names: Names) -> str:
    shown = [n for n, k in names.items() if k != "cache"][:12]
    return "names: " + ", ".join(shown) + (", ..." if len(names) > len(shown) else "")


def resolve(cur: Cursor, dotted: str, col: int, names: Names | None) -> Ref:
    """The Ref a dotted name stands for, checked against `names` (if given)."""
    grad = dotted.endswith(".grad")
    base = dotted[:-5] if grad else dotted
    if grad and (base.endswith(".grad") or base == "grad"):
        raise cur.error(f"{dotted!r}: a gradient has no gradient here", col,
                        f"write {base!r}")
    if names is None:
        return Ref(base, grad)
    kind = names.get(base)
    if kind is None:
        raise cur.error(f"no tensor named {base!r}", col,
                        did_you_mean(base, names) or _listing(names))
    if grad and kind.split(":")[0] not in GRADABLE:
        if kind == "loss":
            raise cur.error("loss.grad is 1 by definition", col, "watch loss, or a .grad "
                            "of a layer or parameter")
        layer, key = base.rsplit(".", 1)
        raise cur.error(f"{base!r} is a cache array of {layer}: its gradient is not kept",
                        col, "backward keys start with d (e.g. lstm1.df = dL/d(f's "
                        "pre-activation)); or watch the layer's output gradient "
                        f"{layer}.grad")
    return Ref(base, grad, kind)


# ------------------------------------------------------------------ program index
class NetIndex:
    """Where things happen in a NetworkProgram's steps (built once per program)."""

    def __init__(self, prog):
        self.layers, self.top, self.prev = {}, {}, {}    # every layer; its top-level layer; its input
        prev = INPUT
        for layer in prog.layers:
            self.layers[layer.name], self.top[layer.name] = layer, layer.name
            self.prev[layer.name] = inner = prev
            for sub in layer.sublayers():
                self.layers[sub.name], self.top[sub.name] = sub, layer.name
                self.prev[sub.name], inner = inner, sub.name
            prev = layer.name
        self.last = prev                                  # the output layer (or input)
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
        self.writers: dict[str, list[int]] = {}           # node -> backward steps adding to its grad
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
        idx.names = debug_names(program)
    return idx


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
    kind = idx.names.get(ref.name, "?").split(":")[0]
    if kind == "input":
        return (idx.grad_writer[INPUT],) if ref.grad and INPUT in idx.grad_writer else (0,)
    if kind == "loss":
        return (idx.loss_fwd,)
    if kind == "param":
        return (idx.bwd[idx.owner_top[ref.name]] if ref.grad else idx.update[ref.name],)
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
    """A layer's output from its cache; `source(name)` gives the input (and top-level
    outputs, where known) for layers that keep no output (flatten, dropout)."""
    if name == INPUT:
        return source(INPUT)
    layer = idx.layers[name]
    cache = layer.cache
    if "y" in cache:
        return cache["y"]
    if layer.type in ("rnn", "lstm", "gru"):
        h = cache.get("h")                                            # (N, T, H)
        return h if h is None or layer.seq else h[:, -1]
    if layer.type in ("flatten", "dropout"):
        x = layer_output(idx, idx.prev[name], source)
        if x is None:
            return None
        if layer.type == "flatten":
            return x.reshape(len(x), -1)
        mask = cache.get("mask")
        return x * mask if mask is not None and mask.shape == x.shape else None
    return None


def read_step(session, ref: Ref) -> tuple[np.ndarray | None, str]:
    """`ref` as this pass has computed it so far; (None, why) when it has not."""
    prog, tape = session.program, session.tape
    if prog.kind == "graph":
        if node_of(prog, ref.name) not in prog.nodes and ref.name not in prog.inputs:
            return None, f"no tensor named {ref.name}"
        arr = prog.grad_of(tape, ref.name) if ref.grad else prog.value_of(tape, ref.name)
        return arr, "" if arr is not None else "not yet"
    idx = index(prog)
    kind = idx.names.get(ref.name)
    if kind is None:
        return None, f"no tensor named {ref.name}"
    kind = kind.split(":")[0]
    arr = None
    if kind in ("input", "loss"):
        arr = (tape.grads if ref.grad else tape.values).get(ref.name)
    elif kind == "param":
        layer, k = prog.param_layers[ref.name]
        arr = tape.grads.get(ref.name) if ref.grad else layer.params[k]
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
    kind = idx.names.get(ref.name)
    if kind is None:
        return None, f"no tensor named {ref.name}"
    kind = kind.split(":")[0]
    it = program.iteration - 1
    if kind != "param" and not 0 <= it < len(program.losses):
        return None, "no iteration run yet"
    arr, why = None, "not kept in run mode"
    if kind == "param":
        layer, k = program.param_layers[ref.name]
        arr = layer.grads[k] if ref.grad else layer.params[k]
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


# ------------------------------------------------------------------ measures
def sq(a) -> float:
    """Sum of squares in float64 (one BLAS dot: the same bits for the same values)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(np.dot(a, a))


def quick_finite(a) -> bool:
    """True when `a` holds no NaN or Inf (a single dot; a False may be an overflow of
    huge values: confirm with nonfinite_count)."""
    a = np.asarray(a).ravel()
    return bool(np.isfinite(np.dot(a, a))) if a.dtype.kind == "f" else True


def grad_sq(program, keys: list[str]) -> float:
    """Sum of squares of the parameters' gradients in the layers (`keys`, all of them
    from the packed buffer when it is intact)."""
    packed = program.packed
    if packed is not None and len(keys) == len(program.param_layers) and packed.intact():
        return sq(packed.g)
    return sum(sq(layer.grads[k]) for layer, k in (program.param_layers[key] for key in keys))


def dead_share(layers) -> tuple[int, int] | None:
    """(dead units, units) over relu layers: a unit is dead when its output is 0 for
    every sample of the batch; None when a layer has not run."""
    dead = units = 0
    for layer in layers:
        y = layer.cache.get("y")
        if y is None:
            return None
        alive = (y.reshape(len(y), -1) != 0).any(axis=0)            # (units,)
        dead += alive.size - int(np.count_nonzero(alive))
        units += alive.size
    return dead, units


def saturated_share(layers) -> tuple[int, int] | None:
    """(saturated values, values): sigmoid outputs < 0.05 or > 0.95, tanh |y| > 0.95."""
    sat = total = 0
    for layer in layers:
        for key, fn in SATURATING[layer.type]:
            a = layer.cache.get(key)
            if a is None:
                return None
            if fn == "sigmoid":
                sat += int(np.count_nonzero((a < 0.05) | (a > 0.95)))
            else:
                sat += int(np.count_nonzero(np.abs(a) > 0.95))
            total += a.size
    return sat, total


def nonfinite_count(a, what: str) -> int:
    """How many values of `a` are NaN ("nan"), +-Inf ("inf") or either ("nonfinite")."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return 0
    if what == "nan":
        return int(np.count_nonzero(np.isnan(a)))
    if what == "inf":
        return int(np.count_nonzero(np.isinf(a)))
    return int(a.size - np.count_nonzero(np.isfinite(a)))
