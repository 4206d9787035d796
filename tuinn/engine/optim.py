"""Provides the optimizers (sgd, momentum, rmsprop, adam) with per-parameter state.

`step(key, param, grad)` updates `param` in place; `state(key)` shows its state arrays
("v" for momentum and rmsprop; "m", "v", "t" for adam); `snapshot()`/`restore()` copy
all of it for time travel.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import optim as K
from tuinn.errors import TuinnError
from tuinn.scenario.spec import OptimizerSpec

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
STATE_NAMES: dict[str, tuple[str, ...]] = {
    "sgd": (), "momentum": ("v",), "rmsprop": ("v",), "adam": ("m", "v", "t"),
}


class Optimizer:
    """One optimizer from an OptimizerSpec (type, lr, momentum, alpha, beta1, beta2, eps).

    State is created on a parameter's first step (zeros shaped like it; adam's "t" is a
    0-d int64 array counting that parameter's steps from 1).
    """

    def __init__(self, spec=None, **overrides):
        def get(name, default):
            if name in overrides:
                return overrides[name]
            return getattr(spec, name, default)

        self.type = get("type", "sgd")
        if self.type not in OPTIMIZERS:
            raise TuinnError(f"unknown optimizer {self.type!r}", key="optimizer.type",
                             hint="one of " + ", ".join(OPTIMIZERS))
        self.lr = float(get("lr", 0.1))
        self.momentum = float(get("momentum", 0.9))
        self.alpha = float(get("alpha", 0.99))
        self.beta1 = float(get("beta1", 0.9))
        self.beta2 = float(get("beta2", 0.999))
        self.eps = float(get("eps", 1e-8))
        self.spec = OptimizerSpec(self.type, self.lr, self.momentum, self.alpha, self.beta1,
                                  self.beta2, self.eps)                  # as in effect
        self._state: dict[str, dict[str, np.ndarray]] = {}

    # --------------------------------------------------------------------- step
    def step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        """Update `param` in place from `grad` (L2 already in it) and advance the state."""
        if not param.flags.c_contiguous:
            raise ValueError(f"{key}: parameters must be C-contiguous to update in place")
        if grad.shape != param.shape:
            raise ValueError(f"{key}: grad {grad.shape} does not fit param {param.shape}")
        if not grad.flags.c_contiguous:
            grad = np.ascontiguousarray(grad)
        if self.type == "sgd":
            K.sgd_step(param, grad, self.lr)
            return
        st = self._state.get(key)
        if st is None or st["v"].shape != param.shape:
            st = self._state[key] = self._new_state(param)
        if self.type == "momentum":
            K.momentum_step(param, grad, st["v"], self.lr, self.momentum)
        elif self.type == "rmsprop":
            K.rmsprop_step(param, grad, st["v"], self.lr, self.alpha, self.eps)
        else:
            t = st["t"]
            t += 1
            K.adam_step(param, grad, st["m"], st["v"], self.lr, self.beta1, self.beta2,
                        self.eps, int(t))

    def _new_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        st = {"v": np.zeros_like(param, order="C")}
        if self.type == "adam":
            st["m"] = np.zeros_like(param, order="C")
            st["t"] = np.zeros((), dtype=np.int64)
        return st

    # -------------------------------------------------------------------- state
    def state(self, key: str) -> dict[str, np.ndarray]:
        """The state arrays of one parameter (live, do not modify); {} before its first
        step and always for sgd."""
        st = self._state.get(key)
        if st is None:
            return {}
        return {name: st[name] for name in STATE_NAMES[self.type]}

    def snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """A deep copy of every parameter's state."""
        return {k: {n: a.copy() for n, a in st.items()} for k, st in self._state.items()}

    def restore(self, snapshot: dict[str, dict[str, np.ndarray]]) -> None:
        """Go back to a snapshot (copied in, so the snapshot stays reusable)."""
        self._state = {k: {n: np.array(a, copy=True) for n, a in st.items()}
                       for k, st in snapshot.items()}

    def reset(self) -> None:
        """Forget all state (as if no step had been taken)."""
        self._state = {}
