"""Provides presenters: plain display data read off a Session for the widgets.

Nothing here computes: values, gradients and local gradients all come from the
Tape; this module only picks and formats them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuinn import fmt
from tuinn.engine import gates
from tuinn.engine.session import Session
from tuinn.tui.render.circuit import DiagramNode, EdgeLabel

PHASE_SHORT = {"forward": "fwd", "backward": "bwd", "update": "upd"}


def diagram_nodes(session: Session) -> list[DiagramNode]:
    prog = session.program
    nodes = [DiagramNode(name, name, "input", ()) for name in prog.inputs]
    nodes += [DiagramNode(g.id, prog.label(g.id), "gate", tuple(g.args)) for g in prog.spec.gates]
    return nodes


def diagram_labels(session: Session, digits: int = 2) -> dict[str, EdgeLabel]:
    tape = session.tape
    labels = {}
    for node in list(session.program.inputs) + [g.id for g in session.program.spec.gates]:
        value = tape.values.get(node)
        grad = tape.grads.get(node)
        v = "" if value is None else fmt.summary(value, digits)
        g = None if grad is None else fmt.summary(grad, digits)
        shape = fmt.shape(value) + " " if value is not None else ""
        if g and shape and g.startswith(shape):
            g = g[len(shape):]                # "∇μ=0.44" under "(1,3) μ=0.77": said once
        short = (v[len(shape):], g) if shape and v.startswith(shape) else None
        labels[node] = EdgeLabel(v, g, short)
    return labels


def pass_end(session: Session) -> tuple[dict[str, tuple[int, int]], str]:
    """Run the pass to its end and come back (the session is where it was): the cells
    each edge's value and "∇grad" labels take there (so the graph's layout does not move
    while stepping) and the output's value there (the header's, after an edit). Graphs
    only: a few gates, replayed in microseconds; runs on the engine thread."""
    here = session.tick
    session.run_to_end()
    try:
        labels = diagram_labels(session)
        out = output_value(session)
    finally:
        session.goto(here)
    reserve = {k: (len(v), 0 if g is None else 1 + len(g)) + (
        (len(lab.short[0]), 0 if lab.short[1] is None else 1 + len(lab.short[1])) if lab.short
        else (len(v), 0 if g is None else 1 + len(g)))
        for k, lab in labels.items() for v, g in [(lab.value, lab.grad)]}
    return reserve, out


def step_line(session: Session, index: int) -> tuple[str, str, str]:
    """(phase, node, what it does) for the step list."""
    step = session.steps[index]
    prog = session.program
    if prog.kind == "graph":
        g = prog.nodes[step.node]
        label = prog.label(step.node)
        what = f"{label}({', '.join(g.args)})" if len(label) > 2 else f" {label} ".join(g.args)
        if g.op in ("neg", "addc", "mulc", "inv", "powc"):
            what = f"{label} {g.args[0]}"
    elif step.phase == "update" and step.node in getattr(prog, "frozen", ()):
        what = "frozen"                   # trainable = false: the update keeps it
    else:
        what = step.op
    return PHASE_SHORT.get(step.phase, step.phase), step.node, what


@dataclass
class GateView:
    """Everything the gate inspector shows for one gate."""
    node: str
    op: str
    label: str
    pattern: str
    expr_line: int
    inputs: list[tuple[str, str]]          # (name, value)
    output: str
    upstream: str | None
    rows: list[tuple[str, str, str, str]]  # (arg, local, downstream, local formula)
    is_input: bool = False
    total_grad: str | None = None
    output_name: str = "f"


_FORMULA = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{b}", "{a}"), "div": ("1/{b}", "-{a}/{b}²"),
    "max": ("[{a} ≥ {b}]", "[{b} ≥ {a}]"), "min": ("[{a} ≤ {b}]", "[{b} ≤ {a}]"),
    "matmul": ("up @ {b}ᵀ", "{a}ᵀ @ up"), "neg": ("-1",), "addc": ("1",), "mulc": ("{c}",),
    "inv": ("-1/{a}²",), "powc": ("{c}·{a}^({c}-1)",), "exp": ("exp({a})",), "log": ("1/{a}",),
    "sigmoid": ("(1-s)·s",), "tanh": ("1-t²",), "relu": ("[{a} > 0]",), "abs": ("sign({a})",),
    "maxc": ("[{a} ≥ {c}]",), "minc": ("[{a} ≤ {c}]",), "sum": ("1",), "mean": ("1/n",),
}


def gate_view(session: Session, node: str) -> GateView:
    prog = session.program
    tape = session.tape
    digits = 4
    if node in prog.inputs:
        value = tape.values.get(node)
        grad = prog.grad_of(tape, node) if tape.finished_backward else tape.grads.get(node)
        users = [g.id for g in prog.spec.gates if node in g.args]
        pattern = ("a branch: this input feeds " + ", ".join(users) + "; its gradient is the sum of"
                   " the gradients flowing back from each") if len(users) > 1 else (
                   f"an input; it feeds {users[0]}" if users else "an input nothing uses")
        return GateView(node, "input", node, pattern, 0, [], fmt.array_text(value, digits), None, [],
                        is_input=True, total_grad=None if grad is None else fmt.array_text(grad, digits))
    g = prog.nodes[node]
    gate = gates.GATES[g.op]
    value = tape.values.get(node)
    inputs = [(a, fmt.array_text(tape.values[a], digits) if a in tape.values else "?") for a in g.args]
    upstream = tape.grads.get(node) if node in tape.local else None
    rows = []
    formulas = _FORMULA.get(g.op, ("",) * len(g.args))
    names = {"a": g.args[0], "b": g.args[-1], "c": fmt.num(g.const) if g.const is not None else ""}
    for i, a in enumerate(g.args):
        local = tape.local.get(node)
        down = tape.down.get(node)
        rows.append((a,
                     fmt.array_text(local[i], digits) if local else "",
                     fmt.array_text(down[i], digits) if down else "",
                     formulas[i].format(**names) if i < len(formulas) else ""))
    users = [u.id for u in prog.spec.gates if node in u.args]
    pattern = gate.pattern
    if len(users) > 1:
        pattern += f"; its value feeds {', '.join(users)}, so their gradients add here"
    return GateView(node, g.op, prog.label(node), pattern, g.line, inputs,
                    "" if value is None else fmt.array_text(value, digits),
                    None if upstream is None else fmt.array_text(upstream, digits), rows,
                    output_name=prog.output)


def output_value(session: Session) -> str:
    prog = session.program
    if prog.kind == "graph":
        v = session.tape.values.get(prog.output)
        return f"{prog.output} = " + ("?" if v is None else fmt.summary(v, 4))
    v = session.tape.values.get("loss")
    if v is None and session.program.losses:
        last = len(session.program.losses) - 1
        return f"loss = {fmt.num(session.program.losses[-1], 4)} (it {last})"
    return "loss = " + ("?" if v is None else fmt.num(v, 4))

