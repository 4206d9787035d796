"""Provides the grammar of breakpoints and watches: their parts, checked against the names.

A tensor name is `input`, `loss`, a layer (`dense1`: its output), a parameter
(`dense1.W`), a buffer (`bn1.running_var`), a layer cache array (`lstm1.f`, `attn1.A`,
`lstm1.f_r`) or, in a graph, an input or an assigned name (tuinn/engine/debug_names.py);
`NAME.grad` is dL/dNAME (a graph: d output/dNAME). The tokens come from
tuinn/engine/debug_lex.py; nothing is ever handed to Python to run. Errors are
TuinnError naming the text, the column and, where it helps, a "did you mean".
"""

from __future__ import annotations

from dataclasses import dataclass

from tuinn.engine.debug_lex import MAX_TEXT, Cursor, Tok, _q, did_you_mean  # noqa: F401
from tuinn.engine.debug_names import (CACHE_KEYS, INPUT, LOSS, SATURATING,  # noqa: F401
                                      Names, as_names, cache_keys, debug_names, saturating)
from tuinn.fmt import num
from tuinn.scenario.schema import in_range

PHASES = ("forward", "backward", "update")
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
MAX_ENTRIES = 1000                 # breakpoints (or watches) in a [debug] list


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
        hint = did_you_mean(base, names) or _listing(names)
        if base.endswith("_r") and names.get(base[:-2]) == "cache":
            hint = (f"{base.rsplit('.', 1)[0]} runs in one direction: the reverse "
                    f"direction's arrays (_r) need bidirectional = true")
        raise cur.error(f"no tensor named {_q(base)}", col, hint)
    if grad and kind.split(":")[0] not in GRADABLE:
        if kind == "loss":
            raise cur.error("loss.grad is 1 by definition", col, "watch loss, or a .grad "
                            "of a layer or parameter")
        layer, key = base.rsplit(".", 1)
        if kind == "buffer":
            raise cur.error(f"{_q(base)} is a running statistic of {layer} (a buffer, not "
                            "trained): it has no gradient", col,
                            f"watch {base}, or {layer}.gamma.grad / {layer}.beta.grad")
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

