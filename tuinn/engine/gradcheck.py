"""Provides gradient checks: analytic gradients against centred finite differences.

`check_scenario(spec)`: in float64, every parameter of a network (on one batch,
iteration 0's, dropout masks held fixed, L2 included) or every input of a graph.
An entry passes when |a - n| <= ATOL + RTOL * |n| (a the analytic gradient, n the
centred difference), as torch.autograd.gradcheck: the absolute term lets a gradient
that is exactly 0 pass despite finite-difference noise, the relative term scales with
large gradients. A check reports its worst entry. Large tensors are checked on
`max_entries` entries drawn at random. `graph_node_check` and `param_check` do the
same for one node in the app.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario.spec import Spec

ATOL = 1e-6
RTOL = 1e-4
TOLERANCE = "1e-6 + 1e-4·|n|"                   # ATOL + RTOL·|n|, as the help states it
CRITERION = f"|a - n| <= {TOLERANCE} for every entry"


@dataclass
class NodeCheck:
    """A centred-difference check of one node's or parameter's gradient."""
    name: str                    # the node, input or parameter checked
    analytic: np.ndarray         # the entries checked, flat
    numeric: np.ndarray
    shape: tuple[int, ...] = ()
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: the flat indices checked, into an array of `shape` (all of them when empty)

    @property
    def excess(self) -> np.ndarray:
        """Per entry: |a - n| / (ATOL + RTOL·|n|); an entry passes at <= 1 (nan: inf)."""
        a = np.asarray(self.analytic, dtype=np.float64).reshape(-1)
        n = np.asarray(self.numeric, dtype=np.float64).reshape(-1)
        with np.errstate(invalid="ignore", over="ignore"):
            r = np.abs(a - n) / (ATOL + RTOL * np.abs(n))
        return np.where(np.isnan(r), np.inf, r)

    @property
    def checked(self) -> int:
        return int(np.size(self.numeric))

    @property
    def worst(self) -> float:
        """The largest excess: at most 1 when the check passes."""
        return float(self.excess.max()) if self.checked else 0.0

    @property
    def ok(self) -> bool:
        return self.worst <= 1.0

    @property
    def max_abs(self) -> float:
        return float(np.abs(np.asarray(self.analytic, np.float64)
                            - np.asarray(self.numeric, np.float64)).max()) if self.checked else 0.0

    @property
    def worst_entry(self) -> tuple[tuple[int, ...], float, float] | None:
        """(position in the tensor, analytic, numeric) of the worst entry."""
        if not self.checked:
            return None
        j = int(np.argmax(self.excess))
        flat = int(self.index[j]) if len(self.index) else j
        pos = tuple(int(i) for i in np.unravel_index(flat, self.shape)) if self.shape else ()
        return pos, float(np.reshape(self.analytic, -1)[j]), float(np.reshape(self.numeric, -1)[j])


ParamCheck = NodeCheck       # what `tuinn gradcheck` prints, one per parameter or input


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


def check_scenario(spec: Spec, eps: float = 1e-6, max_entries: int = 40) -> list[NodeCheck]:
    """Every parameter of a network, or every input of a graph, in float64."""
    if spec.info.kind not in ("graph", "network"):
        raise TuinnError(f"a {spec.info.kind} scenario has no gradients to check",
                         file=spec.info.path or None, key="scenario.kind",
                         hint="gradcheck checks graph and network scenarios")
    return (graph_gradcheck if spec.info.kind == "graph" else gradcheck)(spec, eps, max_entries)


def gradcheck(spec: Spec, eps: float = 1e-6, max_entries: int = 40) -> list[NodeCheck]:
    """Every trainable parameter of a network scenario, in float64, on iteration 0's
    batch (frozen ones get no gradient: skipped)."""
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
        if key in prog.frozen:                     # trainable = false: no gradient
            continue
        idx = _entries(layer.params[p].size, max_entries, pick)
        a = layer.grads[p].reshape(-1)[idx].copy()
        n = centred(layer.params[p], idx, loss, eps)
        results.append(NodeCheck(key, a, n, layer.params[p].shape, idx))
    return results


def graph_gradcheck(spec: Spec, eps: float = 1e-6, max_entries: int = 40) -> list[NodeCheck]:
    """d(output)/d(input) of every input of a graph scenario, in float64."""
    from tuinn.engine.program import GraphProgram
    from tuinn.engine.session import Session
    session = Session(GraphProgram(spec.graph, "float64"))
    pick = np.random.default_rng(spec.info.seed)
    return [graph_node_check(session, name, eps, max_entries, pick)
            for name in session.program.inputs]


def graph_node_check(session, node: str, eps: float = 1e-6, max_entries: int | None = None,
                     pick: np.random.Generator | None = None) -> NodeCheck:
    """d(output)/d(node) by centred differences: perturb the node's value (an input or a
    gate's output) and recompute the gates after it, in float64 (every entry, or
    `max_entries` drawn with `pick`)."""
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

    idx = (np.arange(value.size) if max_entries is None else
           _entries(value.size, max_entries, pick or np.random.default_rng(0)))
    numeric = centred(value, idx, output, eps)
    analytic = np.asarray(prog.grad_of(session.tape, node), dtype=np.float64).reshape(-1)[idx]
    return NodeCheck(node, analytic, numeric, value.shape, idx)


def param_check(session, key: str, eps: float = 1e-6, max_entries: int = 40) -> NodeCheck:
    """A parameter's gradient on the current iteration's batch, at the parameters the
    iteration started from, against centred differences (dropout masks held fixed)."""
    prog = session.program
    if key in prog.frozen:
        raise TuinnError(f"{key} is frozen (trainable = false): it gets no gradient",
                         hint="T on its layer unfreezes it")
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
    return NodeCheck(key, a, n, layer.params[p].shape, idx)
