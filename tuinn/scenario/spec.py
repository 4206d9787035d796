"""Provides the typed Spec a scenario file loads into (no UI, no engine).

Everything here is plain data: the loader validates a TOML file into these classes,
and the engine builds Programs from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ScenarioInfo:
    name: str                       # shown in the header
    kind: str                       # "graph" | "network" | "knn"
    description: str = ""           # markdown, shown in the info panel
    seed: int = 0                   # init, data generators, shuffling, dropout
    dtype: str = "float64"          # "float64" | "float32"
    path: str = ""                  # the scenario file, as given


# ---------------------------------------------------------------- kind = "graph"

@dataclass
class GateNode:
    """One gate of a computation graph: `id = op(args..., const)`."""
    id: str                          # unique node id: the assigned name, or e.g. "mul1"
    op: str                          # gate registry name: add, sub, mul, div, neg, addc, ...
    args: tuple[str, ...]            # ids of the input nodes (input names or gate ids)
    const: float | None = None       # folded constant (addc, mulc, powc, maxc, minc)
    line: int = 0                    # line in the scenario file
    assigned: str | None = None      # the name this gate's value was assigned to, if any


@dataclass
class GraphSpec:
    inputs: dict[str, np.ndarray]    # name -> value (0-d for scalars), in file order
    gates: list[GateNode]            # in topological (source) order
    output: str                      # node id of the output
    names: dict[str, str]            # assigned name -> node id holding its value


# -------------------------------------------------------------- kind = "network"

@dataclass
class LayerSpec:
    type: str                        # dense, relu, leaky_relu, ..., residual
    name: str                        # dense1, relu1, ... or the user's name
    options: dict[str, Any] = field(default_factory=dict)   # units, init, p, hidden, ...
    layers: list["LayerSpec"] = field(default_factory=list)  # residual only
    line: int = 0
    trainable: bool = True           # false: its parameters (a block's: all inside) frozen


@dataclass
class DataSpec:
    generator: str | None = None     # xor | spiral | moons | circles | blobs | sine | copy | ...
    options: dict[str, Any] = field(default_factory=dict)   # samples, classes, noise, ...
    x: np.ndarray | None = None      # inline arrays
    y: np.ndarray | None = None
    file: str | None = None          # resolved path of an .npz / .csv file
    validation: float = 0.0
    line: int = 0
    path: str = ""                   # the scenario file, for errors
    preprocess: list[str] = field(default_factory=list)   # center | standardize | pca | whiten


@dataclass
class LossSpec:
    type: str = "softmax_ce"         # softmax_ce | hinge | mse | bce
    margin: float = 1.0              # hinge only
    l2: float = 0.0                  # lambda * sum(W**2) over weight matrices


@dataclass
class OptimizerSpec:
    type: str = "sgd"                # sgd | momentum | rmsprop | adam
    lr: float = 0.1
    momentum: float = 0.9
    alpha: float = 0.99
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass
class TrainSpec:
    epochs: int = 100
    batch_size: int = 0              # 0: full batch
    shuffle: bool = True


@dataclass
class DebugSpec:
    breakpoints: list[str] = field(default_factory=list)
    watch: list[str] = field(default_factory=list)
    history: int = 200
    speed: int = 0                   # run mode's starting iterations a second; 0: full speed


@dataclass
class NetworkSpec:
    input: tuple[int, ...]
    layers: list[LayerSpec]
    data: DataSpec
    loss: LossSpec
    optimizer: OptimizerSpec
    train: TrainSpec
    params: dict[str, np.ndarray] = field(default_factory=dict)  # exact initial values
    params_file: str | None = None   # resolved path of a weights .npz or .safetensors


@dataclass
class KnnSpec:
    """kind = "knn": the data ([data], as for networks) and how neighbours vote."""
    data: DataSpec
    k: int = 5
    metric: str = "l2"               # l2 | l1 | cosine
    weights: str = "uniform"         # uniform | distance
    queries: np.ndarray | None = None   # (Q, D) points to classify; None: the validation split
    features: int = 2                # dimensions of generated points
    input: tuple[int, ...] | None = None   # one point's shape when the loader knows it


@dataclass
class GanNetSpec:
    """kind = "gan": [generator] or [discriminator]: input, layers, own optimizer if any."""
    input: tuple[int, ...]
    layers: list[LayerSpec]
    optimizer: OptimizerSpec | None = None     # None: the shared [optimizer]


@dataclass
class GanSpec:
    """kind = "gan": real samples from [data], a generator against a discriminator."""
    data: DataSpec
    generator: GanNetSpec
    discriminator: GanNetSpec
    optimizer: OptimizerSpec
    train: TrainSpec
    latent: int = 2                  # z ~ N(0, 1) of this size
    d_steps: int = 1                 # discriminator updates per generator update


@dataclass
class Spec:
    info: ScenarioInfo
    graph: GraphSpec | None = None
    network: NetworkSpec | None = None
    knn: KnnSpec | None = None
    gan: GanSpec | None = None
    debug: DebugSpec = field(default_factory=DebugSpec)
    lines: dict[str, int] = field(default_factory=dict)   # dotted key -> line, for errors
