"""Provides the checks of the files a scenario names: data and weights files.

Paths are relative to the scenario; a directory, a device or a missing file is an
error at the key's line. A weights .npz or .safetensors is read and checked at load time (names of
parameters and buffers, plain finite numbers, sizes within the memory limit, a running
variance >= 0); a data file's .npz
headers give its number of samples for the memory estimate before anything is read.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario import schema as S
from tuinn.scenario.locate import Where
from tuinn.scenario.npz import check_header, npz_headers

#: layer type -> the buffers a parameter file or `[params]` may set (beside its
#: parameters, S.LAYER_PARAMS), under the trace's names: "bn1.running_mean"
LAYER_BUFFERS = {"batchnorm": ("running_mean", "running_var")}


def resolve_file(value: str, key: str, where: Where, base: Path,
                 suffixes: tuple[str, ...]) -> str:
    shown = S.show(value)
    if "\x00" in value:
        raise where.error(f"{shown}: not a file name", key)
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    if path.suffix.lower() not in suffixes:
        raise where.error(f"{shown}: expected a {' or '.join(suffixes)} file", key)
    if path.is_dir():
        raise where.error(f"{shown} is a directory, not a file", key)
    if not path.exists():
        raise where.error(f"file not found: {shown} (looked for {S.show(str(path))})", key,
                          "paths are relative to the scenario file")
    if not path.is_file():
        raise where.error(f"{shown} is not a regular file (a device or a pipe?)", key)
    return str(path)


def check_params_file(path: str, kinds: dict[str, str], dtype: str = "float64") -> None:
    """The arrays of a weights .npz or .safetensors: names of parameters or buffers, plain
    finite numbers that fit in `dtype`, running variances >= 0, sizes within the memory
    limit (shapes are checked against the layers when they are built)."""
    from tuinn.scenario.params_io import read_params
    top = float(np.finfo(dtype).max)
    for name, arr in read_params(path, "params.file").items():
        if arr.size and arr.dtype.kind == "f" and float(np.abs(arr).max()) > top:
            raise TuinnError(f"array '{safe(name, limit=40)}' holds values too large for "
                             f"{dtype}", file=path, key="params.file",
                             hint="use smaller numbers, or dtype = \"float64\"")
        layer, _, pname = name.rpartition(".")
        if layer not in kinds or pname not in layer_names(kinds[layer]):
            params = [f"{la}.{p}" for la, k in kinds.items() for p in layer_names(k)]
            raise TuinnError(f"no parameter named {S.show(name)}", file=path,
                             key="params.file",
                             hint=S.suggest(name, params))
        problem = buffer_problem(name, arr)
        if problem:
            raise TuinnError(problem, file=path, key="params.file")


def layer_names(kind: str) -> tuple[str, ...]:
    """What `[params]` may set of a layer of type `kind`: its parameters ("W", "b"),
    then its buffers ("running_mean", "running_var")."""
    return S.LAYER_PARAMS.get(kind, ()) + LAYER_BUFFERS.get(kind, ())


def buffer_problem(name: str, value: np.ndarray) -> str | None:
    """What is wrong with a buffer's values (`name` "bn1.running_var"), or None: a
    running variance must be >= 0 (finiteness is checked as for every array)."""
    if name.rpartition(".")[2] == "running_var" and np.size(value):
        low = float(np.min(value))
        if low < 0:
            return (f"{name} holds a negative value ({low:.6g}): a running variance "
                    "must be >= 0")
    return None


def file_samples(path: str, shape: tuple[int, ...]) -> int:
    """Samples in a data file, from the .npz headers (checked: numbers, size) or, for a
    CSV, at most one row per 2 * (numbers in a row) bytes."""
    if path.lower().endswith(".npz"):
        headers = npz_headers(path, "data.file")
        for name in ("x", "y"):
            if name in headers:
                check_header(path, "data.file", name, *headers[name])
        x_shape = headers.get("x", ((0,), None))[0]
        return int(x_shape[0]) if x_shape else 1
    return os.path.getsize(path) // (2 * (math.prod(shape) + 1)) + 1


def set_by(err: TuinnError, where: Where, key: str) -> TuinnError:
    """An error in a file the scenario names: say where the scenario names it."""
    line = where.line(key)
    if err.file != where.file and line:
        name = safe(os.path.basename(where.file), limit=40)
        note = f"{key} is set on line {line} of {name}"
        err.hint = f"{err.hint}; {note}" if err.hint else note
    return err
