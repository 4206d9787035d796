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
