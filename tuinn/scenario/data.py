"""Provides the data sources of a network scenario: generators, inline arrays, .npz/.csv files.

`GENERATORS` maps a name to `fn(options, input_shape, rng) -> (x, y)`; other modules add
theirs with `@register_generator(name)` (tuinn/scenario/data_seq.py and data_images.py
are imported on first use). Everything is seeded by the rng passed in.
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
from typing import Any, Callable

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.data_files import load_csv, load_npz   # noqa: F401 (re-exported)
from tuinn.scenario.schema import in_range

Generator = Callable[[dict, tuple[int, ...], np.random.Generator], tuple[np.ndarray, np.ndarray]]
GENERATORS: dict[str, Generator] = {}
PLUGINS = ("tuinn.scenario.data_seq", "tuinn.scenario.data_images", "tuinn.scenario.data_points",
           "tuinn.scenario.data_text")
#: every option each generator reads, with its default (for the loader's validation)
DEFAULTS: dict[str, dict[str, Any]] = {
    "xor": {"samples": 200, "noise": 0.1},
    "spiral": {"samples": 300, "classes": 3, "noise": 0.2},
    "moons": {"samples": 200, "noise": 0.1},
    "circles": {"samples": 200, "noise": 0.05, "factor": 0.5},
    "blobs": {"samples": 200, "classes": 3, "noise": 0.5},
    "sine": {"samples": 200, "noise": 0.05},
}
SINE_STEP = 0.3          # radians between consecutive samples of a sine window


def register_generator(name: str) -> Callable[[Generator], Generator]:
    """Decorator: make `fn(options, input_shape, rng) -> (x, y)` available as `name`."""
    def deco(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn
    return deco


def _load_plugins() -> None:
    for mod in PLUGINS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name != mod:
                raise


def generator_names() -> list[str]:
    """Every registered generator, plugins included."""
    _load_plugins()
    return sorted(GENERATORS)


# ------------------------------------------------------------------ options
def _opts(name: str, options: dict) -> dict[str, Any]:
    """The generator's defaults overlaid with the options given (None counts as unset)."""
    return {**DEFAULTS[name], **{k: v for k, v in options.items() if v is not None}}


def _num(options: dict, key: str, *, integer: bool, minimum: float):
    value = options.get(key)
    if (integer and not isinstance(value, (int, np.integer))) or not in_range(value, minimum):
        kind = "an integer" if integer else "a finite number"
        raise TuinnError(f"{key} must be {kind} >= {minimum}, got {safe(repr(value), limit=40)}",
                         key=f"data.{key}")
    return int(value) if integer else float(value)


def _samples(options: dict) -> int:
    return _num(options, "samples", integer=True, minimum=1)


def _noise(options: dict) -> float:
    return _num(options, "noise", integer=False, minimum=0.0)


def _classes(options: dict) -> int:
    return _num(options, "classes", integer=True, minimum=1)


def _need_points(name: str, input_shape: tuple[int, ...]) -> None:
    if tuple(input_shape) != (2,):
        raise TuinnError(f"generator {name!r} makes 2-D points, but [model] input is "
                         f"{list(input_shape)}", key="model.input", hint="use input = [2]")


def _shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    order = rng.permutation(len(x))
    return np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])


def _per_class(n: int, k: int) -> list[int]:
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


# --------------------------------------------------------------- generators
@register_generator("xor")
def xor(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """Points uniform in [-1, 1]^2, class 1 where the signs of x0 and x1 differ, then
    jittered by Gaussian noise (std = noise)."""
    options = _opts("xor", options)
    _need_points("xor", input_shape)
    n, noise = _samples(options), _noise(options)
    x = rng.uniform(-1.0, 1.0, size=(n, 2))                           # (N, 2)
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)            # (N,)
    x += noise * rng.normal(size=x.shape)
    return x, y


@register_generator("spiral")
def spiral(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """The CS231n spiral: `classes` arms, radius 0..1, angle jittered by noise."""
    options = _opts("spiral", options)
    _need_points("spiral", input_shape)
    n, k, noise = _samples(options), _classes(options), _noise(options)
    xs, ys = [], []
    for j, m in enumerate(_per_class(n, k)):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, m) + noise * rng.normal(size=m)
        xs.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        ys.append(np.full(m, j, dtype=np.int64))
    return _shuffled(np.concatenate(xs), np.concatenate(ys), rng)


@register_generator("moons")
def moons(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """Two interleaved half circles (as scikit-learn's make_moons), centred at 0."""
    options = _opts("moons", options)
    _need_points("moons", input_shape)
    n, noise = _samples(options), _noise(options)
    n0, n1 = _per_class(n, 2)
    t0, t1 = rng.uniform(0.0, math.pi, n0), rng.uniform(0.0, math.pi, n1)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    x = np.concatenate([outer, inner]) - np.array([0.5, 0.25])
    x += noise * rng.normal(size=x.shape)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    return _shuffled(x, y, rng)


@register_generator("circles")
def circles(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """A circle of radius 1 (class 0) around one of radius `factor` (class 1)."""
    options = _opts("circles", options)
    _need_points("circles", input_shape)
    n, noise = _samples(options), _noise(options)
    factor = _num(options, "factor", integer=False, minimum=0.0)
    n0, n1 = _per_class(n, 2)
    t = rng.uniform(0.0, 2.0 * math.pi, n)
    r = np.concatenate([np.ones(n0), np.full(n1, factor)])
    x = np.column_stack([r * np.cos(t), r * np.sin(t)]) + noise * rng.normal(size=(n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    return _shuffled(x, y, rng)


@register_generator("blobs")
def blobs(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """`classes` Gaussian blobs (std = noise) with centres at distance 2 from 0; input [D]."""
    options = _opts("blobs", options)
    if len(input_shape) != 1:
        raise TuinnError(f"generator 'blobs' makes feature vectors, but [model] input is "
                         f"{list(input_shape)}", key="model.input", hint="use input = [2]")
    n, k, noise = _samples(options), _classes(options), _noise(options)
    d = int(input_shape[0])
    if d == 1:
        centres = np.linspace(-2.0, 2.0, k).reshape(k, 1) if k > 1 else np.zeros((1, 1))
    elif d == 2:
        a = rng.uniform(0.0, 2.0 * math.pi) + 2.0 * math.pi * np.arange(k) / k
        centres = 2.0 * np.column_stack([np.cos(a), np.sin(a)])
    else:
        c = rng.normal(size=(k, d))
        centres = 2.0 * c / np.linalg.norm(c, axis=1, keepdims=True)
    counts = _per_class(n, k)
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    x = centres[y] + noise * rng.normal(size=(n, d))
    return _shuffled(x, y, rng)


@register_generator("sine")
def sine(options: dict, input_shape: tuple[int, ...], rng: np.random.Generator):
    """Regression. input [1]: x ~ U(-pi, pi), y = sin(x) + noise, both (N, 1).
    input [T] or [T, 1]: windows of a noisy sine wave (random phase), y = the next value (N, 1).
    """
    options = _opts("sine", options)
    n, noise = _samples(options), _noise(options)
    shape = tuple(input_shape)
    if shape == (1,):
        x = rng.uniform(-math.pi, math.pi, size=(n, 1))
        return x, np.sin(x) + noise * rng.normal(size=(n, 1))
    if len(shape) in (1, 2) and shape[0] > 1 and shape[1:] in ((), (1,)):
        t_len = shape[0]
        phase = rng.uniform(0.0, 2.0 * math.pi, size=(n, 1))
        s = np.sin(phase + SINE_STEP * np.arange(t_len + 1)) \
            + noise * rng.normal(size=(n, t_len + 1))                  # (N, T+1)
        return s[:, :t_len].reshape((n,) + shape), s[:, t_len:].copy()
    raise TuinnError(f"generator 'sine' needs [model] input [1], [T] or [T, 1], got "
                     f"{list(shape)}", key="model.input")


# ------------------------------------------------------------------- files
# ------------------------------------------------------------------ loading
def _fit_x(x: np.ndarray, input_shape: tuple[int, ...], source: str) -> np.ndarray:
    if x.dtype.kind not in "iubf":
        raise TuinnError(f"{source}: x must be numeric, got {x.dtype}", key="data.x")
    if x.ndim == 0:
        raise TuinnError(f"{source}: x must hold one row per sample", key="data.x")
    if x.shape[1:] == input_shape:
        return x
    size = int(np.prod(input_shape, dtype=np.int64))
    if x.ndim <= 2 and int(np.prod(x.shape[1:], dtype=np.int64)) == size:
        return x.reshape((x.shape[0],) + input_shape)       # flat rows into the input shape
    raise TuinnError(f"{source}: one sample has shape {list(x.shape[1:])}, but [model] "
                     f"input is {list(input_shape)}", key="model.input")


def _fit_y(y: np.ndarray, dtype: np.dtype, source: str) -> np.ndarray:
    if y.dtype.kind not in "iubf":
        raise TuinnError(f"{source}: y must be numeric, got {y.dtype}", key="data.y")
    if y.ndim == 0:
        raise TuinnError(f"{source}: y must hold one target per sample", key="data.y")
    if y.dtype.kind in "iub" and y.ndim == 1:
        return np.ascontiguousarray(y, dtype=np.int64)      # class labels
    return np.ascontiguousarray(y, dtype=dtype)


def load_data(data_spec, input_shape, rng: np.random.Generator,
              dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) from a DataSpec: x (N, *input_shape) in `dtype`; y an int64 vector (N,) of
    class labels, or targets in `dtype` ((N, k) for regression; an all-integer CSV
    target column becomes labels, other CSV targets a column (N, 1)). Errors name the
    data file where it is the culprit, else the scenario (DataSpec.path)."""
    try:
        x, y = _load_data(data_spec, input_shape, rng, dtype)
    except TuinnError as err:
        scenario = getattr(data_spec, "path", "") or None
        if err.file is None:
            err.file = scenario
        elif scenario and err.file != scenario and data_spec.line:
            note = (f"data.file is set on line {data_spec.line} of "
                    f"{safe(os.path.basename(scenario), limit=40)}")
            err.hint = f"{err.hint}; {note}" if err.hint else note
        raise
    return x, y


def _load_data(data_spec, input_shape, rng: np.random.Generator, dtype):
    input_shape = tuple(int(d) for d in input_shape)
    dtype = np.dtype(dtype)
    line = getattr(data_spec, "line", 0) or None
    has_inline = data_spec.x is not None or data_spec.y is not None
    sources = [s for s, on in (("generator", data_spec.generator), ("file", data_spec.file),
                               ("x and y", has_inline)) if on]
    if len(sources) != 1:
        what = "none" if not sources else " and ".join(sources)
        raise TuinnError(f"[data] needs exactly one of generator, file, or x and y "
                         f"(got {what})", line=line, key="data")
    if data_spec.generator:
        name = data_spec.generator
        _load_plugins()
        fn = GENERATORS.get(name)
        if fn is None:
            close = difflib.get_close_matches(name, list(GENERATORS), n=1)
            raise TuinnError(f"unknown generator {name!r}", line=line, key="data.generator",
                             hint=f"did you mean {close[0]!r}?" if close else
                             "one of " + ", ".join(sorted(GENERATORS)))
        try:
            x, y = fn(dict(data_spec.options or {}), input_shape, rng)
        except TuinnError as err:
            if err.line is None:
                err.line = line
            raise
        source = f"generator {name!r}"
    elif data_spec.file:
        path = str(data_spec.file)
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npz":
            x, y = load_npz(path)
        elif ext == ".csv":
            x, y = load_csv(path)
            if np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)                       # labels
            else:
                y = y.reshape(-1, 1)
        else:
            shown = safe(os.path.basename(path), limit=40)
            raise TuinnError(f"unsupported data file '{shown}'", file=path,
                             line=line, key="data.file", hint="use .npz or .csv")
        source = os.path.basename(path)
    else:
        if data_spec.x is None or data_spec.y is None:
            raise TuinnError("[data] inline data needs both x and y", line=line, key="data")
        x, y = data_spec.x, data_spec.y
        source = "[data]"
    try:
        with np.errstate(over="ignore"):
            x = np.ascontiguousarray(_fit_x(np.asarray(x), input_shape, source), dtype=dtype)
            y = _fit_y(np.asarray(y), dtype, source)
        for k, a in (("x", x), ("y", y)):
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                path = str(data_spec.file) if data_spec.file else None
                raise TuinnError(f"{k} holds values too large for {dtype}", file=path,
                                 key="data.file" if path else f"data.{k}",
                                 hint="use smaller numbers, or dtype = \"float64\"")
    except TuinnError as err:
        if err.file is None:
            err.line = err.line or line
        raise
    if len(x) != len(y):
        raise TuinnError(f"{source}: {len(x)} samples in x but {len(y)} targets in y",
                         line=line, key="data")
    if len(x) == 0:
        raise TuinnError(f"{source}: no samples", line=line, key="data")
    return x, y


def split(x: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator):
    """(x_train, y_train, x_val, y_val): a random `fraction` held out for validation.

    Both parts keep the data's order; fraction 0 returns empty validation arrays and
    draws nothing from the rng.
    """
    n = len(x)
    if not in_range(fraction, 0.0, 1.0, hi_open=True):
        raise TuinnError(f"validation must be in [0, 1), got {fraction!r}",
                         key="data.validation")
    n_val = int(round(float(fraction) * n))
    if fraction > 0 and n_val == 0:
        n_val = 1
    if n_val == 0:
        return x, y, x[:0], y[:0]
    if n - n_val < 1:
        raise TuinnError(f"validation = {fraction} leaves no training samples out of {n}",
                         key="data.validation")
    perm = rng.permutation(n)
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return x[train], y[train], x[val], y[val]
