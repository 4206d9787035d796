"""Provides Scratch: named scratch arrays kept per shape, so alternating batch sizes never reallocate.

A training epoch whose last batch is smaller, or a layer run at two batch sizes, asks
for the same name at two shapes in turn. Keeping one array per name would reallocate
at every switch (twice an epoch, for every workspace); a Scratch keeps the last few
shapes of each name (`KEEP`), most recent first, so after the first epoch nothing is
allocated. `ALLOCATIONS[0]` counts every array any Scratch has allocated (tests count
rebuilds with it).
"""

from __future__ import annotations

import numpy as np

KEEP = 3                      # shapes kept per name: a batch, a smaller last batch, one more
ALLOCATIONS = [0]             # every array allocated by any Scratch, for tests


class Scratch:
    """Arrays by name and shape; an array handed out is overwritten by the next call
    for the same name and shape: copy what must outlive one pass."""

    __slots__ = ("_arrays", "zeros")

    def __init__(self, zeros: bool = True):
        self._arrays: dict[str, list[np.ndarray]] = {}
        self.zeros = zeros           # new arrays start at 0 (padded borders rely on it)

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        arrays = self._arrays.get(name)
        if arrays is None:
            arrays = self._arrays[name] = []
        shape = tuple(shape)
        for i, arr in enumerate(arrays):
            if arr.shape == shape and arr.dtype == dtype:
                if i:
                    arrays.insert(0, arrays.pop(i))
                return arr
        arr = np.zeros(shape, dtype=dtype) if self.zeros else np.empty(shape, dtype=dtype)
        ALLOCATIONS[0] += 1
        arrays.insert(0, arr)
        del arrays[KEEP:]
        return arr
