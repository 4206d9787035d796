"""Provides gradcheck: every parameter's analytic gradient against centred differences.

Always in float64, on one batch (iteration 0's), dropout masks held fixed, L2 included.
The relative error of a parameter is ||a - n|| / max(||a|| + ||n||, 1e-12) over the
entries checked (all of them, or `max_entries` drawn at random for large tensors).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from tuinn.scenario.spec import Spec

THRESHOLD = 1e-5


@dataclass
class ParamCheck:
    name: str
    shape: tuple[int, ...]
    checked: int
    rel_error: float
    max_abs: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.rel_error) and self.rel_error <= THRESHOLD)


def _loss(prog, xb, yb) -> float:
    h = xb
    for layer in prog.layers:
        h = layer.forward(h, True, np.random.default_rng(0))
    return float(prog.loss.forward(h, yb) + prog.l2_value())


def gradcheck(spec: Spec, eps: float = 1e-6, max_entries: int = 40) -> list[ParamCheck]:
    from tuinn.engine.network import NetworkProgram
    spec = copy.deepcopy(spec)
    spec.info.dtype = "float64"
    prog = NetworkProgram(spec)
    xb, yb = prog.batch(0)
    _loss(prog, xb, yb)                         # draws the dropout masks once
    for layer in prog._all_layers():
        if hasattr(layer, "freeze_mask"):
            layer.freeze_mask = True
    _loss(prog, xb, yb)
    d = prog.loss.backward()
    for layer in reversed(prog.layers):
        d = layer.backward(d)
        prog._add_l2_grads(layer)
        for sub in layer.sublayers():
            prog._add_l2_grads(sub)
    analytic = {k: layer.grads[p].copy() for k, (layer, p) in prog.param_layers.items()}
    pick = np.random.default_rng(spec.info.seed)
    results = []
    for key, (layer, p) in prog.param_layers.items():
        param = layer.params[p]
        flat = param.reshape(-1)
        idx = np.arange(flat.size) if flat.size <= max_entries else \
            np.sort(pick.choice(flat.size, max_entries, replace=False))
        a = analytic[key].reshape(-1)[idx]
        n = np.empty_like(a)
        for j, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            plus = _loss(prog, xb, yb)
            flat[i] = old - eps
            minus = _loss(prog, xb, yb)
            flat[i] = old
            n[j] = (plus - minus) / (2 * eps)
        diff = np.linalg.norm(a - n)
        rel = diff / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12)
        results.append(ParamCheck(key, param.shape, len(idx), float(rel), float(np.abs(a - n).max())))
    return results


@dataclass
class NodeCheck:
    """A centred-difference check of one node's gradient, in the app."""
    node: str
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.rel_error) and self.rel_error <= THRESHOLD)


def _rel(a: np.ndarray, n: np.ndarray) -> float:
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))


def graph_node_check(session, node: str, eps: float = 1e-6) -> NodeCheck:
    """d(output)/d(node) by centred differences: perturb the node's value (an input or a
    gate's output) and recompute the gates after it, in float64 on a scratch tape."""
    from tuinn.engine import gates
    from tuinn.engine.tape import Tape
    prog = session.program
    session.run_to_end()
    base = Tape()
    prog.reset(base)
    for g in prog.spec.gates:
        base.values[g.id] = gates.forward(g.op, [base.values[a] for a in g.args], g.const)
    order = [g for g in prog.spec.gates]
    after = order if node in prog.inputs else order[[g.id for g in order].index(node) + 1:]
    value = np.asarray(base.values[node], dtype=np.float64)

    def output_with(v: np.ndarray) -> float:
        vals = {k: np.asarray(x, dtype=np.float64) for k, x in base.values.items()}
        vals[node] = v
        for g in after:
            vals[g.id] = gates.forward(g.op, [vals[a] for a in g.args], g.const)
        return float(vals[prog.output])

    numeric = np.zeros_like(value)
    flat, nflat = value.reshape(-1), numeric.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = output_with(value)
        flat[i] = old - eps
        minus = output_with(value)
        flat[i] = old
        nflat[i] = (plus - minus) / (2 * eps)
    analytic = np.asarray(prog.grad_of(session.tape, node), dtype=np.float64)
    return NodeCheck(node, analytic, numeric, _rel(analytic, numeric))


def param_check(session, key: str, eps: float = 1e-6, max_entries: int = 40) -> NodeCheck:
    """A parameter's gradient on the current iteration's batch, at the parameters the
    iteration started from, against centred differences (dropout masks held fixed)."""
    prog = session.program
    here = session.tick
    session.sync()
    xb, yb = prog.batch(prog.iteration)
    rng_seed = [prog.seed, 2, prog.iteration]

    def loss() -> float:
        h = xb
        rng = np.random.default_rng(rng_seed)
        for layer in prog.layers:
            h = layer.forward(h, True, rng)
        return float(prog.loss.forward(h, yb) + prog.l2_value())

    loss()
    d = prog.loss.backward()
    for layer in reversed(prog.layers):
        d = layer.backward(d)
        prog._add_l2_grads(layer)
        for sub in layer.sublayers():
            prog._add_l2_grads(sub)
    layer, p = prog.param_layers[key]
    param = layer.params[p]
    flat = param.reshape(-1)
    idx = np.arange(flat.size) if flat.size <= max_entries else \
        np.sort(np.random.default_rng(0).choice(flat.size, max_entries, replace=False))
    analytic = layer.grads[p].reshape(-1)[idx].astype(np.float64)
    numeric = np.empty_like(analytic)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        plus = loss()
        flat[i] = old - eps
        minus = loss()
        flat[i] = old
        numeric[j] = (plus - minus) / (2 * eps)
    session.sync()
    session.goto(here)
    return NodeCheck(key, analytic, numeric, _rel(analytic, numeric))
