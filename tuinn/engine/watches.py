"""Provides watches: a tensor name, optionally inside one or two functions, evaluated
on every step (`Watch.evaluate(session)`) or after a fast iteration (`evaluate_program`).

    dense1.W   dense1.W.grad   dense1   dense1.grad   lstm1.f   loss   input   x   q.grad
    norm(x) mean(x) std(x) max(x) min(x) abs(x) sum(x)      max(abs(dense1.W.grad))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tuinn.engine import debug as D
from tuinn.engine.debug import did_you_mean
from tuinn.errors import TuinnError
from tuinn.fmt import num, summary


def _reduce(fn):
    def run(a):
        a = np.asarray(a, dtype=np.float64)
        return float(fn(a)) if a.size else float("nan")
    return run


FUNCTIONS = {
    "norm": _reduce(lambda a: np.sqrt(np.sum(a * a))),    # Euclidean (Frobenius) norm
    "mean": _reduce(np.mean), "std": _reduce(np.std),
    "max": _reduce(np.max), "min": _reduce(np.min), "sum": _reduce(np.sum),
    "abs": lambda a: np.abs(a) if isinstance(a, np.ndarray) else abs(a),
}
MAX_DEPTH = 2                      # max(abs(x)): one function inside another


@dataclass(frozen=True)
class WatchValue:
    text: str
    value: np.ndarray | float | None
    available: bool
    note: str = ""                 # why not available: "not yet", "not kept in run mode"

    def format(self, digits: int = 4) -> str:
        """"0.1234", "(2,16) μ=0.01", or the note."""
        if not self.available:
            return self.note or "not yet"
        if isinstance(self.value, float):
            return num(self.value, digits)
        return summary(self.value, digits)


@dataclass(eq=False)
class Watch:
    text: str
    ref: D.Ref
    fns: tuple[str, ...] = ()      # outermost first

    def _value(self, arr, note: str) -> WatchValue:
        if arr is None:
            return WatchValue(self.text, None, False, note or "not yet")
        if not self.fns:
            a = np.array(arr, copy=True)
            return WatchValue(self.text, float(a) if a.ndim == 0 else a, True)
        value = arr
        with np.errstate(all="ignore"):
            for fn in reversed(self.fns):
                value = FUNCTIONS[fn](value)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = float(value)
        return WatchValue(self.text, value, True)

    def evaluate(self, session) -> WatchValue:
        """In step mode: not available (note "not yet") until this pass computes it."""
        return self._value(*D.read_step(session, self.ref))

    def evaluate_program(self, program) -> WatchValue:
        """In run mode, after train_iteration(): parameters (as updated), their gradients,
        the caches and loss of that iteration; layer output gradients are not kept
        (except the output layer's)."""
        return self._value(*D.read_fast(program, self.ref))


def parse_watch(text: str, names: Iterable[str] | None = None) -> Watch:
    """Parse a watch; TuinnError with the column and a hint when malformed or unknown."""
    if not isinstance(text, str):
        raise TuinnError(f"a watch is text, got {text!r}")
    text = text.strip()
    cur = D.Cursor(text, "watch")
    names = D.as_names(names)
    if cur.peek().kind == "end":
        raise cur.error("empty watch", 0, "for example dense1.W.grad or norm(dense1.W)")
    fns: list[str] = []
    while cur.peek().kind == "name" and cur.peek(1).text == "(":
        tok = cur.take()
        if tok.text not in FUNCTIONS:
            raise cur.error(f"unknown function {tok.text!r}", tok.col,
                            did_you_mean(tok.text, FUNCTIONS) or "functions: " + ", ".join(FUNCTIONS))
        if len(fns) == MAX_DEPTH:
            raise cur.error("at most one function inside another", tok.col,
                            "for example max(abs(dense1.W.grad))")
        fns.append(tok.text)
        cur.take()
    ref = D.resolve(cur, *cur.dotted("a tensor name" + (f" inside {fns[-1]}( )" if fns else "")),
                    names)
    for fn in reversed(fns):
        tok = cur.take()
        if tok.text == ",":
            raise cur.error(f"{fn}() takes one argument", tok.col)
        if tok.text != ")":
            raise cur.error(f"expected ')' to close {fn}(, got {cur.show(tok)}", tok.col)
    cur.end("the watch")
    return Watch(text, ref, tuple(fns))


class Watches:
    """An ordered list of watches, evaluated together."""

    def __init__(self, items: Iterable[Watch] = ()):
        self.items: list[Watch] = list(items)

    @classmethod
    def from_spec(cls, texts: Iterable[str], names=None, *, file: str | None = None,
                  line: int | None = None) -> "Watches":
        out = cls()
        for text in texts:
            try:
                out.add(text, names)
            except TuinnError as err:
                err.file, err.line, err.key = err.file or file, err.line or line, "debug.watch"
                raise
        return out

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, watch: Watch | str, names=None) -> Watch:
        if isinstance(watch, str):
            watch = parse_watch(watch, names)
        for old in self.items:
            if old.text == watch.text:
                return old
        self.items.append(watch)
        return watch

    def remove(self, which: int | str | Watch) -> Watch:
        for i, w in enumerate(self.items):
            if w is which or i == which or (isinstance(which, str) and w.text == which.strip()):
                return self.items.pop(i)
        raise TuinnError(f"no watch {which!r}")

    def evaluate(self, session) -> list[WatchValue]:
        return [w.evaluate(session) for w in self.items]

    def evaluate_program(self, program) -> list[WatchValue]:
        return [w.evaluate_program(program) for w in self.items]
