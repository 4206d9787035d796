"""Provides the language of breakpoints and watches: tensor names, tokens, grammar.

A tensor name is `input`, `loss`, a layer (`dense1`: its output), a parameter
(`dense1.W`), a layer cache array (`lstm1.f`) or, in a graph, an input or an assigned
name; `NAME.grad` is dL/dNAME (a graph: d output/dNAME). A hand-written tokenizer and
parser turn text into parts; nothing is ever handed to Python to run. Errors are
TuinnError naming the text, the column and, where it helps, a "did you mean".
"""

from __future__ import annotations

import math
import re
from collections import namedtuple
from collections.abc import Mapping
from dataclasses import dataclass

from tuinn.errors import TuinnError
from tuinn.fmt import num, safe
from tuinn.scenario.expr import did_you_mean as _close
from tuinn.scenario.schema import in_range

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
COMPARE = ("<", "<=", ">", ">=", "==")
NONFINITE = ("nan", "inf")             # nan: NaN or Inf (as run mode's stop); inf: +-Inf
METRICS = ("loss", "grad_norm", "dead_relu", "saturated", "iteration", "epoch")
POSITIONAL = ("step", "layer")
#: kind = "gan" only: its losses, the spread of G(z) (mode collapse) and D winning outright
GAN_METRICS = ("d_loss", "g_loss", "spread")
GAN_FLAGS = ("d_wins",)
KINDS = NONFINITE + METRICS + POSITIONAL + GAN_METRICS + GAN_FLAGS
_NETWORK_ONLY = ("dead_relu", "saturated", "iteration", "epoch", "layer")
_GAN = NONFINITE + ("iteration", "epoch", "step") + GAN_METRICS + GAN_FLAGS
WATCH_FUNCTIONS = ("norm", "mean", "std", "max", "min", "sum", "abs")
MAX_DEPTH = 2                      # max(abs(x)): one function inside another
MAX_TEXT = 200                     # characters in one breakpoint or watch
MAX_ENTRIES = 1000                 # breakpoints (or watches) in a [debug] list


# ------------------------------------------------------------------ names
def _q(text: object) -> str:
    """User text quoted for a message (as repr quotes it): short, controls escaped."""
    t = safe(text, limit=40)
    quote = '"' if "'" in t and '"' not in t else "'"
    return quote + t + quote


def did_you_mean(word: str, options) -> str | None:
    """A hint naming the closest option (a different case first: dense1.w -> dense1.W)."""
    options = list(options)
    same = [o for o in options if o.lower() == word.lower()]
    return f"did you mean {_q(same[0])}?" if same else _close(word, options)


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
    if program.kind == "gan":                  # its step nodes and parameters
        out = Names({st.node: "value" for st in program.steps}, "gan", frozenset(steps))
        out.update({key: "param" for key in program.param_layers})
        return out
    out = Names({INPUT: "input", LOSS: "loss"}, "network", frozenset(steps))
    for layer in [la for top in program.layers for la in (top, *top.sublayers())]:
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
        self._check_length(text)
        self.toks = self._tokenize(text)
        self.k = 0

    def error(self, message: str, col: int, hint: str | None = None) -> TuinnError:
        return TuinnError(f"{self.what} {_q(self.text)}: {message} (column {col + 1})", hint=hint)

    def _check_length(self, text: str) -> None:
        if len(text) > MAX_TEXT:
            raise self.error(f"too long ({len(text):,} characters; at most {MAX_TEXT})", 0,
                             "a breakpoint or a watch is one short condition or name")

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
                    raise self.error(f"malformed number {_q(text[i:end + 1])}", i)
                out.append(Tok("num", m.group(), i))
                i = end
                continue
            m = _NAME.match(text, i)
            if m:
                if m.group().startswith("__"):
                    raise self.error(f"names starting with '__' are not allowed "
                                     f"({_q(m.group())})", i, "only tensor names and numbers")
                out.append(Tok("name", m.group(), i))
                i = m.end()
                continue
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise self.error(_BAD.get(c, f"unexpected character {_q(c)}"), i)
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
        return "the end" if tok.kind == "end" else _q(tok.text)

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
            raise self.error(f"expected a number after {_q(after)}, got {self.show(tok)}",
                             tok.col)
        value = float(tok.text)
        if not math.isfinite(value):
            raise self.error(f"the number {_q(tok.text)} is too large", tok.col)
        return sign * value, col

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
        raise cur.error(f"{_q(dotted)}: a gradient has no gradient here", col,
                        f"write {_q(base)}")
    if names is None:
        return Ref(base, grad)
    kind = names.get(base)
    if kind is None:
        raise cur.error(f"no tensor named {_q(base)}", col,
                        did_you_mean(base, names) or _listing(names))
    if grad and kind.split(":")[0] not in GRADABLE:
        if kind == "loss":
            raise cur.error("loss.grad is 1 by definition", col, "watch loss, or a .grad "
                            "of a layer or parameter")
        layer, key = base.rsplit(".", 1)
        raise cur.error(f"{_q(base)} is a cache array of {layer}: its gradient is not kept",
                        col, "backward keys start with d (e.g. lstm1.df = dL/d(f's "
                        "pre-activation)); or watch the layer's output gradient "
                        f"{layer}.grad")
    return Ref(base, grad, kind)


# ------------------------------------------------------------------ breakpoint grammar
def label(kind: str, ref: Ref | None) -> str:
    return kind + (f"({ref.text})" if ref is not None else "")


def parse_breakpoint_parts(text: str, names: Names | None) -> dict:
    """`nan [in T]`, `METRIC[(NAME)] OP NUMBER`, `step [PHASE] NODE`, `layer NAME` as
    the fields of a Breakpoint: kind, op, value, ref, phase, node."""
    cur = Cursor(text, "breakpoint")
    tok = cur.take()
    if tok.kind == "end":
        raise cur.error("empty breakpoint", 0, "for example: nan, loss < 0.05, step dense1")
    if tok.kind != "name" or tok.text not in KINDS:
        hint = did_you_mean(tok.text, KINDS) or "breakpoints: " + ", ".join(KINDS)
        if names and tok.text in names:
            hint = f"to stop on {tok.text}, use nan in {tok.text}, or watch it"
        raise cur.error(f"unknown breakpoint {_q(tok.text)}", tok.col, hint)
    kind = tok.text
    if names is not None and names.kind == "graph" and kind in _NETWORK_ONLY:
        raise cur.error(f"{kind} breakpoints are for network scenarios", tok.col,
                        "in a graph: nan, inf, loss, grad_norm, step NAME")
    if names is not None and names.kind == "gan" and kind not in _GAN:
        raise cur.error(f"{kind} breakpoints are not for gan scenarios", tok.col,
                        "in a gan: nan, inf, d_loss, g_loss, spread, d_wins, iteration, "
                        "epoch, step NAME")
    if names is not None and names.kind != "gan" and kind in GAN_METRICS + GAN_FLAGS:
        raise cur.error(f"{kind} breakpoints are for gan scenarios", tok.col)
    p = {"kind": kind}
    if kind in GAN_FLAGS:
        pass
    elif kind in NONFINITE:
        if cur.peek().kind == "name" and cur.peek().text == "in":
            cur.take()
            p["ref"] = resolve(cur, *cur.dotted("a tensor name after 'in'"), names)
        elif cur.peek().kind != "end":
            raise cur.error(f"expected 'in' or the end after {_q(kind)}, got "
                            f"{cur.show(cur.peek())}", cur.peek().col, f"{kind} in dense1")
    elif kind in POSITIONAL:
        _position(cur, p, names)
    else:
        _metric(cur, p, names, tok.col)
    cur.end("the breakpoint")
    return p


def _position(cur: Cursor, p: dict, names: Names | None) -> None:
    kind = p["kind"]
    if kind == "step" and cur.peek().kind == "name" and cur.peek(1).kind == "name":
        tok = cur.take()
        if tok.text not in PHASES:
            raise cur.error(f"unknown phase {_q(tok.text)}", tok.col,
                            did_you_mean(tok.text, PHASES) or "phases: " + ", ".join(PHASES))
        p["phase"] = tok.text
    node, col = cur.dotted(f"{'a layer name' if kind == 'layer' else 'a step name'} "
                           f"after {_q(kind)}")
    p["node"], phase = node, p.get("phase", "")
    if names is None:
        return
    if kind == "layer":
        layers = [n for n, k in names.items() if k.startswith(("layer", "?"))]
        if node not in layers:
            raise cur.error(f"{'not a layer:' if node in names else 'no layer named'} "
                            f"{_q(node)}", col,
                            did_you_mean(node, layers) or "layers: " + ", ".join(layers))
        return
    nodes = sorted({n for _, n in names.steps}) if names.steps is not None else list(names)
    if node not in nodes:
        hint = did_you_mean(node, nodes) or "steps: " + ", ".join(nodes)
        if names.get(node, "").startswith("layer"):
            hint = f"{node} runs inside a residual block: use layer {node}"
        raise cur.error(f"no step named {_q(node)}", col, hint)
    if phase and names.steps is not None and (phase, node) not in names.steps:
        have = [ph for ph in PHASES if (ph, node) in names.steps]
        raise cur.error(f"{node} has no {phase} step", col, f"its steps: {', '.join(have)}")


def _layers_of(names: Names, types) -> list[str]:
    return [n for n, k in names.items() if k.startswith("layer:") and k[6:] in types]


def _metric(cur: Cursor, p: dict, names: Names | None, col0: int) -> None:
    kind = p["kind"]
    want = ("relu",) if kind == "dead_relu" else tuple(SATURATING)
    if cur.at("("):
        if kind not in ("grad_norm", "dead_relu", "saturated"):
            raise cur.error(f"{kind} takes no argument", cur.peek().col, f"{kind} > 1")
        cur.take()
        dotted, col = cur.dotted(f"a name inside {kind}( )")
        p["ref"] = _metric_ref(cur, kind, dotted, col, names, want)
        close = cur.take()
        if close.text != ")":
            raise cur.error(f"expected ')' after {kind}({dotted}, got {cur.show(close)}",
                            close.col)
    elif (names is not None and names.kind == "network" and kind in ("dead_relu", "saturated")
          and not _layers_of(names, want)):
        raise cur.error(f"this network has no {' or '.join(want)} layer", col0)
    op, after = cur.take(), label(kind, p.get("ref"))
    if op.kind != "op" or op.text not in COMPARE:
        raise cur.error(f"expected a comparison (<, <=, >, >= or ==) after {_q(after)}, got "
                        f"{cur.show(op)}", op.col, f"for example {after} > 1")
    if op.text == "==" and kind not in ("iteration", "epoch"):
        raise cur.error(f"{after} == x compares floats exactly", op.col, "use <, <=, > or >=")
    p["op"] = op.text
    value, col = cur.number(op.text)
    p["value"] = value
    if kind in ("iteration", "epoch") and (value < 0 or value != int(value)):
        raise cur.error(f"{kind} counts from 0: expected a whole number", col)
    if kind in ("dead_relu", "saturated") and not in_range(value, 0, 1):
        raise cur.error(f"{kind} is a share between 0 and 1, got {num(value)}", col,
                        f"{kind} > 0.5 means more than half")


def _metric_ref(cur: Cursor, kind: str, dotted: str, col: int, names, want) -> Ref:
    ref = resolve(cur, dotted, col, names)
    k = ref.kind
    if ref.grad:
        raise cur.error(f"{kind}() takes a name, not a gradient", col, f"{kind}({ref.name})")
    if k == "?":
        return ref
    if kind == "grad_norm":
        params = [n for n, v in names.items() if v == "param"]
        if names.kind == "network" and k != "param" and not k.startswith("layer"):
            raise cur.error(f"grad_norm() takes a parameter or a layer, not {_q(dotted)}", col,
                            did_you_mean(dotted, params))
        if k.startswith("layer:") and k != "layer:residual" and \
                not any(n.startswith(dotted + ".") for n in params):
            raise cur.error(f"{dotted} has no parameters", col, "grad_norm() of a layer with "
                            "weights, or of one parameter such as dense1.W")
    elif not (k.startswith("layer:") and k[6:] in want):
        ok = _layers_of(names, want)
        what = f"a {k[6:]} layer" if k.startswith("layer") else "not a layer"
        raise cur.error(f"{kind}() takes a {' or '.join(want)} layer; {_q(dotted)} is {what}",
                        col, ("layers: " + ", ".join(ok)) if ok else None)
    return ref


# ------------------------------------------------------------------ watch grammar
def parse_watch_parts(text: str, names: Names | None) -> tuple[Ref, tuple[str, ...]]:
    """`NAME` or `f(NAME)` or `f(g(NAME))`: the tensor and the functions, outermost first."""
    cur = Cursor(text, "watch")
    if cur.peek().kind == "end":
        raise cur.error("empty watch", 0, "for example dense1.W.grad or norm(dense1.W)")
    fns: list[str] = []
    while cur.peek().kind == "name" and cur.peek(1).text == "(":
        tok = cur.take()
        if tok.text not in WATCH_FUNCTIONS:
            raise cur.error(f"unknown function {_q(tok.text)}", tok.col,
                            did_you_mean(tok.text, WATCH_FUNCTIONS)
                            or "functions: " + ", ".join(WATCH_FUNCTIONS))
        if len(fns) == MAX_DEPTH:
            raise cur.error("at most one function inside another", tok.col,
                            "for example max(abs(dense1.W.grad))")
        fns.append(tok.text)
        cur.take()
    inside = f" inside {fns[-1]}( )" if fns else ""
    ref = resolve(cur, *cur.dotted("a tensor name" + inside), names)
    for fn in reversed(fns):
        tok = cur.take()
        if tok.text == ",":
            raise cur.error(f"{fn}() takes one argument", tok.col)
        if tok.text != ")":
            raise cur.error(f"expected ')' to close {fn}(, got {cur.show(tok)}", tok.col)
    cur.end("the watch")
    return ref, tuple(fns)

