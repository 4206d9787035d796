"""Provides presenters for network scenarios: the network drawn as gates, and what the
tensor inspector shows for a node. Values come from the Tape and the Program only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn import fmt
from tuinn.engine.network import INPUT, LOSS
from tuinn.engine.session import Session
from tuinn.tui.present_tensor import tensor_stats
from tuinn.tui.render.circuit import DiagramNode, EdgeLabel

LAYER_LABEL = {"relu": "relu", "sigmoid": "σ", "tanh": "tanh", "leaky_relu": "lrelu",
               "dropout": "drop", "flatten": "flat", "maxpool": "max", "avgpool": "avg"}


def network_nodes(session: Session) -> list[DiagramNode]:
    """input -> layers (dense = @ gate + add gate; residual ends in an add gate) -> loss."""
    prog = session.program
    nodes = [DiagramNode(INPUT, "x", "input", ())]

    def chain(layers, prev):
        for layer in layers:
            params = [f"{layer.name}.{k}" for k in layer.params]
            for p in params:
                nodes.append(DiagramNode(p, p, "input", ()))
            if layer.type == "dense":
                mm = layer.name + ".matmul"
                nodes.append(DiagramNode(mm, "@", "gate", (prev, f"{layer.name}.W")))
                nodes.append(DiagramNode(layer.name, "+", "gate", (mm, f"{layer.name}.b")))
            elif layer.type == "residual":
                inner = chain(layer.children(), prev)
                nodes.append(DiagramNode(layer.name, "+", "gate", (inner, prev)))
            else:
                label = LAYER_LABEL.get(layer.type, layer.type)
                nodes.append(DiagramNode(layer.name, label, "gate", (prev, *params)))
            prev = layer.name
        return prev

    last = chain(prog.layers, INPUT)
    nodes.append(DiagramNode("target", "y", "input", ()))
    nodes.append(DiagramNode(LOSS, prog.loss.type, "gate", (last, "target")))
    return nodes


def value_of(session: Session, node: str):
    tape, prog = session.tape, session.program
    if node in tape.values:
        return tape.values[node]
    if node in prog.param_layers:
        return prog.start.params.get(node)
    if node == "target":
        return tape.extra.get("y")
    return None


def grad_of(session: Session, node: str):
    tape = session.tape
    if node.endswith(".matmul"):
        return tape.grads.get(node[:-7])          # the add gate distributes
    return tape.grads.get(node)


def network_labels(session: Session) -> dict[str, EdgeLabel]:
    labels = {}
    for n in network_nodes(session):
        v, g = value_of(session, n.id), grad_of(session, n.id)
        labels[n.id] = EdgeLabel("" if v is None else fmt.summary(v, 2),
                                 None if g is None else fmt.norm_summary(g, 2))
    return labels


@dataclass
class TensorView:
    """What the tensor inspector shows: titled arrays and statistics."""
    node: str
    title: str
    arrays: list[tuple[str, np.ndarray, str]] = field(default_factory=list)  # (label, array, kind)
    note: str = ""
    stats: list[dict] = field(default_factory=list)     # tensor_stats of each array, in order
    pending: str = ""                   # the gradient's column while it is not computed yet

    def with_stats(self) -> "TensorView":
        """Compute the statistics (on the engine thread: the widget only draws them)."""
        self.stats = [tensor_stats(a) for _, a, _ in self.arrays]
        return self


FROZEN_NOTE = "frozen (trainable = false): no gradient, no update · T toggles its layer"


def tensor_view(session: Session, node: str) -> TensorView:
    """What the tensor panel shows for `node`, its statistics computed."""
    return _tensor_view(session, node).with_stats()


def _tensor_view(session: Session, node: str) -> TensorView:
    prog, tape = session.program, session.tape
    step = session.current
    if node in prog.param_layers:
        layer, k = prog.param_layers[node]
        frozen = node in prog.frozen                  # trainable = false
        view = TensorView(node, f"{node}{' (frozen)' if frozen else ''}  parameter of {layer.name}")
        before = tape.extra.get("before", {}).get(node)
        if before is not None:
            view.arrays.append(("old value", before, "value"))
        else:
            view.arrays.append(("value", prog.start.params[node], "value"))
        if node in tape.grads:
            view.arrays.append(("∇loss" + (" + L2" if prog.spec.network.loss.l2 else ""),
                                tape.grads[node], "grad"))
        elif frozen:
            view.note = FROZEN_NOTE
        else:
            view.pending = "∇loss: on the backward pass"
        if before is not None:
            for name, arr in prog.optimizer.state(node).items():
                if np.ndim(arr):
                    view.arrays.append((f"{prog.optimizer.type} {name}", arr, "state"))
            view.arrays.append(("new value", tape.values[node], "value"))
            view.note = FROZEN_NOTE if frozen else f"update: {update_rule(prog)}"
        return view
    value = value_of(session, node)
    grad = grad_of(session, node)
    view = TensorView(node, node)
    if node == LOSS and value is not None:
        data, reg = tape.extra.get("data_loss"), tape.extra.get("l2_loss")
        view.note = f"{prog.loss.type} {fmt.num(data, 6)} + L2 {fmt.num(reg, 6)} = {fmt.num(value, 6)}"
    if value is not None:
        view.arrays.append(("value", value, "value"))
    if grad is not None:
        view.arrays.append(("∇loss", grad, "grad"))
    elif value is not None and node not in (INPUT, "target"):
        view.pending = "∇loss: on the backward pass"
    if not view.arrays:
        view.note = "not computed yet in this iteration"
    if step is not None and step.node == node and step.phase == "forward" and node != LOSS:
        view.title += "  (just computed)"
    return view


def update_rule(prog) -> str:
    o = prog.optimizer
    return {"sgd": f"w -= lr·g  (lr {fmt.num(o.lr)})",
            "momentum": f"v = {fmt.num(o.momentum)}·v + g;  w -= lr·v  (lr {fmt.num(o.lr)})",
            "rmsprop": f"v = {fmt.num(o.alpha)}·v + (1-{fmt.num(o.alpha)})·g²;  w -= lr·g/(√v+eps)",
            "adam": f"m, v moments (β1 {fmt.num(o.beta1)}, β2 {fmt.num(o.beta2)});  "
                    f"w -= lr·m̂/(√v̂+eps)  (lr {fmt.num(o.lr)})"}.get(o.type, o.type)
