"""Provides the Layer base class and the registry of layer types.

A Layer owns its parameters (updated in place by the optimizer), computes a forward
pass over a batch, caches what its backward pass needs, and exposes named arrays for
the views (`cache`). Shapes are per batch: (N, ...) with N first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tuinn.engine.scratch import Scratch
from tuinn.errors import TuinnError

LAYERS: dict[str, type["Layer"]] = {}


def register(cls: type["Layer"]) -> type["Layer"]:
    """Class decorator: make a layer type available under `cls.type`."""
    LAYERS[cls.type] = cls
    return cls


class Layer:
    type: ClassVar[str] = ""
    #: False: a frozen layer (`trainable = false`): its parameters are not trained
    trainable: bool = True
    #: sub-steps of the forward/backward pass (timesteps, windows); 1 for most layers
    def substeps(self) -> int:
        return 1

    def __init__(self, name: str, options: dict[str, Any], in_shape: tuple[int, ...],
                 rng: np.random.Generator, dtype: np.dtype):
        self.name = name
        self.options = dict(options)             # validated, defaults filled by the loader
        self.in_shape = tuple(in_shape)          # per sample, no batch axis
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}  # "W" -> array, updated in place
        self.grads: dict[str, np.ndarray] = {}   # same keys, filled by backward
        self.cache: dict[str, np.ndarray] = {}   # arrays for views and for backward
        self.out_shape = self.build(rng)

    # --- to override -------------------------------------------------------------
    def build(self, rng: np.random.Generator) -> tuple[int, ...]:
        """Create parameters; return the per-sample output shape."""
        return self.in_shape

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Fill self.grads from the upstream gradient dy; return dL/dx."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec, in_shape, rng, dtype) -> "Layer":
        """Build from a LayerSpec (residual overrides this to build its inner layers)."""
        return cls(spec.name, spec.options, in_shape, rng, dtype)

    # --- shared ------------------------------------------------------------------
    def param_count(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def l2_params(self) -> list[str]:
        """The parameters L2 regularises: those whose name starts with W (W, Wx, Wh,
        W_in, ... and their _r twins); never biases, gamma, beta or P."""
        return [k for k in self.params if k.startswith("W")]

    def children(self) -> list["Layer"]:
        """The layers directly inside this one (a residual block's), in order."""
        return []

    def sublayers(self) -> list["Layer"]:
        """Every layer inside this one at any depth, in order of appearance (a nested
        block before its own layers)."""
        out: list[Layer] = []
        for child in self.children():
            out.append(child)
            out.extend(child.sublayers())
        return out

    def buffer(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """A layer-owned scratch array of `shape` (self.dtype), reused while the shape
        holds: outputs returned from forward/backward live in such buffers, so a caller
        that keeps one across calls must copy it."""
        bufs = self.__dict__.get("_buffers")        # kept per shape: a smaller last
        if bufs is None:                            # batch does not reallocate them
            bufs = self.__dict__["_buffers"] = Scratch(zeros=False)
        return bufs.get(key, shape, self.dtype)


def build_layer(spec, in_shape, rng, dtype) -> Layer:
    """Construct the layer a LayerSpec names (its type must be registered)."""
    cls = LAYERS.get(spec.type)
    if cls is None:
        raise TuinnError(f"unknown layer type {spec.type!r}", line=spec.line, key="type")
    try:
        layer = cls.from_spec(spec, in_shape, rng, dtype)
    except TuinnError as err:          # point at the layer's line in the scenario file
        if err.line is None and spec.line:
            err.line = spec.line
        raise
    layer.trainable = bool(getattr(spec, "trainable", True))
    return layer
