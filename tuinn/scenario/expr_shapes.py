"""Provides `infer_shapes`: the shape of every input and gate of a graph, by NumPy's rules.

Elementwise gates broadcast, `@` follows `numpy.matmul` (batched, broadcast batch axes,
1-d operands promoted and the added axis dropped), `sum` and `mean` give scalars; the
output must be a scalar.
"""

from __future__ import annotations

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario.expr import quote
from tuinn.scenario.spec import GraphSpec

_BROADCAST = {"add", "sub", "mul", "div", "max", "min"}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "max": "max", "min": "min",
           "matmul": "@"}


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    if not a or not b:
        raise ValueError("'@' needs arrays, not scalars (0-d)")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"inner sizes differ: {a2[-1]} != {b2[-2]}")
    out = np.broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def infer_shapes(graph: GraphSpec, file: str | None = None) -> dict[str, tuple[int, ...]]:
    """The shape of every input and gate, by NumPy's rules; the output must be a scalar."""
    shapes = {name: tuple(np.shape(value)) for name, value in graph.inputs.items()}
    for g in graph.gates:
        args = [shapes[a] for a in g.args]
        try:
            if g.op in _BROADCAST:
                shape = tuple(np.broadcast_shapes(*args))
            elif g.op == "matmul":
                shape = _matmul_shape(*args)
            elif g.op in ("sum", "mean"):
                shape = ()
            else:
                shape = args[0]
        except ValueError as exc:
            detail = " and ".join(f"{a} {s}" for a, s in zip(g.args, args))
            reason = str(exc) if g.op == "matmul" else "cannot be broadcast together"
            raise TuinnError(f"shape mismatch in gate {quote(g.id)} ({_SYMBOL[g.op]}): "
                             f"{detail}: {reason}", file=file, line=g.line,
                             key="graph.expr") from None
        shapes[g.id] = shape
    out = shapes[graph.output]
    if out != ():
        gate = next(g for g in graph.gates if g.id == graph.output)
        name = next((n for n, i in graph.names.items() if i == graph.output), graph.output)
        raise TuinnError(f"output {quote(name)} has shape {out}; the output must be a scalar: "
                         f"try sum({name}) or mean({name})", file=file, line=gate.line,
                         key="graph.expr")
    return shapes
