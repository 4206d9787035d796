"""Provides LSTMChainPlan: `tuinn train`'s epoch kernel for an LSTM with a dense head (bulk.py
runs it).

A network whose first layer is an lstm (one direction, its last h) followed by a dense
chain, with any of the four losses: issue 11's W3. bulk.py's `run_chunk` runs many of
its iterations in one call of `epoch_lstm_classes`/`epoch_lstm_values`
(tuinn/engine/kernels/recchain.py) as it does a dense chain's, on the lstm's own
workspace and output buffer, and `bind` then leaves the caches as the last of those
iterations one by one would (train_iteration): the chain's through its ChainPlan, the
head's input as the lstm's output, the lstm's views of its workspace (Recurrent.forward
and backward).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.kernels import chain as K
from tuinn.engine.kernels.recchain import epoch_lstm_classes, epoch_lstm_values
from tuinn.engine.run.fastpath import ChainPlan, chain_supported, kept_plan


def lstm_supported(prog) -> bool:
    """True when `tuinn train` may run this program's iterations through an LSTMChainPlan
    (the rest of bulk.py's conditions are its own: no L2, nothing frozen, ...)."""
    layers = prog.layers
    if prog._needs_rng or prog.packed is None or len(layers) < 2:
        return False
    lstm, head = layers[0], layers[1]
    x, y = prog.x, prog.y
    return bool(lstm.type == "lstm" and not lstm.bi and not lstm.seq
                and not lstm.sublayers() and head.type == "dense"
                and head.dtype == lstm.dtype == prog.packed.dtype
                and prog.loss.type in K.LOSS_KINDS
                and chain_supported(layers[1:], prog.loss, prog.packed)
                and isinstance(x, np.ndarray) and x.dtype == lstm.dtype
                and x.ndim == 3 and x.shape[1:] == (lstm.T, lstm.I) and x.flags.c_contiguous
                and isinstance(y, np.ndarray) and y.flags.c_contiguous
                and (y.dtype == np.int64 and y.ndim == 1 if prog.loss.is_classification
                     else y.dtype == lstm.dtype and y.shape[1:] == tuple(layers[-1].out_shape))
                and len(y) == len(x))


def lstm_plan(prog, n: int) -> "LSTMChainPlan | None":
    """The program's plan for batches of n rows (made on first use), or None when it
    cannot run them."""
    return kept_plan(prog, n, "_lstm_plans", lstm_supported, LSTMChainPlan)


class LSTMChainPlan:
    """The epoch kernel's arguments for batches of n rows, and the caches after it."""

    def __init__(self, prog, n: int):
        self.layers, self.packed = prog.layers, prog.packed
        self.lstm, self.head = prog.layers[0], prog.layers[1]
        self.tail = tail = ChainPlan(prog.layers[1:], prog.loss, prog.packed, n)
        self.n = n
        lstm, layout = self.lstm, prog.packed.layout
        self.dims = np.array([lstm.I, lstm.H] + [layout[f"{lstm.name}.{k}"][0]
                                                 for k in ("Wx", "Wh", "b")], np.int64)
        self.out, self.target = tail.out, tail.target
        self.epoch_kernel = epoch_lstm_classes if tail.classes else epoch_lstm_values

    def epoch_args(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, start: int) -> tuple:
        """The kernel's arguments before the optimizer's (bulk._State.args)."""
        lstm, tail, n = self.lstm, self.tail, self.n
        ws = self.ws = lstm._workspace(n)
        self.xb = lstm.buffer("bulk.x", (n, lstm.T, lstm.I))
        self.y = lstm.buffer("y", (n, lstm.H))
        losses = ((tail.target, tail.w, tail.g, tail.a, tail.table, tail.slopes,
                   tail.loss_kind, tail.margin, tail.probs, tail.dout, tail.bad)
                  if tail.classes else
                  (tail.target, tail.w, tail.g, tail.a, tail.table, tail.slopes,
                   tail.loss_kind, tail.dout))
        return (X, Y, order, start, self.dims, self.xb, self.y) + tuple(
            ws[k] for k in ("xt", "xp", "rec", "gates", "cs", "hs", "tc", "dh", "dc", "dA",
                            "dhrec", "dxt", "dx")) + losses

    def bind(self, value: float, done: int) -> float:
        """The caches as the last of `done` iterations left them, with `value` its loss;
        returns it as a float."""
        value = self.tail.bind(value)
        if not done:
            return value
        lstm, ws = self.lstm, self.ws
        self.head.cache["x"] = self.y                       # the lstm's output
        cache = lstm.cache
        for k in ("dh", "dc") + lstm.grad_names:             # as Recurrent.forward, backward
            cache.pop(k, None)
            cache.pop(k + "_r", None)
        lstm._ws = ws
        forward, backward = lstm._views_of(ws, "")
        cache.update(forward)
        cache.update(backward)
        return value
