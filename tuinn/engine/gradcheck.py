"""Provides gradient checks: analytic gradients against centred finite differences.

`gradcheck(spec)`: every parameter of a network, always in float64, on one batch
(iteration 0's), dropout masks held fixed, L2 included. The relative error of a
parameter is ||a - n|| / max(||a|| + ||n||, 1e-12) over the entries checked (all, or
`max_entries` drawn at random for large tensors). `graph_node_check` and `param_check`
do the same for one node in the app.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tuinn.scenario.spec import Spec

THRESHOLD = 1e-5


@dataclass
class NodeCheck:
    """A centred-difference check of one node's or parameter's gradient."""
    name: str                    # the node, input or parameter checked
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: float
    shape: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.rel_error) and self.rel_error <= THRESHOLD)

    @property
    def checked(self) -> int:
        return int(np.size(self.numeric))

    @property
    def max_abs(self) -> float:
        return float(np.abs(self.analytic - self.numeric).max()) if self.checked else 0.0


ParamCheck = NodeCheck       # what `tuinn gradcheck` prints, one per parameter


def relative_error(a: np.ndarray, n: np.ndarray) -> float:
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))


def centred(values: np.ndarray, idx: np.ndarray, f: Callable[[], float], eps: float) -> np.ndarray:
    """(f(x + eps) - f(x - eps)) / 2 eps for each flat entry `idx` of `values` (in place,
    restored after each)."""
    flat = values.reshape(-1)
    out = np.empty(len(idx), dtype=np.float64)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[j] = (plus - minus) / (2 * eps)
    return out


def _entries(size: int, max_entries: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(size) if size <= max_entries else \
        np.sort(rng.choice(size, max_entries, replace=False))


def _net_loss(prog, xb, yb, seed) -> Callable[[], float]:
    """The batch loss (with L2) as a function of the parameters in place; each call
    starts the same rng, so dropout draws the same mask."""
    def loss() -> float:
        h, rng = xb, np.random.default_rng(seed)
        for layer in prog.layers:
            h = layer.forward(h, True, rng)
        return float(prog.loss.forward(h, yb) + prog.l2_value())
    return loss


def _backward(prog) -> None:
    """Fill every layer's grads from the last forward (L2 included)."""
    d = prog.loss.backward()
    for layer in reversed(prog.layers):
        d = layer.backward(d)
        for owner in [layer, *layer.sublayers()]:
            prog._add_l2_grads(owner)


def gradcheck(spec: Spec, eps: float = 1e-6, max_entries: int = 40) -> list[NodeCheck]:
    from tuinn.engine.network import NetworkProgram
    spec = copy.deepcopy(spec)
    spec.info.dtype = "float64"
    prog = NetworkProgram(spec)
    xb, yb = prog.batch(0)
    loss = _net_loss(prog, xb, yb, 0)
    loss()
    _backward(prog)
    pick = np.random.default_rng(spec.info.seed)
    results = []
    for key, (layer, p) in prog.param_layers.items():
        idx = _entries(layer.params[p].size, max_entries, pick)
        a = layer.grads[p].reshape(-1)[idx].copy()
        n = centred(layer.params[p], idx, loss, eps)
        results.append(NodeCheck(key, a, n, relative_error(a, n), layer.params[p].shape))
    return results


def graph_node_check(session, node: str, eps: float = 1e-6) -> NodeCheck:
    """d(output)/d(node) by centred differences: perturb the node's value (an input or a
    gate's output) and recompute the gates after it, in float64."""
    from tuinn.engine import gates
    prog = session.program
    session.run_to_end()
    values = {k: np.asarray(v, dtype=np.float64) for k, v in session.tape.values.items()}
    ids = [g.id for g in prog.spec.gates]
    after = prog.spec.gates if node in prog.inputs else prog.spec.gates[ids.index(node) + 1:]
    value = values[node].copy()

    def output() -> float:
        vals = dict(values, **{node: value})
        for g in after:
            vals[g.id] = gates.forward(g.op, [vals[a] for a in g.args], g.const)
        return float(vals[prog.output])

    numeric = centred(value, np.arange(value.size), output, eps).reshape(value.shape)
    analytic = np.asarray(prog.grad_of(session.tape, node), dtype=np.float64)
    return NodeCheck(node, analytic, numeric, relative_error(analytic, numeric), value.shape)


def param_check(session, key: str, eps: float = 1e-6, max_entries: int = 40) -> NodeCheck:
    """A parameter's gradient on the current iteration's batch, at the parameters the
    iteration started from, against centred differences (dropout masks held fixed)."""
    prog = session.program
    here = session.tick
    session.sync()
    xb, yb = prog.batch(prog.iteration)
    loss = _net_loss(prog, xb, yb, [prog.seed, 2, prog.iteration])
    loss()
    _backward(prog)
    layer, p = prog.param_layers[key]
    idx = _entries(layer.params[p].size, max_entries, np.random.default_rng(0))
    a = layer.grads[p].reshape(-1)[idx].astype(np.float64)
    n = centred(layer.params[p], idx, loss, eps)
    session.sync()
    session.goto(here)
    return NodeCheck(key, a, n, relative_error(a, n), layer.params[p].shape)
