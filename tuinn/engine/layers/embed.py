"""Provides the embedding layers: embedding (ids -> vectors), position (learned) and skipgram.

embedding and skipgram take ids: numbers of the network's dtype that must be integers
in [0, vocab) (`check_ids` says which is not, and where). Ids have no gradient: their
backward returns None. position adds a learned (T, D) table to a sequence (N, T, D).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tuinn.engine.init import init_weight
from tuinn.engine.kernels import embed as K
from tuinn.engine.layers.base import Layer, register
from tuinn.engine.layers.elementwise import _as_grad, _as_input
from tuinn.errors import TuinnError


def _size(layer: Layer, key: str) -> int:
    v = layer.options.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise TuinnError(f"{layer.name}: {key} must be a positive integer, got {v!r}", key=key)
    return int(v)


def _vocab(layer: Layer) -> int:
    """The vocab option; in float32 at most 2**24, the last integer it holds exactly."""
    vocab = _size(layer, "vocab")
    if layer.dtype == np.float32 and vocab > 2 ** 24:
        raise TuinnError(f"{layer.name}: vocab = {vocab:,} is too large for float32 ids: "
                         f"float32 holds integers exactly only up to {2 ** 24:,}", key="vocab",
                         hint='use dtype = "float64"')
    return vocab


def _table(layer: Layer, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    opts = {**layer.defaults, **{k: v for k, v in layer.options.items() if v is not None}}
    return init_weight(opts["init"], shape, shape[0], shape[1], rng, layer.dtype,
                       float(opts["init_std"]))


def bad_id(x: np.ndarray, vocab: int) -> tuple[tuple[int, ...], float] | None:
    """The (row, position) index and value of the first entry of x that is not an integer
    id in [0, vocab), or None when every one is."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    ok = np.isfinite(flat) & (flat >= 0) & (flat < vocab)
    ok[ok] = flat[ok] == np.floor(flat[ok])
    if ok.all():
        return None
    i = int(np.argmin(ok))
    return tuple(int(j) for j in np.unravel_index(i, np.shape(x))), float(flat[i])


def check_ids(layer: Layer, x: np.ndarray, what: str = "the input") -> None:
    """Raise a TuinnError naming the first id of x (N, ...) that the layer cannot look up."""
    bad = bad_id(x, layer.vocab)
    if bad is not None:
        where, value = bad
        at = f"row {where[0]}" + (f", position {where[1]}" if len(where) > 1 else "")
        raise TuinnError(f"{layer.name}: {what} has id {value:g} at {at}; ids must be "
                         f"integers in [0, {layer.vocab}) (vocab = {layer.vocab})",
                         key="data.x", hint="raise vocab or fix the data")


class _Ids(Layer):
    """Shared: turn an id batch into int64 indices, refusing a bad id by name."""

    def _index(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(self, x)
        index = self.__dict__.get("_index_buf")
        if index is None or index.shape != x.shape:
            index = self._index_buf = np.empty(x.shape, dtype=np.int64)
        pos = K.ids_to_index(x, self.vocab, index)
        if pos >= 0:                     # never a lookup with a bad index: an error instead
            check_ids(self, x)
            raise TuinnError(f"{self.name}: entry {pos} of the input is not an id in "
                             f"[0, {self.vocab})", key="data.x")
        self.cache["ids"] = index
        return index


@register
class Embedding(_Ids):
    """ids (N, T) -> W[ids] (N, T, dim); param W (vocab, dim). cache: "ids" (int64), "y"."""

    type: ClassVar[str] = "embedding"
    defaults: ClassVar[dict] = {"init": "normal", "init_std": 1.0}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 1:
            raise TuinnError(f"{self.name}: embedding takes ids, [model] input = [T] (the ids "
                             f"of one sample), got {list(self.in_shape)}", key="model.input",
                             hint="for example input = [8]: 8 ids a sample")
        self.vocab, self.dim = _vocab(self), _size(self, "dim")
        self.params["W"] = _table(self, (self.vocab, self.dim), rng)          # (V, D)
        self.grads["W"] = np.zeros_like(self.params["W"])
        return (self.in_shape[0], self.dim)

    def note(self) -> str:
        return f"ids in [0, {self.vocab})"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        index = self._index(x)                                              # (N, T)
        y = self.buffer("y", index.shape + (self.dim,))                      # (N, T, D)
        K.embedding_forward(index.reshape(-1), self.params["W"], y.reshape(-1, self.dim))
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> None:
        index = self.cache["ids"]
        dy = _as_grad(self, dy, index.shape + (self.dim,))
        K.embedding_backward(index.reshape(-1), dy.reshape(-1, self.dim), self.grads["W"])
        return None


@register
class Skipgram(_Ids):
    """(center, word) ids (N, 2) -> (N, 1) = W_in[center] . W_out[word]; params W_in,
    W_out (vocab, dim). cache: "ids" (int64), "y"."""

    type: ClassVar[str] = "skipgram"
    defaults: ClassVar[dict] = {"init": "normal", "init_std": 0.1}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if tuple(self.in_shape) != (2,):
            raise TuinnError(f"{self.name}: skipgram takes (center, word) id pairs, [model] "
                             f"input = [2], got {list(self.in_shape)}", key="model.input",
                             hint="use input = [2]")
        self.vocab, self.dim = _vocab(self), _size(self, "dim")
        self.params["W_in"] = _table(self, (self.vocab, self.dim), rng)       # (V, D)
        self.params["W_out"] = _table(self, (self.vocab, self.dim), rng)      # (V, D)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return (1,)

    def note(self) -> str:
        return f"(center, word) ids in [0, {self.vocab})"

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        index = self._index(x)                                              # (N, 2)
        y = self.buffer("y", (len(index), 1))                               # (N, 1)
        K.skipgram_forward(index, self.params["W_in"], self.params["W_out"], y)
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> None:
        index = self.cache["ids"]
        dy = _as_grad(self, dy, (len(index), 1))
        K.skipgram_backward(index, self.params["W_in"], self.params["W_out"], dy,
                            self.grads["W_in"], self.grads["W_out"])
        return None


@register
class Position(Layer):
    """Learned positions: (N, T, D) -> x + P; param P (T, D). cache: "y"."""

    type: ClassVar[str] = "position"
    defaults: ClassVar[dict] = {"init": "normal", "init_std": 0.02}

    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        if len(self.in_shape) != 2:
            raise TuinnError(f"{self.name}: position needs a sequence [time, features], got "
                             f"{list(self.in_shape)}", key="model.input",
                             hint="put it after an embedding layer")
        self.params["P"] = _table(self, tuple(self.in_shape), rng)            # (T, D)
        self.grads["P"] = np.zeros_like(self.params["P"])
        return self.in_shape

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        x = _as_input(self, x)
        y = self.buffer("y", x.shape)
        K.position_forward(x, self.params["P"], y)
        self.cache["y"] = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = _as_grad(self, dy, self.cache["y"].shape)
        K.position_backward(dy, self.grads["P"])
        return dy


def check_data_ids(spec, x: np.ndarray) -> None:
    """At load time: with a first embedding or skipgram layer, every id of the data's x
    must be an integer in [0, vocab); else a TuinnError naming the sample, the file and
    the key that holds the data."""
    net = spec.network
    first = net.layers[0] if net.layers else None
    if first is None or first.type not in ("embedding", "skipgram"):
        return
    data = net.data
    if data.preprocess:
        raise TuinnError(f"[data] preprocess would change the ids that layer {first.name!r} "
                         "looks up", file=spec.info.path or None,
                         line=spec.lines.get("data.preprocess"), key="data.preprocess",
                         hint="remove preprocess: ids are used as they are")
    vocab = int(first.options.get("vocab"))
    bad = bad_id(x, vocab)
    if bad is None:
        return
    where, value = bad
    key = ("data.x" if data.x is not None else "data.file" if data.file else
           "data.generator")
    at = f"sample {where[0]}" + (f", position {where[1]}" if len(where) > 1 else "")
    shown = f"{value:g}" if np.isfinite(value) else str(value)
    raise TuinnError(f"{shown} at {at} is not an id of layer {first.name!r}: ids must be "
                     f"integers in [0, {vocab}) (vocab = {vocab})",
                     file=spec.info.path or None, line=spec.lines.get(key) or data.line or None,
                     key=key, hint=_vocab_hint(first.name, x))


def _vocab_hint(name: str, x: np.ndarray) -> str:
    """Which vocab would hold every id, when the ids are whole numbers >= 0."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    if flat.size and np.isfinite(flat).all() and (flat >= 0).all() and \
            (flat == np.floor(flat)).all() and flat.max() < 2 ** 53:
        return f"the data's ids go up to {int(flat.max())}: set {name}'s vocab = " \
               f"{int(flat.max()) + 1} or more"
    return f"ids are rows of {name}'s table: fix the data"
