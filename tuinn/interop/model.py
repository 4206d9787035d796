"""Provides the imported model (layers with their parameters) and the PyTorch <-> tuinn conversions.

Every importer builds an `Imported`: the per-sample input shape and a list of `Layer`s
(type, options, parameters under the contract's names). The conversions follow the
contract's layer table: PyTorch's Linear.weight is (out, in) and tuinn's dense W is
(in, out); conv2d W is (F, C, K, K) as in PyTorch; LSTM gates i, f, g, o with
Wx = weight_ih_l0^T and b = bias_ih + bias_hh; GRU r, z, n with bx and bh separate;
RNN as the LSTM with one gate. ONNX orders the gates its own way (LSTM i, o, f, c; GRU
z, r, n): `ONNX_ORDER` maps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario import schema as S

#: the gates of tuinn's layout, in ONNX's order: ONNX block j is tuinn block ORDER[j]
ONNX_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclass
class Layer:
    type: str
    options: dict = field(default_factory=dict)          # units, slope, hidden, ...
    params: dict[str, np.ndarray] = field(default_factory=dict)   # "W" -> array
    layers: list["Layer"] = field(default_factory=list)   # residual blocks
    buffers: dict[str, np.ndarray] = field(default_factory=dict)  # "running_mean" -> (C,)
    open_bias: bool = False      # a dense layer from MatMul whose Add may still come


@dataclass
class Imported:
    source: str                  # the file's name
    fmt: str                     # "ONNX" | "PyTorch" | "state dict"
    input: tuple[int, ...]       # one sample's shape
    layers: list[Layer]
    ops: list[str] = field(default_factory=list)   # the operators or modules read
    softmax: bool = False        # the model ended in a Softmax (dropped)
    batch: int | None = None     # the model's own batch size, when it fixes one
    output: tuple[int, ...] = ()  # one sample's output shape
    notes: list[str] = field(default_factory=list)


def need_layer(kind: str, what: str, file: str | None = None) -> None:
    """An error unless this tuinn has the layer type `kind`."""
    if kind not in S.LAYERS:
        raise TuinnError(f"{what} maps to a {kind} layer, which this version of tuinn "
                         "does not have", file=file)


def named(layers: list[Layer], counts: dict | None = None) -> list[tuple[str, Layer]]:
    """(default name, layer) in order, residual blocks' layers included: dense1, relu1."""
    counts = {} if counts is None else counts
    out = []
    for layer in layers:
        counts[layer.type] = counts.get(layer.type, 0) + 1
        out.append((f"{layer.type}{counts[layer.type]}", layer))
        out += named(layer.layers, counts)
    return out


def flat_params(layers: list[Layer]) -> dict[str, np.ndarray]:
    """"dense1.W" -> array, in order, as float64; each layer's buffers after its
    parameters ("batchnorm1.running_mean"), as `[params] file` reads them."""
    return {f"{name}.{k}": np.asarray(v, dtype=np.float64)
            for name, layer in named(layers)
            for k, v in {**layer.params, **layer.buffers}.items()}


def batchnorm_buffers(mean, var, channels: int, where: str, file: str | None = None
                      ) -> dict[str, np.ndarray]:
    """A source's running statistics as batchnorm's buffers: (C,) each, the variance
    >= 0; {} when the source has none (tuinn's then start at 0 and 1)."""
    if mean is None or var is None:
        return {}
    out = {"running_mean": f64(mean).reshape(-1), "running_var": f64(var).reshape(-1)}
    for k, v in out.items():
        if v.shape != (channels,):
            raise TuinnError(f"{where}: its {k} has {v.size} values, not one per channel "
                             f"({channels})", file=file)
        if not np.isfinite(v).all():
            raise TuinnError(f"{where}: its {k} holds NaN or Inf values", file=file)
    if (out["running_var"] < 0).any():
        raise TuinnError(f"{where}: its running_var holds a negative value: a variance "
                         "must be >= 0", file=file)
    return out


# ------------------------------------------------------------------ PyTorch -> tuinn
def f64(a) -> np.ndarray:
    return np.array(a, dtype=np.float64)


def dense(weight, bias=None) -> Layer:
    w = f64(weight)
    b = f64(bias) if bias is not None else np.zeros(w.shape[0])
    return Layer("dense", {"units": int(w.shape[0])}, {"W": w.T.copy(), "b": b})


def conv2d(weight, bias, stride: int, padding: int) -> Layer:
    w = f64(weight)
    b = f64(bias) if bias is not None else np.zeros(w.shape[0])
    return Layer("conv2d", {"filters": int(w.shape[0]), "kernel": int(w.shape[2]),
                            "stride": int(stride), "padding": int(padding)}, {"W": w, "b": b})


def recurrent(kind: str, hidden: int, dirs: list[tuple]) -> Layer:
    """dirs: per direction (weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh),
    PyTorch's gate order; the second direction takes the suffix _r."""
    params = {}
    for j, (w_ih, w_hh, b_ih, b_hh) in enumerate(dirs):
        sfx = "_r" if j else ""
        g = GATES[kind] * hidden
        b_ih = f64(b_ih) if b_ih is not None else np.zeros(g)
        b_hh = f64(b_hh) if b_hh is not None else np.zeros(g)
        params["Wx" + sfx] = f64(w_ih).T.copy()
        params["Wh" + sfx] = f64(w_hh).T.copy()
        if kind == "gru":
            params["bx" + sfx], params["bh" + sfx] = b_ih, b_hh
        else:
            params["b" + sfx] = b_ih + b_hh
    options = {"hidden": int(hidden)}
    if len(dirs) == 2:
        options["bidirectional"] = True
    return Layer(kind, options, params)


def onnx_gates(kind: str, w: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX's gate blocks (axis 0) in PyTorch's order."""
    blocks = [w[j * hidden:(j + 1) * hidden] for j in range(GATES[kind])]
    out = [None] * len(blocks)
    for j, t in enumerate(ONNX_ORDER[kind]):
        out[t] = blocks[j]
    return np.concatenate(out, axis=0)


def to_onnx_gates(kind: str, w: np.ndarray, hidden: int) -> np.ndarray:
    """PyTorch's gate blocks (axis 0) in ONNX's order."""
    return np.concatenate([w[t * hidden:(t + 1) * hidden] for t in ONNX_ORDER[kind]], axis=0)
