"""Provides History: the kept start-of-iteration snapshots (time travel), with their memory
counted once, as each snapshot comes and goes.

A report (the status line in run mode) reads `count` and `nbytes` in O(1): nothing walks
the snapshots. `nbytes` is everything a snapshot holds: the parameters and the
optimizer's state (moments, step counts), whatever form each takes.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping

import numpy as np


def nbytes_of(obj: object) -> int:
    """Bytes of the arrays in `obj`: an array, a mapping or sequence of them (nested), or
    an object whose attributes hold them (a packed view, a flat optimizer snapshot)."""
    if obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    flat = getattr(obj, "flat", None)
    if isinstance(flat, np.ndarray) and isinstance(obj, Mapping):
        return flat.nbytes                       # a ParamsView: its views share one copy
    if isinstance(obj, Mapping):
        return sum(nbytes_of(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes_of(v) for v in obj)
    if isinstance(obj, (int, float, str, bool)):
        return 0
    fields = getattr(obj, "__dict__", None)
    if fields is None and hasattr(obj, "__slots__"):
        fields = {k: getattr(obj, k, None) for k in obj.__slots__}
    return sum(nbytes_of(v) for v in (fields or {}).values())


def snapshot_nbytes(snap: object) -> int:
    """A snapshot's parameters, optimizer state and buffers, in bytes."""
    return (nbytes_of(getattr(snap, "params", None)) + nbytes_of(getattr(snap, "optim", None))
            + nbytes_of(getattr(snap, "buffers", None)))


class History(deque):
    """A deque of snapshots holding up to `limit` + 1 (the iterations one can step back
    into, and the one the oldest starts from), with a running byte count."""

    def __init__(self, limit: int):
        self.limit = max(0, min(int(limit), sys.maxsize - 1))     # a deque's length bound
        super().__init__(maxlen=self.limit + 1)
        self._sizes: deque[int] = deque()
        self.nbytes = 0
        self.measured = 0            # snapshots measured so far: one per append, never more
        self.visited = 0             # snapshots handed out by iteration (tests count them)

    @property
    def count(self) -> int:
        """Iterations one can step back into, as shown: never above the limit."""
        return min(len(self), self.limit)

    def __iter__(self):
        for snap in super().__iter__():
            self.visited += 1
            yield snap

    def append(self, snap) -> None:
        if len(self) == self.maxlen:
            self.nbytes -= self._sizes.popleft()
        size = getattr(snap, "nbytes", None)
        if size is None:
            size = snapshot_nbytes(snap)
        self.measured += 1
        super().append(snap)
        self._sizes.append(size)
        self.nbytes += size

    def pop(self):
        snap = super().pop()
        self.nbytes -= self._sizes.pop()
        return snap

    def popleft(self):
        snap = super().popleft()
        self.nbytes -= self._sizes.popleft()
        return snap

    def clear(self) -> None:
        super().clear()
        self._sizes.clear()
        self.nbytes = 0

    def extend(self, snaps) -> None:
        for snap in snaps:
            self.append(snap)

    def appendleft(self, snap) -> None:          # not used; kept consistent all the same
        raise TypeError("History grows at its end only")

    extendleft = appendleft
