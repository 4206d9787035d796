"""Provides Tape: what the steps of the current pass have produced so far."""

from __future__ import annotations

import numpy as np


class Tape:
    """Values, gradients and local gradients by node id, written by Steps."""

    def __init__(self) -> None:
        self.values: dict[str, np.ndarray] = {}      # node -> forward value
        self.grads: dict[str, np.ndarray] = {}       # node -> d(output or loss)/d(node), accumulated
        self.local: dict[str, list[np.ndarray]] = {}  # gate -> d(gate)/d(arg_i)
        self.down: dict[str, list[np.ndarray]] = {}   # gate -> downstream gradient per arg
        self.extra: dict[str, object] = {}           # program-specific records (loss, batch, ...)
        self.finished_backward = False

    def clear(self) -> None:
        self.values.clear()
        self.grads.clear()
        self.local.clear()
        self.down.clear()
        self.extra.clear()
        self.finished_backward = False
