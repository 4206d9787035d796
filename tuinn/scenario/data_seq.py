"""Provides the sequence data generators "copy" and "chars" for recurrent scenarios.

Both take the model's input shape [T, F] and return x (N, T, F) float64 and integer
labels y (N,) int64, everything drawn from `rng`:

- copy: a symbol, one-hot over the F features, shown at step T-1-delay; every other
  step is blank (zeros, plus Gaussian noise of std `noise`). The target is the
  symbol, so the network must carry it `delay` steps to the end of the sequence.
  Options: samples, classes (symbols used, 2..F; default F), noise, delay (0..T-1;
  default T-1, the symbol at the first step).
- chars: windows of T characters of CORPUS, one-hot over its vocabulary (F must be
  the vocabulary size, `len(vocabulary())`); the target is the next character's index.
  With input = [T] (a first embedding layer) x is the window's ids (N, T) and y the
  next character at every position (N, T), for a sequence output (N, T, V).
  Options: samples (windows, at random positions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario.data import register_generator
from tuinn.scenario.schema import in_range

#: every option each generator reads, with its default (None: derived from the input shape)
DEFAULTS: dict[str, dict[str, Any]] = {
    "copy": {"samples": 200, "classes": None, "noise": 0.0, "delay": None},
    "chars": {"samples": 200},
}

CORPUS = (
    "a network learns by making small mistakes and fixing them. it looks at an example, "
    "makes a guess, and measures how wrong the guess was. the loss says how wrong. the "
    "gradient says which way each weight should move to make the loss smaller. every "
    "weight takes a small step downhill, and the network tries again. a recurrent network "
    "reads a sequence one step at a time and keeps a memory of what it has seen. that "
    "memory is the hidden state. when the gradient flows back through many steps it can "
    "fade away or blow up, so the gates learn what to keep and what to forget. step by "
    "step, the guesses get better, and the network starts to write like the text it reads."
)


def vocabulary() -> str:
    """The distinct characters of CORPUS, sorted: index k of the one-hot is vocabulary()[k]."""
    return "".join(sorted(set(CORPUS)))


# ------------------------------------------------------------------ options
def _opts(name: str, options: dict) -> dict[str, Any]:
    return {**DEFAULTS[name], **{k: v for k, v in options.items() if v is not None}}


def _int(opts: dict, key: str, lo: int, hi: int | None = None, hint: str | None = None) -> int:
    v = opts[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or \
            (hi is not None and v > hi):
        span = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise TuinnError(f"{key} must be an integer {span}, got {v!r}", key=f"data.{key}",
                         hint=hint)
    return int(v)


def _sequence_shape(name: str, input_shape: tuple, example: str) -> tuple[int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise TuinnError(f"generator {name!r} makes sequences, but [model] input is "
                         f"{list(input_shape)}", key="model.input",
                         hint=f"use input = [time, features], for example {example}")
    return shape                                                     # type: ignore[return-value]


# --------------------------------------------------------------- generators
@register_generator("copy")
def copy_task(options: dict, input_shape: tuple, rng: np.random.Generator):
    """Remember a symbol for `delay` steps: x (N, T, F), y (N,) = the symbol's class."""
    opts = _opts("copy", options)
    T, F = _sequence_shape("copy", input_shape, "[8, 4]")
    if F < 2:
        raise TuinnError("generator 'copy' needs at least 2 symbols (input features)",
                         key="model.input", hint=f"for example input = [{T}, 4]")
    n = _int(opts, "samples", 1)
    if opts["classes"] is None:
        opts["classes"] = F
    classes = _int(opts, "classes", 2, F, hint=f"the symbols are one-hot over the input's {F} "
                   f"features: at most {F}, or widen [model] input")
    if opts["delay"] is None:
        opts["delay"] = T - 1
    delay = _int(opts, "delay", 0, T - 1, hint=f"the input has {T} timesteps; a delay of d "
                 "needs input = [d+1 or more, features]")
    noise = opts["noise"]
    if not in_range(noise, 0):
        raise TuinnError(f"noise must be a number >= 0, got {noise!r}", key="data.noise")
    y = rng.permutation(np.arange(n) % classes).astype(np.int64)     # (N,) balanced
    x = np.zeros((n, T, F))                                          # (N, T, F)
    if noise:
        x += rng.normal(0.0, float(noise), size=x.shape)
    step = T - 1 - delay
    x[:, step, :] = 0.0                                              # the symbol's step is clean
    x[np.arange(n), step, y] = 1.0
    return x, y


@register_generator("chars")
def chars(options: dict, input_shape: tuple, rng: np.random.Generator):
    """Next-character prediction on CORPUS: x (N, T, V) one-hot windows, y (N,) next index."""
    opts = _opts("chars", options)
    vocab = vocabulary()
    V = len(vocab)
    if len(tuple(input_shape)) == 1:                     # ids for a first embedding layer
        return _char_ids(opts, int(input_shape[0]), rng)
    T, F = _sequence_shape("chars", input_shape, f"[16, {V}]")
    if F != V:
        raise TuinnError(f"generator 'chars' one-hot encodes {V} distinct characters, but "
                         f"[model] input has {F} features", key="model.input",
                         hint=f"use input = [{T}, {V}], and {V} units in the last layer")
    if T > len(CORPUS) - 1:
        raise TuinnError(f"generator 'chars': windows of {T} steps do not fit the "
                         f"{len(CORPUS)}-character corpus", key="model.input",
                         hint=f"use at most {len(CORPUS) - 1} timesteps")
    n = _int(opts, "samples", 1)
    codes = np.array([vocab.index(ch) for ch in CORPUS], dtype=np.int64)   # (L,)
    starts = rng.integers(0, len(CORPUS) - T, size=n)                      # (N,)
    idx = starts[:, None] + np.arange(T)                                   # (N, T)
    x = np.zeros((n, T, V))                                                # (N, T, V)
    np.put_along_axis(x, codes[idx][:, :, None], 1.0, axis=2)
    y = codes[starts + T]                                                  # (N,)
    return x, y


def _char_ids(opts: dict, T: int, rng: np.random.Generator):
    """Windows of T character ids (N, T) and, at every position, the next id (N, T)."""
    if not 1 <= T <= len(CORPUS) - 1:
        raise TuinnError(f"generator 'chars': windows of {T} steps do not fit the "
                         f"{len(CORPUS)}-character corpus", key="model.input",
                         hint=f"use input = [T] with T in 1..{len(CORPUS) - 1}")
    n = _int(opts, "samples", 1)
    vocab = vocabulary()
    codes = np.array([vocab.index(ch) for ch in CORPUS], dtype=np.int64)   # (L,)
    starts = rng.integers(0, len(CORPUS) - T, size=n)                      # (N,)
    idx = starts[:, None] + np.arange(T)                                   # (N, T)
    return codes[idx].astype(np.float64), codes[idx + 1]                   # (N, T), (N, T)
