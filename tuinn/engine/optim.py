"""Provides the optimizers (sgd, momentum, rmsprop, adam) with per-parameter state.

`step(key, param, grad)` updates `param` in place; `state(key)` shows its state arrays
("v" for momentum and rmsprop; "m", "v", "t" for adam); `snapshot()`/`restore()` copy
all of it for time travel. `pack()` keeps the state of a network's packed parameters in
flat buffers, so that `step_packed()` updates them all in one kernel call and
`snapshot_packed()` copies the state in one go (run mode's fast path).
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
        self._flat: _FlatState | None = None
        self._strays: set[str] = set()               # packed keys whose state is not packed

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
            st = self._state[key] = self._new_state(param, key)
        if self.type == "momentum":
            K.momentum_step(param, grad, st["v"], self.lr, self.momentum)
        elif self.type == "rmsprop":
            K.rmsprop_step(param, grad, st["v"], self.lr, self.alpha, self.eps)
        else:
            t = st["t"]
            t += 1
            K.adam_step(param, grad, st["m"], st["v"], self.lr, self.beta1, self.beta2,
                        self.eps, int(t))

    def _new_state(self, param: np.ndarray, key: str = "") -> dict[str, np.ndarray]:
        flat = self._flat
        if flat is not None and key in flat.layout and flat.layout[key][2] == param.shape \
                and flat.v.dtype == param.dtype:
            st = flat.views(key)
            for a in st.values():
                a[...] = 0
            self._strays.discard(key)
            return st
        if flat is not None and key in flat.layout:
            self._strays.add(key)
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

    def restore(self, snapshot) -> None:
        """Go back to a snapshot of either kind (copied in, so it stays reusable)."""
        flat = self._flat
        if isinstance(snapshot, _FlatSnapshot):
            if flat is None or snapshot.layout is not flat.layout:
                raise ValueError("a packed optimizer snapshot of other parameters")
            for mine, theirs in ((flat.v, snapshot.v), (flat.m, snapshot.m), (flat.t, snapshot.t)):
                if mine is not None:
                    mine[...] = theirs
            self._state = {k: flat.views(k) for k in snapshot.started}
            self._strays = set()
            return
        state, self._strays = {}, set()
        for k, st in snapshot.items():
            if flat is not None and k in flat.layout and set(st) == set(STATE_NAMES[self.type]) \
                    and flat.layout[k][2] == np.shape(st["v"]):
                state[k] = flat.views(k)            # back into the packed buffers
                for n, a in st.items():
                    state[k][n][...] = a
            else:
                state[k] = {n: np.array(a, copy=True) for n, a in st.items()}
                if flat is not None and k in flat.layout:
                    self._strays.add(k)
        self._state = state

    def reset(self) -> None:
        """Forget all state (as if no step had been taken)."""
        self._state = {}
        self._strays = set()

    # ------------------------------------------------------------------- packed
    def pack(self, layout: dict[str, tuple[int, int, tuple]], bounds: np.ndarray,
             dtype) -> None:
        """Keep the state of packed parameters in flat buffers laid out like them
        (`layout`: key -> (offset, size, shape); `bounds`: the offsets and the end; as
        PackedParams has them). Per-key step/state/snapshot/restore keep working, on
        views of the buffers; sgd keeps no state, so nothing changes for it."""
        if self.type == "sgd":
            return
        self._flat = _FlatState(layout, bounds, np.dtype(dtype), self.type == "adam")
        old, self._state = self._state, {}
        self.restore(old)

    def step_packed(self, param: np.ndarray, grad: np.ndarray) -> bool:
        """One step of every packed parameter at once, as `step` per key in layout order
        would do; `param` and `grad` are the flat buffers whose views the keys are. Returns
        False (and does nothing) when some parameter has no state yet: step per key then."""
        if self.type == "sgd":
            K.sgd_step(param, grad, self.lr)
            return True
        flat = self._flat
        if flat is None or self._strays or not self._state.keys() >= flat.keyset:
            return False
        if self.type == "momentum":
            K.momentum_step(param, grad, flat.v, self.lr, self.momentum)
        elif self.type == "rmsprop":
            K.rmsprop_step(param, grad, flat.v, self.lr, self.alpha, self.eps)
        else:
            K.adam_step_packed(param, grad, flat.m, flat.v, self.lr, self.beta1, self.beta2,
                               self.eps, flat.t, flat.bounds)
        return True

    def snapshot_packed(self):
        """A snapshot for `restore`, cheap when packed: one copy per state buffer."""
        flat = self._flat
        if self.type == "sgd":
            return {}                                   # sgd keeps no state
        if flat is None or self._strays or any(k not in flat.layout for k in self._state):
            return self.snapshot()
        return _FlatSnapshot(flat.layout, tuple(self._state), flat.v.copy(),
                             None if flat.m is None else flat.m.copy(), flat.t.copy())


class _FlatState:
    """State buffers over packed parameters: "v" (and adam's "m"), and one step count
    per parameter (adam's "t"); per-key state dicts are views of them."""

    def __init__(self, layout, bounds, dtype, adam: bool):
        self.layout = layout
        self.keyset = frozenset(layout)
        self.index = {k: i for i, k in enumerate(layout)}
        self.bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        size = int(self.bounds[-1])
        self.v = np.zeros(size, dtype)              # (P,)
        self.m = np.zeros(size, dtype) if adam else None
        self.t = np.zeros(len(layout), np.int64)    # (keys,)

    def views(self, key: str) -> dict[str, np.ndarray]:
        o, n, shape = self.layout[key]
        st = {"v": self.v[o:o + n].reshape(shape)}
        if self.m is not None:
            i = self.index[key]
            st["m"] = self.m[o:o + n].reshape(shape)
            st["t"] = self.t[i:i + 1].reshape(())
        return st


class _FlatSnapshot:
    """Packed optimizer state at one moment: which keys had state, and the buffers."""

    __slots__ = ("layout", "started", "v", "m", "t")

    def __init__(self, layout, started, v, m, t):
        self.layout, self.started, self.v, self.m, self.t = layout, started, v, m, t
