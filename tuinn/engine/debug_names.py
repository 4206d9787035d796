"""Provides the name table of breakpoints and watches: which tensors a program has, and their kinds.

A network's names are `input`, `loss`, every layer (its output), every parameter
(`dense1.W`), every buffer (`bn1.running_mean`: batchnorm's running statistics, not
trained) and every cache array a layer keeps for the views (`lstm1.f`, `attn1.A`; a
bidirectional recurrent layer's reverse direction under the suffix `_r`: `lstm1.f_r`).
A graph's are its inputs and assigned names; a gan's its step nodes and parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

INPUT, LOSS = "input", "loss"
#: cache keys each layer type fills; keys starting with "d" are written by the backward pass
CACHE_KEYS = {
    "dense": ("x", "y"), "relu": ("mask", "y"), "leaky_relu": ("mask", "y"),
    "sigmoid": ("y",), "tanh": ("y",), "gelu": ("x", "y"), "dropout": ("mask",),
    "flatten": (),
    "conv2d": ("x", "y", "dy", "dx"), "maxpool": ("x", "y", "argmax", "dy", "dx"),
    "avgpool": ("x", "y", "dy", "dx"), "residual": ("x", "fx", "y"),
    "rnn": ("h", "dh", "da"),
    "lstm": ("i", "f", "g", "o", "c", "h", "dh", "dc", "di", "df", "dg", "do"),
    "gru": ("r", "z", "n", "h", "dh", "dr", "dz", "dn"),
    "attention": ("x", "Q", "K", "V", "scores", "A", "C", "y",
                  "dy", "dC", "dQ", "dK", "dV", "dA", "dscores"),
    "layernorm": ("x_hat", "mean", "rstd", "y"),
    "batchnorm": ("x_hat", "mean", "var", "rstd", "y"),
    "embedding": ("ids", "y"), "skipgram": ("ids", "y"), "position": ("y",),
    "seq_pool": ("arg", "y"),
}
#: arrays that saturate: layer type -> ((cache key, "sigmoid" | "tanh" | "softmax"), ...);
#: "softmax": attention weights, one row per query (a row collapses onto one key)
SATURATING = {"sigmoid": (("y", "sigmoid"),), "tanh": (("y", "tanh"),),
              "lstm": (("i", "sigmoid"), ("f", "sigmoid"), ("g", "tanh"), ("o", "sigmoid")),
              "gru": (("r", "sigmoid"), ("z", "sigmoid"), ("n", "tanh")),
              "rnn": (("h", "tanh"),),
              "attention": (("A", "softmax"),)}
RECURRENT = ("rnn", "lstm", "gru")


def _bidirectional(layer) -> bool:
    return layer.type in RECURRENT and bool(getattr(layer, "bi", False))


def cache_keys(layer) -> tuple[str, ...]:
    """The cache keys `layer` fills (a bidirectional layer's reverse twins "_r" too),
    and any other key its cache holds now."""
    keys = CACHE_KEYS.get(layer.type, ())
    if _bidirectional(layer):
        keys = keys + tuple(k + "_r" for k in keys)
    return tuple(dict.fromkeys(keys + tuple(layer.cache)))


def saturating(layer) -> tuple[tuple[str, str], ...]:
    """(cache key, function) of the arrays of `layer` that saturate (both directions of
    a bidirectional layer)."""
    pairs = SATURATING.get(layer.type, ())
    if _bidirectional(layer):
        pairs = pairs + tuple((k + "_r", fn) for k, fn in pairs)
    return pairs


class Names(dict):
    """name -> kind: "input", "loss", "layer:<type>", "param", "buffer", "cache",
    "value" (graph), or "?" (unknown: names given as a plain list). `kind` is the
    program's kind and `steps` the (phase, node) pairs of its steps, where known."""

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
        phases: dict[str, set] = {}                 # node -> its steps' phases
        for p, n in steps:
            phases.setdefault(n, set()).add(p)
        for name, node in program.spec.names.items():
            out.setdefault(name, "value")
            steps |= {(p, name) for p in phases.get(node, ())}
        out.steps = frozenset(steps)
        return out
    if program.kind == "gan":                  # its step nodes and parameters
        out = Names({st.node: "value" for st in program.steps}, "gan", frozenset(steps))
        out.update({key: "param" for key in program.param_layers})
        return out
    out = Names({INPUT: "input", LOSS: "loss"}, "network", frozenset(steps))
    for layer in [la for top in program.layers for la in (top, *top.sublayers())]:
        out[layer.name] = f"layer:{layer.type}"
        for k in cache_keys(layer):
            out[f"{layer.name}.{k}"] = "cache"
    for key in program.param_layers:
        out[key] = "param"
    for key in getattr(program, "buffer_layers", {}):
        out[key] = "buffer"
    return out


def as_names(names) -> Names | None:
    """`names` as Names: None stays None (no checking of names), a plain list gets "?"."""
    if names is None or isinstance(names, Names):
        return names
    if isinstance(names, Mapping):
        return Names(names)
    return Names({n: n if n in (INPUT, LOSS) else "?" for n in names})
