"""Provides `Field` and the checks that apply it: types, ranges, defaults, arrays.

`check_table` rejects unknown keys (with a "did you mean"), checks types and ranges,
and fills defaults. `to_array` turns TOML numbers and nested lists into NumPy arrays,
naming the key of anything ragged. `in_range` is the one range test of the loader and
the generators. The tables themselves are in `tuinn.scenario.schema`.
"""

from __future__ import annotations

import datetime
import difflib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuinn.fmt import safe
from tuinn.scenario.locate import Where

REQUIRED: Any = object()   # default of a key that must be given
MAX_INT = 2 ** 63 - 1        # any integer setting: it must fit in an int64
MAX_DIMS = 32                # dimensions of an array written in a scenario


@dataclass(frozen=True)
class Field:
    kind: str                    # str | int | float | bool | ints | strs | table | tables | array
    default: Any = REQUIRED      # REQUIRED, None (optional, no value) or the default value
    choices: tuple[str, ...] = ()
    lo: float | None = None      # lower bound
    hi: float | None = None      # upper bound
    lo_open: bool = False        # True: lo itself is excluded
    hi_open: bool = False        # True: hi itself is excluded

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def suggest(word: str, options) -> str | None:
    """A "did you mean" hint, or the list of allowed values when nothing is close."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if options:
        return "expected one of: " + ", ".join(options)
    return None


#: the TOML name of each type tomllib returns, with an article (bool before int: a bool is one)
_TYPE_NAMES = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
               (list, "an array"), (dict, "a table"),
               ((datetime.date, datetime.time), "a date/time"))


def type_name(value: Any) -> str:
    """The TOML name of a value's type, with an article."""
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)),
                type(value).__name__)


def _expect(what: str, value: Any, key: str, where: Where):
    return where.error(f"expected {what}, got {type_name(value)}", key)


def in_range(value: Any, lo: float | None = None, hi: float | None = None,
             lo_open: bool = False, hi_open: bool = False) -> bool:
    """Is `value` a finite number within the bounds? The one range test of the loader and
    the generators: NaN and +-Inf are never in range (a bare `<=` would let NaN through)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    if isinstance(value, (int, np.integer)):
        if abs(int(value)) > MAX_INT:
            return False
    elif not math.isfinite(value):
        return False
    if lo is not None and not (value > lo if lo_open else value >= lo):
        return False
    return hi is None or bool(value < hi if hi_open else value <= hi)


def rule(lo: float | None, hi: float | None, lo_open: bool = False,
         hi_open: bool = False) -> str:
    """The bounds in words: "> 0", "in [0, 1)", "a finite number"."""
    if lo is not None and hi is not None:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        return f"in {left}{lo:g}, {hi:g}{right}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return "a finite number"


def show(value: Any) -> str:
    """A short, terminal-safe excerpt of a value from the user's file, for messages."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return f"an integer of {len(str(abs(value))):,} digits"
    return safe(repr(value), limit=40)


def check_range(value, field: Field, key: str, where: Where) -> None:
    """Raise unless `value` is a finite number within the field's bounds."""
    if in_range(value, field.lo, field.hi, field.lo_open, field.hi_open):
        return
    if isinstance(value, (int, np.integer)) and abs(int(value)) > MAX_INT:
        raise where.error(f"{show(value)} is too large (at most {MAX_INT:,})", key)
    if isinstance(value, float) and not math.isfinite(value):
        raise where.error(f"must be a finite number, got {show(value)}", key)
    raise where.error(f"must be {rule(field.lo, field.hi, field.lo_open, field.hi_open)}, "
                      f"got {show(value)}", key)


def check_value(value: Any, field: Field, key: str, where: Where) -> Any:
    """Check one value against its field; return it converted (ints to floats, ...)."""
    kind = field.kind
    if kind == "str":
        if not isinstance(value, str):
            raise _expect("a string", value, key, where)
        if field.choices and value not in field.choices:
            what = key.rpartition(".")[2]
            raise where.error(f"unknown {what} {show(value)}", key,
                              suggest(value, field.choices))
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _expect("an integer", value, key, where)
        check_range(value, field, key, where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _expect("a number", value, key, where)
        check_range(value, field, key, where)
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _expect("true or false", value, key, where)
        return value
    if kind in ("ints", "strs", "tables"):
        if not isinstance(value, list):
            raise _expect("an array", value, key, where)
        if kind in ("ints", "tables") and not value:
            raise where.error("must not be empty", key)
        item = {"ints": Field("int", lo=0, lo_open=True), "strs": Field("str"),
                "tables": Field("table")}[kind]
        return [check_value(v, item, f"{key}.{j}", where) for j, v in enumerate(value)]
    if kind == "table":
        if not isinstance(value, dict):
            raise _expect("a table", value, key, where)
        return value
    return value   # "array": converted by to_array where the dtype is known


def check_table(table: Any, schema: dict[str, Field], prefix: str, where: Where) -> dict:
    """Validate a TOML table against a schema; return every key, defaults filled."""
    if not isinstance(table, dict):
        raise _expect("a table", table, prefix, where)
    for key in table:
        if key not in schema:
            raise where.error(f"unknown key {show(key)}", f"{prefix}.{key}", suggest(key, schema))
    out = {}
    for name, field in schema.items():
        key = f"{prefix}.{name}"
        if name in table:
            out[name] = check_value(table[name], field, key, where)
        elif field.required:
            raise where.error(f"missing required key {name!r}", key)
        else:
            out[name] = list(field.default) if isinstance(field.default, tuple) else field.default
    return out


def _leaf(value: Any, key: str, where: Where, at: str) -> None:
    """One number of an array: finite, and an integer that fits in an int64."""
    if not in_range(value):
        place = f" at {at}" if at else ""
        what = "too large" if isinstance(value, int) else "not a finite number"
        raise where.error(f"{show(value)}{place} is {what}", key,
                          "numbers must be finite: no nan or inf" if what != "too large"
                          else None)


def _shape_of(value: Any, key: str, where: Where, at: str) -> tuple[int, ...]:
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        place = f" at {at}" if at else ""
        raise where.error(f"expected numbers, got {type_name(value)}{place}", key)
    if not isinstance(value, list):
        _leaf(value, key, where, at)
        return ()
    if not value:
        raise where.error(f"empty array{' at ' + at if at else ''}", key)
    if all(type(v) in (int, float) for v in value):
        for j, v in enumerate(value):
            _leaf(v, key, where, f"{at}[{j}]")
        return (len(value),)
    shapes = [_shape_of(v, key, where, f"{at}[{j}]") for j, v in enumerate(value)]
    for j, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise where.error(
                f"ragged array: {at}[{j}] has shape {shape} but {at}[0] has shape {shapes[0]}",
                key, "every row must have the same length")
    return (len(value),) + shapes[0]


def to_array(value: Any, dtype: str, key: str, where: Where,
             keep_int: bool = False) -> np.ndarray:
    """Numbers or nested lists -> an array of `dtype` (0-d for a number).

    keep_int: an array of TOML integers stays int64 (class labels). NaN, Inf, integers
    beyond int64 and values that overflow `dtype` (1e300 in float32) are errors.
    """
    shape = _shape_of(value, key, where, "")
    if len(shape) > MAX_DIMS:
        raise where.error(f"an array of {len(shape)} dimensions: at most {MAX_DIMS}", key)
    if keep_int:
        arr = np.array(value)
        if arr.dtype.kind == "i":
            return arr.astype(np.int64, copy=False)
    with np.errstate(over="ignore"):
        try:
            arr = np.array(value, dtype=dtype)
        except OverflowError:
            arr = None
    if arr is None or not np.isfinite(arr).all():
        big = _first_overflow(value, dtype)
        raise where.error(f"{show(big)} does not fit in {dtype} (largest: "
                          f"{float(np.finfo(dtype).max):.3g})", key,
                          "use smaller numbers, or dtype = \"float64\"" if dtype != "float64"
                          else None)
    return arr


def _first_overflow(value: Any, dtype: str) -> Any:
    """The first number of a nested list that overflows `dtype`."""
    top = float(np.finfo(dtype).max)
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        elif abs(v) > top:
            return v
    return value
