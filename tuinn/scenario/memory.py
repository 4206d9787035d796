"""Provides the memory estimate of a scenario, checked before anything is allocated.

The estimate follows the shapes from the sizes written in the file (a product of them,
never each size alone: `input = [100000]` then `units = 100000` is 10^10 weights):
parameters with their gradients, optimizer state and [debug] history snapshots; each
layer's activations and caches for a training batch and for evaluation over the data;
the data itself. It errs on the generous side; its purpose is to refuse, with the
figure and the limit, what could never fit, not to account for every byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuinn.errors import TuinnError
from tuinn.scenario import limits as L
from tuinn.scenario.locate import Where

#: optimizer state arrays per parameter
STATE = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}
#: gates of the recurrent cells
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
#: the option that sizes a layer, named in the error
WIDTH = {"dense": "units", "conv2d": "filters", "rnn": "hidden", "lstm": "hidden",
         "gru": "hidden", "embedding": "vocab", "skipgram": "vocab"}
_CAP = 10 ** 30                       # beyond any machine; keeps the figures printable


@dataclass
class Part:
    key: str                          # the dotted key to blame
    label: str                        # "layer dense1", "the data"
    params: int = 0                   # parameters it owns
    values: int = 0                   # activation values per sample
    bytes: int = 0                    # filled by the estimate


def layer_parts(layers, shape: tuple[int, ...], prefix: str = "model.layers",
                out: list[Part] | None = None) -> list[Part]:
    """One Part per layer (residual blocks' inner layers too), walking the shapes; stops
    where the shapes do not fit (the engine then reports that error itself)."""
    out = [] if out is None else out
    _walk(layers, tuple(shape), prefix, out)
    return out


def _walk(layers, shape, prefix, out) -> tuple[int, ...] | None:
    for i, ls in enumerate(layers):
        key = f"{prefix}.{i}"
        o, t = ls.options, ls.type
        part = Part(f"{key}.{WIDTH[t]}" if t in WIDTH else key, f"layer {ls.name}")
        if t == "dense":
            units = int(o["units"])
            fan_in = shape[-1] if shape else 1
            part.params = fan_in * units + units
            shape = shape[:-1] + (units,)
            part.values = 3 * math.prod(shape)
        elif t in ("conv2d", "maxpool", "avgpool"):
            if len(shape) != 3:
                return None
            C, H, W = shape
            k = int(o["kernel"] if t == "conv2d" else o["size"])
            s = int(o.get("stride") or k)
            p = int(o.get("padding", 0)) if t == "conv2d" else 0
            oh, ow = (H - k + 2 * p) // s + 1, (W - k + 2 * p) // s + 1
            if oh < 1 or ow < 1:
                return None
            if t == "conv2d":
                f = int(o["filters"])
                part.params = f * C * k * k + f
                shape = (f, oh, ow)
                part.values = 3 * math.prod(shape) + 2 * oh * ow * C * k * k  # + columns
            else:
                shape = (C, oh, ow)
                part.values = 3 * math.prod(shape) + 2 * C * H * W
        elif t == "flatten":
            shape = (math.prod(shape),)
        elif t in GATES:
            if len(shape) != 2:
                return None
            T, I = shape
            H, G = int(o["hidden"]), GATES[t] * int(o["hidden"])
            k = 2 if o.get("bidirectional") else 1           # a second set, run backwards
            part.params = k * (I * G + H * G + G * (2 if t == "gru" else 1))
            part.values = k * (2 * T * (G + 2 * H) + T * I)  # gates, states and their grads
            shape = (T, k * H) if o.get("return_sequences") else (k * H,)
        elif t == "residual":
            out.append(part)
            if _walk(ls.layers, shape, f"{key}.layers", out) is None:
                return None
            part.values = 3 * math.prod(shape)
            continue
        elif t in _SEQUENCE:
            part.params, part.values, shape = _SEQUENCE[t](o, shape)
        else:                                              # elementwise: y, a mask
            part.values = 2 * math.prod(shape)
        out.append(part)
    return shape


def _int(o: dict, key: str, default: int = 1) -> int:
    value = o.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _embedding(o, shape):                  # ids (T,) -> (T, dim); W (vocab, dim)
    vocab, dim = _int(o, "vocab"), _int(o, "dim")
    out = tuple(shape) + (dim,)
    return vocab * dim, 3 * math.prod(out), out


def _skipgram(o, shape):                   # ids (2,) -> (1,); W_in, W_out (vocab, dim)
    vocab, dim = _int(o, "vocab"), _int(o, "dim")
    return 2 * vocab * dim, 6 * dim, (1,)


def _attention(o, shape):                  # (T, D) -> (T, D); weights (heads, T, T)
    T, D = shape[-2:] if len(shape) >= 2 else (1, shape[-1] if shape else 1)
    # x Q K V C y and their six gradients (T, D); scores, A, dA, dscores (heads, T, T)
    return 4 * D * D + 4 * D, 12 * T * D + 4 * _int(o, "heads") * T * T, tuple(shape)


def _norm(o, shape):                       # gamma, beta over the last (or channel) axis
    axis = shape[0] if len(shape) == 3 else shape[-1] if shape else 1
    return 2 * axis, 3 * math.prod(shape), tuple(shape)


#: the estimate of the sequence and normalisation layers: (params, values, out shape)
_SEQUENCE = {
    "embedding": _embedding, "skipgram": _skipgram, "attention": _attention,
    "layernorm": _norm, "batchnorm": _norm,
    "position": lambda o, shape: (math.prod(shape), 2 * math.prod(shape), tuple(shape)),
    "seq_pool": lambda o, shape: (0, 2 * math.prod(shape), tuple(shape[1:]) or (1,)),
}


def samples_of(data, default: int) -> int:
    """The number of samples the data will have (inline: rows; generator: its option)."""
    if data.x is not None:
        return int(data.x.shape[0])
    return int(data.options.get("samples") or default)


def check_network(spec, net, where: Where, samples: int, data_key: str,
                  prefix: str = "model.layers") -> None:
    """Refuse a network whose estimate is over the limit: the biggest part is named."""
    limit = L.memory_limit()
    b = 4 if spec.info.dtype == "float32" else 8
    sample = math.prod(net.input)
    if limit is not None and sample * b > limit:
        raise where.error(f"one sample of shape {list(net.input)} holds {sample:,} numbers, "
                          f"too many for memory ({L.fmt_bytes(min(sample * b, _CAP))}, the "
                          f"limit is {L.fmt_bytes(limit)})", "model.input", _hint())
    n = max(1, samples)
    batch = min(net.train.batch_size or n, n)
    state = STATE.get(net.optimizer.type, 2)
    copies = 3 + state + (spec.debug.history + 2) * (1 + state)
    parts = layer_parts(net.layers, net.input, prefix)
    for part in parts:      # its parameters' copies, its activations for a training batch
        part.bytes = b * (part.params * copies + part.values * 2 * batch)
    data = Part(data_key, "the data", values=sample)   # the data, and evaluation over it
    data.bytes = n * (sample + 1) * (8 + 2 * b) + n * b * sum(p.values for p in parts)
    total = data.bytes + sum(p.bytes for p in parts)
    if limit is None or total <= limit:
        return
    worst = max(parts + [data], key=lambda p: p.bytes)
    need = f"about {L.fmt_bytes(min(total, _CAP))}, the limit is {L.fmt_bytes(limit)}"
    if worst is data:
        raise where.error(f"{n:,} samples of shape {list(net.input)} are too many for "
                          f"memory: the scenario needs {need}", data_key, _hint())
    if worst.params * copies >= worst.values * 2 * batch:
        params = sum(p.params for p in parts)
        why = (f"{params:,} parameters, kept {copies:,} times with [debug] history = "
               f"{spec.debug.history:,}")
    else:
        why = f"{worst.values:,} activation values per sample, {batch:,} samples a batch"
    raise where.error(f"{worst.label} is too large: the scenario needs {need} ({why})",
                      worst.key, _hint("make it smaller or lower [debug] history"))


def check_graph(graph, shapes: dict[str, tuple[int, ...]], dtype: str, file: str | None) -> None:
    """Refuse a graph whose tensors (value, gradient, local gradients) exceed the limit."""
    limit = L.memory_limit()
    if limit is None:
        return
    b = 4 if dtype == "float32" else 8
    sizes = {name: math.prod(shape) for name, shape in shapes.items()}
    total = 4 * b * sum(sizes.values())
    if total <= limit:
        return
    gate = max(graph.gates, key=lambda g: sizes.get(g.id, 0))
    how = ", from broadcasting" if sizes[gate.id] > max(
        (sizes[a] for a in graph.inputs), default=0) else ""
    raise TuinnError(f"the graph's tensors need about {L.fmt_bytes(min(total, _CAP))}, the "
                     f"limit is {L.fmt_bytes(limit)} (the largest: {gate.id} of shape "
                     f"{shapes[gate.id]}{how})", file=file, line=gate.line,
                     key="graph.expr", hint=_hint())


def _hint(first: str = "") -> str:
    allow = f"set {L.MEMORY_VARIABLE} (e.g. 8GB) to allow more"
    return f"{first}, or {allow}" if first else allow
