"""Provides Step and Program: one pass (or one training iteration) as ordered steps.

A Program is a list of Steps plus `reset(tape)`, which puts the tape in the state
before the first step. Each Step's `run(tape)` executes it; a step with sub-steps
(timesteps, windows) runs whole on its first sub-step and the views reveal the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tuinn.engine import gates
from tuinn.engine.tape import Tape
from tuinn.scenario.spec import GateNode, GraphSpec

PHASES = ("forward", "backward", "update")


@dataclass
class Step:
    index: int
    phase: str                       # "forward" | "backward" | "update"
    node: str                        # node / layer / parameter the step is about
    op: str                          # gate op or layer type or optimizer
    run: Callable[[Tape], None]
    substeps: int = 1
    layer: str = ""                  # the layer a step belongs to (networks); "" for graphs
    line: int = 0                    # scenario line (graphs: the expr line)
    info: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.phase} {self.node}"


class GraphProgram:
    """A computation graph of gates: forward in topological order, backward in reverse."""

    kind = "graph"

    def __init__(self, spec: GraphSpec, dtype: str = "float64"):
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.inputs = {k: np.asarray(v, dtype=self.dtype) for k, v in spec.inputs.items()}
        self.nodes: dict[str, GateNode] = {g.id: g for g in spec.gates}
        self.output = spec.output
        self.reaching = self._reaching()
        steps: list[Step] = []
        for g in spec.gates:
            steps.append(Step(len(steps), "forward", g.id, g.op, self._forward(g), line=g.line))
        for g in reversed(spec.gates):
            steps.append(Step(len(steps), "backward", g.id, g.op, self._backward(g), line=g.line))
        self.steps = steps

    # ------------------------------------------------------------------ state
    def reset(self, tape: Tape) -> None:
        tape.clear()
        for name, value in self.inputs.items():
            tape.values[name] = value.copy()

    def set_input(self, name: str, value: np.ndarray) -> None:
        old = self.inputs[name]
        value = np.asarray(value, dtype=self.dtype)
        if value.shape != old.shape:
            raise ValueError(f"{name} has shape {old.shape}; got {value.shape}")
        self.inputs[name] = value

    def label(self, node: str) -> str:
        g = self.nodes.get(node)
        return node if g is None else gates.label(g.op, g.const)

    # ------------------------------------------------------------------ steps
    def _forward(self, g: GateNode) -> Callable[[Tape], None]:
        def run(tape: Tape) -> None:
            args = [tape.values[a] for a in g.args]
            tape.values[g.id] = gates.forward(g.op, args, g.const)
        return run

    def _reaching(self) -> frozenset[str]:
        """The output and every node (gate or input) the output depends on."""
        reach, todo = {self.output}, [self.output]
        while todo:
            g = self.nodes.get(todo.pop())
            for a in g.args if g is not None else ():
                if a not in reach:
                    reach.add(a)
                    todo.append(a)
        return frozenset(reach)

    def _backward(self, g: GateNode) -> Callable[[Tape], None]:
        def run(tape: Tape) -> None:
            out = tape.values[g.id]
            args = [tape.values[a] for a in g.args]
            tape.local[g.id] = gates.local_grads(g.op, args, out, g.const)
            if g.id == self.output:
                # seed df/df = 1, whatever the lines after the output did with it
                tape.grads[g.id] = np.ones_like(out)
            if g.id in self.reaching:          # a consumer of g reaches f and ran before
                downs = gates.backward(g.op, args, out, tape.grads[g.id], g.const)
            else:
                # the output does not depend on g: every gradient exactly 0 (never 0 * nan)
                tape.grads[g.id] = np.zeros_like(out)
                downs = [np.zeros(np.shape(a), dtype=out.dtype) for a in args]
            tape.down[g.id] = downs
            for a, d in zip(g.args, downs):
                tape.grads[a] = tape.grads[a] + d if a in tape.grads else d
        return run

    def step_record(self, tape: Tape, step: Step) -> dict:
        """What a step produced, for traces: value (forward) or grad and local grads."""
        if step.phase == "forward":
            return {"value": tape.values[step.node]}
        g = self.nodes[step.node]
        keys = [a if g.args.index(a) == i else f"{a}[{i}]" for i, a in enumerate(g.args)]
        return {"grad": tape.grads[step.node], "local_grads": dict(zip(keys, tape.local[step.node]))}

    # ------------------------------------------------------------------ results
    def names(self) -> list[str]:
        """Inputs, then every assigned name, in file order."""
        return list(self.inputs) + [n for n in self.spec.names if n not in self.inputs]

    def value_of(self, tape: Tape, name: str) -> np.ndarray | None:
        return tape.values.get(self.spec.names.get(name, name))

    def grad_of(self, tape: Tape, name: str) -> np.ndarray | None:
        node = self.spec.names.get(name, name)
        if node in tape.grads:
            return tape.grads[node]
        if tape.finished_backward and node in tape.values:
            return np.zeros_like(tape.values[node])
        return None
