"""Provides CircuitGaps: the tracks of each gap between a circuit's columns.

A mixin: CircuitDiagram places the slots in rows (render/circuit.py), then `_plan_gaps`
gives every edge that bends in a gap its own vertical track there, moving the columns
right of a gap down or up where two edges would need each other's row free.
"""

from __future__ import annotations

import math


class CircuitGaps:
    """Plans a CircuitDiagram's gaps; every attribute it reads is set by the layout."""

    def _constraints(self, c: int) -> tuple[dict, dict[str, set[str]]]:
        """Rows of each net in gap c, and which nets' tracks must lie left of which."""
        rows = {}
        for net, (src, dsts) in self._nets[c].items():
            rows[net] = (self._slots[src].out_row, [self._slots[d].entry_row(k) for d, k in dsts])
        src_at = {s: net for net, (s, _) in rows.items()}
        before: dict[str, set[str]] = {net: set() for net in rows}
        for net, (_, ts) in rows.items():     # a source on a row where another net ends
            before[net] |= {src_at[t] for t in ts if t in src_at and src_at[t] != net}
        return rows, before

    def _pack(self, c: int) -> dict[str, int] | None:
        """Tracks for the bending nets of gap c (constrained left-edge), or None if impossible."""
        rows, before = self._constraints(c)
        span = {n: (min(s, *ts), max(s, *ts)) for n, (s, ts) in rows.items() if ts != [s]}
        pending, tracks = sorted(span, key=lambda n: (span[n], n)), {}
        while pending:
            t, last = len(set(tracks.values())), -math.inf
            ready = [n for n in pending if before[n] & span.keys() <= tracks.keys()]
            if not ready:
                return None                        # two nets each need the other's row free
            for n in ready:
                if span[n][0] > last:
                    tracks[n], last = t, span[n][1]
            pending = [n for n in pending if n not in tracks]
        return tracks

    def _plan_gaps(self) -> None:
        """Tracks for each gap. Where two edges swap rows, everything right of the gap
        moves down or up until they can pass; such a move reaches the columns further
        right only when their gap comes (`moved`), so each column is moved once."""
        self._tracks: list[dict[str, int]] = []
        moved = 0                                  # the moves so far, not yet in column c + 1
        for c in range(self._ncols - 1):
            self._shift(c + 1, moved)
            tracks = self._pack(c)
            if tracks is not None:
                self._tracks.append(tracks)
                continue
            rows = [r for i, layer in enumerate(self._layers) for key in layer
                    for s in [self._slots[key]]
                    for r in ((s.y, s.y + s.h) if i <= c + 1 else (s.y + moved, s.y + s.h + moved))]
            deltas = (d for i in range(1, 2 * (max(rows) - min(rows)) + 4) for d in (i, -i))
            while tracks is None:                  # edges swap rows: shift the right side
                d = next(deltas)
                self._shift(c + 1, d)
                if (tracks := self._pack(c)) is None:
                    self._shift(c + 1, -d)
            moved += d
            self._tracks.append(tracks)
        top = min(s.y for s in self._slots.values())
        for s in self._slots.values():             # top row is 0
            s.y -= top
        self._height = max(s.y + s.h for s in self._slots.values())

    def _shift(self, c: int, d: int) -> None:
        """Move column c's things d rows down."""
        for key in self._layers[c]:
            self._slots[key].y += d
