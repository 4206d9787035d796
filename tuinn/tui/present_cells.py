"""Provides the circuit of one layer, expanded into its gates (the `x @ W`, `+ b` of a
dense layer, an LSTM or GRU cell's gates, conv as `conv`, `+ b`, a residual block's
layers and its skip), with the values and gradients the tape holds for its edges."""

from __future__ import annotations

from dataclasses import dataclass

from tuinn import fmt
from tuinn.engine.network import INPUT
from tuinn.engine.session import Session
from tuinn.tui.present_layers import norm_text, value_text
from tuinn.tui.present_net import LAYER_LABEL, grad_of, value_of
from tuinn.tui.render.circuit import DiagramNode, EdgeLabel

FORMULA = {
    "dense": "y = x @ W + b",
    "conv2d": "y = conv(x, W) + b  (cross-correlation)",
    "rnn": "h = tanh(x Wx + h(t-1) Wh + b), each timestep",
    "lstm": "z = x Wx + h(t-1) Wh + b;  i, f, o = σ(z), g = tanh(z);  c = f*c + i*g;  "
            "h = o*tanh(c)",
    "gru": "r, z = σ(x Wx + bx + h Wh + bh);  n = tanh(x Wxn + bxn + r*(h Whn + bhn));  "
           "h = (1-z)*n + z*h",
    "residual": "y = x + f(x)",
    "dropout": "y = x * mask / (1 - p)  (training only)",
}


def _find(layers, name: str, prev: str, top: bool):
    """(layer, the id of its input node, whether it is a top-level layer) or None."""
    for layer in layers:
        if layer.name == name:
            return layer, prev, top
        if layer.type == "residual":
            inner = layer.children() if hasattr(layer, "children") else layer.sublayers()
            hit = _find(inner, name, prev, False)
            if hit is not None:
                return hit
        prev = layer.name
    return None


def _cell(layer, x: str) -> list[DiagramNode]:
    """The gates of a layer, `x` its input node; the layer's output is `layer.name`."""
    n, t = layer.name, layer.type
    P = [f"{n}.{k}" for k in layer.params]
    gate = lambda id, label, *args: DiagramNode(id, label, "gate", args)  # noqa: E731
    inp = lambda id, label: DiagramNode(id, label, "input", ())           # noqa: E731
    params = [inp(p, fmt.safe(p, 32)) for p in P]
    if t == "dense":
        return params + [gate(f"{n}.matmul", "@", x, f"{n}.W"), gate(n, "+", f"{n}.matmul", f"{n}.b")]
    if t == "conv2d":
        return params + [gate(f"{n}.conv", "conv", x, f"{n}.W"), gate(n, "+", f"{n}.conv", f"{n}.b")]
    if t in ("rnn", "lstm", "gru"):
        h0 = inp(f"{n}.h_prev", "h(t-1)")
        xw = gate(f"{n}.xw", "@", x, f"{n}.Wx")
        hw = gate(f"{n}.hw", "@", h0.id, f"{n}.Wh")
        if t == "rnn":
            return params + [h0, xw, hw, gate(f"{n}.z", "+", xw.id, hw.id, f"{n}.b"),
                             gate(n, "tanh", f"{n}.z")]
        if t == "lstm":
            c0 = inp(f"{n}.c_prev", "c(t-1)")
            z = gate(f"{n}.z", "+", xw.id, hw.id, f"{n}.b")
            nodes = params + [h0, c0, xw, hw, z]
            for g, act in (("i", "σ"), ("f", "σ"), ("g", "tanh"), ("o", "σ")):
                nodes.append(gate(f"{n}.{g}", f"{g}={act}", z.id))
            nodes += [gate(f"{n}.fc", "*", f"{n}.f", c0.id), gate(f"{n}.ig", "*", f"{n}.i", f"{n}.g"),
                      gate(f"{n}.c", "c=+", f"{n}.fc", f"{n}.ig"), gate(f"{n}.tc", "tanh", f"{n}.c"),
                      gate(n, "h=*", f"{n}.o", f"{n}.tc")]
            return nodes
        xa = gate(f"{n}.xa", "+", xw.id, f"{n}.bx")
        ha = gate(f"{n}.ha", "+", hw.id, f"{n}.bh")
        return params + [h0, xw, hw, xa, ha, gate(f"{n}.r", "r=σ", xa.id, ha.id),
                         gate(f"{n}.zg", "z=σ", xa.id, ha.id), gate(f"{n}.rh", "*", f"{n}.r", ha.id),
                         gate(f"{n}.n", "n=tanh", xa.id, f"{n}.rh"),
                         gate(n, "(1-z)n+zh", f"{n}.zg", f"{n}.n", h0.id)]
    if t == "residual":
        inner = layer.children() if hasattr(layer, "children") else layer.sublayers()
        nodes, prev = [], x
        for sub in inner:
            label = fmt.safe(sub.name, 24) + ("" if sub.type == "residual"
                                              else f" {LAYER_LABEL.get(sub.type, sub.type)}")
            nodes.append(gate(f"{n}/{sub.name}", label, prev))
            prev = f"{n}/{sub.name}"
        return nodes + [gate(n, "⊕", prev, x)]
    if t == "dropout":
        return [inp(f"{n}.mask", "mask"), gate(n, "*", x, f"{n}.mask")]
    return params + [gate(n, LAYER_LABEL.get(t, t), x, *P)]


@dataclass
class Cell:
    """A layer's circuit: its gates, their edge labels, the formula, the parameter ids, and
    the label width that keeps the drawing still while values appear."""
    nodes: list[DiagramNode]
    labels: dict[str, EdgeLabel]
    formula: str
    params: list[str]
    label_width: int


def layer_circuit(session: Session, name: str) -> Cell | None:
    """The circuit of the layer called `name`; None when no layer has that name."""
    prog = session.program
    hit = _find(prog.layers, name, INPUT, True)
    if hit is None:
        return None
    layer, x, top = hit
    label = x if x != INPUT else "x"
    nodes = [DiagramNode(x, fmt.safe(label, 24), "input", ())] + _cell(layer, x)
    labels = {}
    # a cell's gates hold per-timestep values (the recurrent view shows them); label only
    # its input and output, which keeps the drawing narrow
    named = {x, layer.name} if layer.type in ("rnn", "lstm", "gru") else {n.id for n in nodes}
    for node in nodes:
        if node.id not in named:
            continue
        v, g = value_of(session, node.id), grad_of(session, node.id)
        if not top and node.id == layer.name:        # an inner layer's output is not taped
            v = g = None
        # the shapes are the inspector's (select the node): compact labels keep the
        # circuit inside an 80-column panel
        labels[node.id] = EdgeLabel("" if v is None else value_text(v),
                                    None if g is None else norm_text(g))
    return Cell(nodes, labels, FORMULA.get(layer.type, f"y = {layer.type}(x)"),
                [f"{layer.name}.{k}" for k in layer.params],
                0 if layer.type in ("rnn", "lstm", "gru") else 9)
