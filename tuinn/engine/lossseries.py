"""Provides LossSeries: the training loss of every iteration (and the validation loss where
measured) in bounded memory, and the loss plot's series in bounded work.

Two parts, both of fixed size however long training runs:
- the last `keep` training losses exactly (a ring of floats): indexing, breakpoints,
  watches and time travel read these; an iteration run again overwrites its value;
- a summary of the whole run in at most `buckets` buckets of equal width (a power of two
  iterations): each holds the min, max, sum and count of the finite training losses and
  of the validation losses in it. When the run outgrows the buckets, neighbours merge
  and the width doubles, so the summary is kept up incrementally and a spike stays
  visible as its bucket's max.
`view()` is what a report sends to the plot: at most 2 * `buckets` values per curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KEEP = 8192          # exact training losses kept (the most recent)
BUCKETS = 512        # the summary's buckets (even)


@dataclass
class LossView:
    """The loss curves for a plot: element k stands for iteration k * x_scale."""
    train: np.ndarray            # training loss (per iteration, or min/max per bucket)
    val: np.ndarray              # validation loss, NaN where not measured
    x_scale: float               # iterations per element
    last: int                    # the last iteration recorded (the x axis ends there)
    wide: bool                   # the positive losses span more than three decades


class LossSeries:
    """List-like access to the recent losses; see the module's docstring."""

    def __init__(self, keep: int = KEEP, buckets: int = BUCKETS):
        self.keep = max(1, int(keep))
        self.size = max(2, int(buckets) // 2 * 2)
        self._ring = np.full(min(self.keep, 1024), np.nan)     # grows to `keep`, then wraps
        self._n = 0                                # iterations recorded
        self.width = 1                             # iterations per bucket
        # [train, val] x [min, max, sum] per bucket, and the counts
        self._stats = np.empty((2, 3, self.size))
        self._count = np.zeros((2, self.size), dtype=np.int64)
        self._reset(slice(None))
        self.copied = 0                            # elements copied out by view() (tests)

    # ------------------------------------------------------------------ recording
    def append(self, loss: float) -> None:
        loss = float(loss)
        ring = self._ring
        if self._n == ring.size < self.keep:            # not wrapped yet: grow in place
            ring = self._ring = np.concatenate(
                [ring, np.full(min(ring.size, self.keep - ring.size), np.nan)])
        ring[self._n % ring.size] = loss
        self._add(0, self._n, loss)
        self._n += 1

    def extend(self, losses: np.ndarray) -> None:
        """append() of each of `losses` in turn, leaving exactly the same ring and
        buckets, with the work per bucket rather than per loss (`tuinn train`'s bulk
        iterations, tuinn/engine/run/bulk.py)."""
        values = np.asarray(losses, dtype=np.float64).reshape(-1)
        while values.size:
            end = self.size * self.width                # the first iteration past the buckets
            if self._n >= end:
                self._merge()                           # as _add does, before that iteration
                continue
            ring = self._ring
            if self._n == ring.size < self.keep:        # grow in place, as append does
                ring = self._ring = np.concatenate(
                    [ring, np.full(min(ring.size, self.keep - ring.size), np.nan)])
            pos = self._n % ring.size
            k = min(values.size, ring.size - pos, end - self._n)
            ring[pos:pos + k] = values[:k]
            self._add_many(self._n, values[:k].tolist())
            self._n += k
            values = values[k:]

    def _add_many(self, first: int, values: list) -> None:
        """_add(0, first + i, values[i]) for each i (all inside the current buckets)."""
        st, cnt, w = self._stats[0], self._count[0], self.width
        finite = all(map(math.isfinite, values))
        for j in range(first // w, (first + len(values) - 1) // w + 1):
            seg = values[max(0, j * w - first):(j + 1) * w - first]
            if not finite:
                seg = [v for v in seg if math.isfinite(v)]
                if not seg:
                    continue
            st[0, j] = min(float(st[0, j]), min(seg))
            st[1, j] = max(float(st[1, j]), max(seg))
            total = float(st[2, j])
            for v in seg:                               # one by one: the same rounding
                total += v
            st[2, j] = total
            cnt[j] += len(seg)

    def record(self, iteration: int, loss: float) -> None:
        """The loss of `iteration`: the next one is appended, a kept one overwritten (an
        iteration run again); older ones are no longer kept and are left as they are."""
        if iteration == self._n:
            self.append(loss)
        elif self.first_kept <= iteration < self._n:
            old = float(self._ring[iteration % self._ring.size])
            self._ring[iteration % self._ring.size] = loss
            self._replace(iteration, old, float(loss))

    def record_val(self, iteration: int, loss: float) -> None:
        """A validation loss measured at the start of `iteration`."""
        if iteration >= 0:
            self._add(1, iteration, float(loss))

    # ------------------------------------------------------------------ list-like
    @property
    def first_kept(self) -> int:
        """The oldest iteration whose exact loss is still kept."""
        return max(0, self._n - self._ring.size)

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def _index(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"no loss for iteration {i} (recorded {self._n})")
        if i < self.first_kept:
            raise IndexError(f"the loss of iteration {i} is no longer kept (the last "
                             f"{self._ring.size} are)")
        return i

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            idx = np.arange(start, stop, step)
            idx = idx[idx >= self.first_kept]          # older ones are no longer kept
            return self._ring[idx % self._ring.size]
        return float(self._ring[self._index(i) % self._ring.size])

    def __setitem__(self, i: int, loss: float) -> None:
        self.record(self._index(i), loss)

    def kept(self) -> np.ndarray:
        """The exact losses still kept, oldest first (from `first_kept`)."""
        out = self[self.first_kept:]
        self.copied += out.size
        return out

    def __iter__(self):
        return iter(self.kept().tolist())

    def __array__(self, dtype=None, copy=None):
        out = self.kept()
        return out if dtype is None else out.astype(dtype)

    def __eq__(self, other) -> bool:
        if isinstance(other, LossSeries):
            return len(self) == len(other) and self.first_kept == other.first_kept and \
                np.array_equal(self.kept(), other.kept(), equal_nan=True)
        if isinstance(other, (list, tuple, np.ndarray)):
            return self.first_kept == 0 and np.array_equal(self.kept(), np.asarray(other, float),
                                                           equal_nan=True)
        return NotImplemented

    __hash__ = None

    @property
    def nbytes(self) -> int:
        """Memory held: at most `keep` floats and the buckets, however long it runs."""
        return self._ring.nbytes + self._stats.nbytes + self._count.nbytes

    # ------------------------------------------------------------------ the plot
    def view(self) -> LossView:
        """The curves at the summary's resolution: per iteration while each bucket is one
        iteration wide, else each bucket's min and max in turn (spikes stay visible)."""
        m = -(-self._n // self.width)              # buckets in use
        cnt = self._count[:, :m]
        lo, hi, total = self._stats[:, 0, :m], self._stats[:, 1, :m], self._stats[:, 2, :m]
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.width == 1:
                curves = np.where(cnt > 0, total / np.maximum(cnt, 1), np.nan)
                scale = 1.0
            else:
                curves = np.empty((2, 2 * m))
                curves[:, 0::2] = np.where(cnt > 0, lo, np.nan)
                curves[:, 1::2] = np.where(cnt > 0, hi, np.nan)
                scale = self.width / 2
        # a bucket with no finite training loss (NaN or Inf) draws as a gap
        train, val = curves[0].copy(), curves[1].copy()
        self.copied += train.size + val.size
        pos_lo = lo[0][(cnt[0] > 0) & (lo[0] > 0)]
        pos_hi = hi[0][(cnt[0] > 0) & (hi[0] > 0)]
        wide = bool(pos_lo.size) and float(pos_hi.max()) > 1000 * float(pos_lo.min())
        return LossView(train, val, scale, max(0, self._n - 1), wide)

    def plot_args(self, marker: int) -> tuple:
        """LossPanel.show's arguments: the view, the marker and the loss there."""
        v = self.view()
        value = self[marker] if self.first_kept <= marker < self._n else None
        return v.train, v.val, marker, v.wide, v.x_scale, v.last, value

    def summary(self) -> tuple[float, float] | None:
        """(min, max) of the finite training losses of the whole run, or None."""
        m = -(-self._n // self.width)
        have = self._count[0, :m] > 0
        if not have.any():
            return None
        return float(self._stats[0, 0, :m][have].min()), float(self._stats[0, 1, :m][have].max())

    # ------------------------------------------------------------------ the buckets
    def _reset(self, where) -> None:
        self._stats[:, 0, where] = np.inf
        self._stats[:, 1, where] = -np.inf
        self._stats[:, 2, where] = 0.0
        self._count[:, where] = 0

    def _add(self, channel: int, iteration: int, value: float) -> None:
        while iteration // self.width >= self.size:
            self._merge()
        if not math.isfinite(value):         # (math, not NumPy: every iteration calls this)
            return
        j = iteration // self.width
        st = self._stats
        if value < st[channel, 0, j]:
            st[channel, 0, j] = value
        if value > st[channel, 1, j]:
            st[channel, 1, j] = value
        st[channel, 2, j] += value
        self._count[channel, j] += 1

    def _replace(self, iteration: int, old: float, new: float) -> None:
        """An iteration's training loss changed: mend its bucket (min and max can only
        widen; exact again once the bucket is one iteration wide)."""
        j = iteration // self.width
        st, cnt = self._stats[0], self._count[0]
        if np.isfinite(old):
            st[2, j] -= old
            cnt[j] -= 1
        if self.width == 1 or cnt[j] == 0:
            st[0, j], st[1, j] = np.inf, -np.inf
            if cnt[j] > 0:                          # width 1 holds one value: none left
                st[2, j], cnt[j] = 0.0, 0
        if np.isfinite(new):
            st[0, j], st[1, j] = min(st[0, j], new), max(st[1, j], new)
            st[2, j] += new
            cnt[j] += 1

    def _merge(self) -> None:
        """Halve the resolution: bucket j takes old buckets 2j and 2j + 1."""
        half = self.size // 2
        st, cnt = self._stats, self._count
        st[:, 0, :half] = np.minimum(st[:, 0, 0::2], st[:, 0, 1::2])
        st[:, 1, :half] = np.maximum(st[:, 1, 0::2], st[:, 1, 1::2])
        st[:, 2, :half] = st[:, 2, 0::2] + st[:, 2, 1::2]
        cnt[:, :half] = cnt[:, 0::2] + cnt[:, 1::2]
        self._reset(slice(half, None))
        self.width *= 2
