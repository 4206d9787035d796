"""Provides the tables of allowed keys, types, defaults and ranges, and the checks that apply them.

Each table maps a key to a `Field`; `check_table` rejects unknown keys (with a
"did you mean"), checks types and ranges, and fills defaults. `to_array` turns TOML
numbers and nested lists into NumPy arrays, naming the key of anything ragged.
"""

from __future__ import annotations

import datetime
import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuinn.scenario.locate import Where

REQUIRED: Any = object()   # default of a key that must be given


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


def _pos_int(default=REQUIRED) -> Field:
    return Field("int", default, lo=0, lo_open=True)


def _nonneg_int(default) -> Field:
    return Field("int", default, lo=0)


def _pos_float(default) -> Field:
    return Field("float", default, lo=0, lo_open=True)


def _unit(default) -> Field:
    """A fraction in [0, 1)."""
    return Field("float", default, lo=0, hi=1, hi_open=True)


def _choice(default, *choices: str) -> Field:
    return Field("str", default, choices=choices)


# ------------------------------------------------------------------ the tables
KINDS = ("graph", "network")
DTYPES = ("float64", "float32")
TOP_LEVEL = ("scenario", "graph", "data", "model", "params", "loss", "optimizer", "train",
             "debug")
ONLY_FOR = {"graph": "graph", "data": "network", "model": "network", "params": "network",
            "loss": "network", "optimizer": "network", "train": "network"}

SCENARIO = {
    "name": Field("str"),
    "kind": _choice(REQUIRED, *KINDS),
    "description": Field("str", ""),
    "seed": _nonneg_int(0),
    "dtype": _choice("float64", *DTYPES),
}

GRAPH = {
    "inputs": Field("table"),
    "expr": Field("str"),
    "output": Field("str", None),
}

GENERATORS = ("xor", "spiral", "moons", "circles", "blobs", "sine", "copy", "chars", "bars",
              "shapes")
GENERATOR_OPTIONS = ("samples", "classes", "noise", "delay")
DATA = {
    "generator": _choice(None, *GENERATORS),
    "samples": _pos_int(200),
    "classes": Field("int", 2, lo=2),
    "noise": Field("float", 0.1, lo=0),
    "delay": Field("int", 3, lo=1),          # copy task
    "validation": _unit(0.0),
    "x": Field("array", None),
    "y": Field("array", None),
    "file": Field("str", None),
}

MODEL = {
    "input": Field("ints"),
    "layers": Field("tables"),
}

INITS = ("zeros", "normal", "xavier", "he")
_INIT_STD = _pos_float(0.01)                 # std of init = "normal"
_RECURRENT = {"hidden": _pos_int(), "return_sequences": Field("bool", False),
              "init": _choice("xavier", *INITS), "init_std": _INIT_STD}
_POOL = {"size": _pos_int(), "stride": _pos_int(None)}   # stride None -> size
LAYER_COMMON = {"type": Field("str"), "name": Field("str", None)}
LAYERS: dict[str, dict[str, Field]] = {
    "dense": {"units": _pos_int(), "init": _choice("xavier", *INITS), "init_std": _INIT_STD},
    "relu": {},
    "leaky_relu": {"slope": Field("float", 0.01, lo=0)},
    "sigmoid": {},
    "tanh": {},
    "dropout": {"p": _unit(0.5)},
    "conv2d": {"filters": _pos_int(), "kernel": _pos_int(), "stride": _pos_int(1),
               "padding": _nonneg_int(0), "init": _choice("he", *INITS), "init_std": _INIT_STD},
    "maxpool": dict(_POOL),
    "avgpool": dict(_POOL),
    "flatten": {},
    "rnn": dict(_RECURRENT),
    "lstm": dict(_RECURRENT),
    "gru": dict(_RECURRENT),
    "residual": {"layers": Field("tables")},
}
#: the parameters each layer type owns (the names of [params] keys after the dot)
LAYER_PARAMS = {"dense": ("W", "b"), "conv2d": ("W", "b"), "rnn": ("Wx", "Wh", "b"),
                "lstm": ("Wx", "Wh", "b"), "gru": ("Wx", "Wh", "bx", "bh")}
#: options that size a layer, guarded against absurd values
WIDTH_OPTIONS = ("units", "hidden", "filters")

LOSS = {
    "type": _choice("softmax_ce", "softmax_ce", "hinge", "mse", "bce"),
    "margin": Field("float", 1.0, lo=0),     # hinge only
    "l2": Field("float", 0.0, lo=0),
}
OPTIMIZER = {
    "type": _choice("sgd", "sgd", "momentum", "rmsprop", "adam"),
    "lr": _pos_float(0.1),
    "momentum": _unit(0.9),
    "alpha": _unit(0.99),
    "beta1": _unit(0.9),
    "beta2": _unit(0.999),
    "eps": _pos_float(1e-8),
}
TRAIN = {
    "epochs": _pos_int(100),
    "batch_size": _nonneg_int(0),            # 0: full batch
    "shuffle": Field("bool", True),
}
DEBUG = {
    "breakpoints": Field("strs", ()),
    "watch": Field("strs", ()),
    "history": _nonneg_int(200),
}

MAX_ELEMENTS = 50_000_000    # samples * prod(input) beyond this would not fit comfortably
MAX_WIDTH = 100_000          # units / hidden / filters


# ------------------------------------------------------------------ the checks
def suggest(word: str, options) -> str | None:
    """A "did you mean" hint, or the list of allowed values when nothing is close."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if options:
        return "expected one of: " + ", ".join(options)
    return None


def type_name(value: Any) -> str:
    """The TOML name of a value's type, with an article."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date/time"
    return type(value).__name__


def _expect(what: str, value: Any, key: str, where: Where):
    return where.error(f"expected {what}, got {type_name(value)}", key)


def _check_range(value, field: Field, key: str, where: Where) -> None:
    lo_bad = field.lo is not None and (value <= field.lo if field.lo_open else value < field.lo)
    hi_bad = field.hi is not None and (value >= field.hi if field.hi_open else value > field.hi)
    if not (lo_bad or hi_bad):
        return
    if field.lo is not None and field.hi is not None:
        left, right = "(" if field.lo_open else "[", ")" if field.hi_open else "]"
        rule = f"in {left}{field.lo:g}, {field.hi:g}{right}"
    elif field.lo is not None:
        rule = f"{'>' if field.lo_open else '>='} {field.lo:g}"
    else:
        rule = f"{'<' if field.hi_open else '<='} {field.hi:g}"
    raise where.error(f"must be {rule}, got {value!r}", key)


def check_value(value: Any, field: Field, key: str, where: Where) -> Any:
    """Check one value against its field; return it converted (ints to floats, ...)."""
    kind = field.kind
    if kind == "str":
        if not isinstance(value, str):
            raise _expect("a string", value, key, where)
        if field.choices and value not in field.choices:
            what = key.rpartition(".")[2]
            raise where.error(f"unknown {what} {value!r}", key, suggest(value, field.choices))
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _expect("an integer", value, key, where)
        _check_range(value, field, key, where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _expect("a number", value, key, where)
        _check_range(value, field, key, where)
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
            raise where.error(f"unknown key {key!r}", f"{prefix}.{key}", suggest(key, schema))
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


def _shape_of(value: Any, key: str, where: Where, at: str) -> tuple[int, ...]:
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        place = f" at {at}" if at else ""
        raise where.error(f"expected numbers, got {type_name(value)}{place}", key)
    if not isinstance(value, list):
        return ()
    if not value:
        raise where.error(f"empty array{' at ' + at if at else ''}", key)
    if all(type(v) in (int, float) for v in value):
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

    keep_int: an array of TOML integers stays int64 (class labels).
    """
    _shape_of(value, key, where, "")
    if keep_int:
        arr = np.array(value)
        if arr.dtype.kind == "i":
            return arr.astype(np.int64, copy=False)
    return np.array(value, dtype=dtype)
