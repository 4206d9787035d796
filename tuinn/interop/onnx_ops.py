"""Provides the ONNX operators that become tuinn layers, each checked against what the layer computes.

A handler takes the Walker (values, chain, errors naming the node), the node, its
inputs (arrays for constants, Vals for tensors from the input) and its attributes, and
returns its outputs. What a tuinn layer cannot compute exactly is refused by name:
dilations, groups, uneven padding, ceil_mode, reverse-only recurrent layers, peepholes,
other activations, non-zero initial states, GRU without linear_before_reset.
"""

from __future__ import annotations

import numpy as np

from tuinn.interop import layout as Y
from tuinn.interop import model as M
from tuinn.interop.layout import Val
from tuinn.interop.model import Layer
from tuinn.scenario import schema as S


def f32(v) -> float:
    """An ONNX float attribute as the number it was written as: 0.2, not 0.20000000298."""
    return float(str(np.float32(v)))


def _need(w, kind: str) -> None:
    if kind not in S.LAYERS:
        raise w.error(f"maps to a {kind} layer, which this version of tuinn does not have")


def _input(w, ins: list, rank: int | None = None) -> tuple[int, ...]:
    w.use(ins[0])
    shape = w.chain.shape()
    if rank is not None and len(shape) != rank:
        raise w.error(f"expects one sample of {rank} axes, got shape {shape}")
    return shape


def _weight(w, node, j: int, what: str, optional: bool = False):
    name = node.input[j] if j < len(node.input) else ""
    v = w.const(name, what, optional=optional)
    return None if v is None else np.asarray(v, dtype=np.float64)


def elementwise(kind: str, options=lambda a: {}):
    def handler(w, node, ins, a):
        _need(w, kind)
        shape = _input(w, ins)
        return [w.chain.push(Layer(kind, options(a)), shape)]
    return handler


def gelu(w, node, ins, a):
    if a.get("approximate", "none") != "none":
        raise w.error("Gelu with approximate='tanh': tuinn's gelu is the exact erf form")
    return elementwise("gelu")(w, node, ins, a)


def dropout(w, node, ins, a):
    ratio = _weight(w, node, 1, "ratio", optional=True)
    p = float(ratio.reshape(-1)[0]) if ratio is not None else f32(a.get("ratio", 0.5))
    return elementwise("dropout", lambda _: {"p": p})(w, node, ins, a)


def gemm(w, node, ins, a):
    shape = _input(w, ins, 1)
    if a.get("transA", 0):
        raise w.error("Gemm with transA = 1 maps to no layer")
    b_in = _weight(w, node, 1, "weight")
    weight = float(a.get("alpha", 1.0)) * (b_in.T if a.get("transB", 0) else b_in)
    if weight.ndim != 2 or weight.shape[0] != shape[0]:
        raise w.error(f"its weight of shape {b_in.shape} does not fit {shape[0]} inputs")
    c = _weight(w, node, 2, "bias", optional=True)
    units = weight.shape[1]
    bias = np.zeros(units) if c is None else _bias(w, float(a.get("beta", 1.0)) * c, units)
    return [w.chain.push(Layer("dense", {"units": int(units)}, {"W": weight, "b": bias}),
                         (int(units),))]


def _bias(w, c: np.ndarray, units: int) -> np.ndarray:
    if c.size == 1:
        return np.full(units, float(c.reshape(-1)[0]))
    if c.size != units or max(c.shape) != units:
        raise w.error(f"its bias of shape {c.shape} is not one number per unit ({units})")
    return c.reshape(units).copy()


def matmul(w, node, ins, a):
    shape = _input(w, ins)
    weight = _weight(w, node, 1, "weight")
    if weight.ndim != 2 or weight.shape[0] != shape[-1]:
        raise w.error(f"its weight of shape {weight.shape} does not fit the input's last "
                      f"axis ({shape[-1]})")
    units = int(weight.shape[1])
    layer = Layer("dense", {"units": units}, {"W": weight, "b": np.zeros(units)})
    out = w.chain.push(layer, shape[:-1] + (units,))
    layer.open_bias = True
    return [out]


def add(w, node, ins, a):
    vals = [v for v in ins if isinstance(v, Val)]
    if len(vals) == 2:                       # y = x + f(x): a residual block
        _need(w, "residual")
        try:
            return [w.chain.residual(*vals)]
        except Y.LayoutError as err:
            raise w.error(f"{err} (a residual block adds its input to its output)") from None
    consts = [v for v in ins if isinstance(v, np.ndarray)]
    if not vals or not consts:
        raise w.error("adds nothing computed from the input to a constant: maps to no layer")
    last = w.chain.layers[-1] if w.chain.layers else None
    w.use(vals[0])
    if last is None or not last.open_bias or w.chain.layers[-1] is not last:
        raise w.error("adds a constant that is not a MatMul's bias: maps to no layer")
    last.params["b"] = last.params["b"] + _bias(w, np.asarray(consts[0], float),
                                                 last.options["units"])
    last.open_bias = False
    return [w.chain.head]


def conv(w, node, ins, a):
    c, h, wd = _input(w, ins, 3)
    weight = _weight(w, node, 1, "weight")
    bias = _weight(w, node, 2, "bias", optional=True)
    if weight.ndim != 4 or weight.shape[1] != c or weight.shape[2] != weight.shape[3]:
        raise w.error(f"its weight of shape {weight.shape} is not (filters, {c}, K, K)")
    k = weight.shape[2]
    stride, pad = _window(w, a, k, allow_pad=True)
    if int(a.get("group", 1)) != 1:
        raise w.error("grouped convolution (group > 1) maps to no layer")
    ho, wo = (h - k + 2 * pad) // stride + 1, (wd - k + 2 * pad) // stride + 1
    if ho < 1 or wo < 1:
        raise w.error("the kernel does not fit the input")
    layer = M.conv2d(weight, bias, stride, pad)
    return [w.chain.push(layer, (int(weight.shape[0]), ho, wo))]


def _window(w, a: dict, k: int, allow_pad: bool) -> tuple[int, int]:
    """(stride, padding) of a square window, refusing what tuinn does not compute."""
    ks = a.get("kernel_shape", [k, k])
    if list(ks) != [k, k]:
        raise w.error(f"kernel {list(ks)}: tuinn's windows are square")
    strides = list(a.get("strides", [1, 1]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if len(set(strides)) != 1:
        raise w.error(f"strides {strides}: tuinn's strides are the same on both axes")
    if len(set(pads)) != 1 or (pads[0] and not allow_pad):
        raise w.error(f"pads {pads}: " + ("tuinn pads every side alike" if allow_pad else
                                          "tuinn's pooling has no padding"))
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise w.error("dilated windows map to no layer")
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or a.get("ceil_mode", 0):
        raise w.error("auto_pad SAME or ceil_mode: tuinn computes floor((H - K + 2P) / S) + 1")
    return int(strides[0]), int(pads[0])


def pool(kind: str):
    def handler(w, node, ins, a):
        c, h, wd = _input(w, ins, 3)
        ks = a.get("kernel_shape")
        if not ks:
            raise w.error("no kernel_shape")
        k = int(ks[0])
        stride, _ = _window(w, a, k, allow_pad=False)
        if (h - k) // stride + 1 < 1:
            raise w.error("the window does not fit the input")
        shape = (c, (h - k) // stride + 1, (wd - k) // stride + 1)
        return [w.chain.push(Layer(kind, {"size": k, "stride": stride}), shape)]
    return handler


def softmax(w, node, ins, a):
    shape = _input(w, ins)
    axis = int(a.get("axis", -1))
    if axis not in (-1, len(shape)):
        raise w.error(f"Softmax over axis {axis}: tuinn's softmax_ce is over the last axis")
    return [Val(w.chain.head.dims, w.chain.head.token, "softmax")]


def layernorm(w, node, ins, a):
    _need(w, "layernorm")
    shape = _input(w, ins)
    if int(a.get("axis", -1)) not in (-1, len(shape)):
        raise w.error("LayerNormalization over more than the last axis maps to no layer")
    gamma = _weight(w, node, 1, "scale")
    beta = _weight(w, node, 2, "bias", optional=True)
    d = shape[-1]
    params = {"gamma": _bias(w, gamma, d),
              "beta": np.zeros(d) if beta is None else _bias(w, beta, d)}
    layer = Layer("layernorm", {"eps": f32(a.get("epsilon", 1e-5))}, params)
    return [w.chain.push(layer, shape)]


def batchnorm(w, node, ins, a):
    _need(w, "batchnorm")
    shape = _input(w, ins)
    if len(shape) not in (1, 3):
        raise w.error(f"BatchNormalization of samples of shape {shape}: tuinn's batchnorm "
                      "takes (C) or (C, H, W) here")
    c = shape[0]
    params = {"gamma": _bias(w, _weight(w, node, 1, "scale"), c),
              "beta": _bias(w, _weight(w, node, 2, "bias"), c)}
    stats = {}                             # input_mean, input_var: the running statistics
    for j, k in ((3, "running_mean"), (4, "running_var")):
        v = _weight(w, node, j, k)
        if v.size != c:
            raise w.error(f"its {k} has {v.size} values, not one per channel ({c})")
        stats[k] = v.reshape(c).copy()                                # (C,)
    if (stats["running_var"] < 0).any():
        raise w.error("its input_var holds a negative value: a variance must be >= 0")
    layer = Layer("batchnorm", {"eps": f32(a.get("epsilon", 1e-5)),
                                "momentum": round(1.0 - f32(a.get("momentum", 0.9)), 12)},
                  params, buffers=stats)
    return [w.chain.push(layer, shape)]


DEFAULT_ACTS = {"lstm": ["sigmoid", "tanh", "tanh"], "gru": ["sigmoid", "tanh"],
                "rnn": ["tanh"]}


def recurrent(kind: str):
    def handler(w, node, ins, a):
        _need(w, kind)
        batch_first = int(a.get("layout", 0)) == 1
        w.use(ins[0], time_major=not batch_first)
        shape = w.chain.shape()
        if len(shape) != 2:
            raise w.error(f"expects sequences (time, features), got samples of shape {shape}")
        time, feats = shape
        hidden = int(a.get("hidden_size", 0))
        direction = a.get("direction", "forward")
        if direction not in ("forward", "bidirectional"):
            raise w.error(f"direction {direction!r}: tuinn runs forward, or both ways")
        dirs = 2 if direction == "bidirectional" else 1
        if dirs == 2 and "bidirectional" not in S.LAYERS[kind]:
            raise w.error("a bidirectional layer, which this version of tuinn does not have")
        _check_recurrent(w, node, kind, a, time, dirs)
        g = M.GATES[kind] * hidden
        wx, wh = _weight(w, node, 1, "W"), _weight(w, node, 2, "R")
        b = _weight(w, node, 3, "B", optional=True)
        if hidden < 1 or wx.shape != (dirs, g, feats) or wh.shape != (dirs, g, hidden) \
                or (b is not None and b.shape != (dirs, 2 * g)):
            raise w.error(f"weights of shapes {wx.shape}, {wh.shape} do not fit hidden_size "
                          f"{hidden} and {feats} inputs")
        b = np.zeros((dirs, 2 * g)) if b is None else b
        per_dir = [tuple(M.onnx_gates(kind, m, hidden) for m in (wx[d], wh[d], b[d, :g], b[d, g:]))
                   for d in range(dirs)]
        layer = M.recurrent(kind, hidden, per_dir)
        y, y_h = w.chain.push_recurrent(layer, time, hidden, dirs, batch_first)
        return [y, y_h, Val(y_h.dims, y_h.token, "cell")]
    return handler


def _check_recurrent(w, node, kind: str, a: dict, time: int, dirs: int) -> None:
    acts = [s.lower() for s in a.get("activations", [])]
    if acts and acts != DEFAULT_ACTS[kind] * (len(acts) // len(DEFAULT_ACTS[kind])):
        raise w.error(f"activations {acts}: tuinn's {kind} uses {DEFAULT_ACTS[kind]}")
    if "clip" in a or int(a.get("input_forget", 0)):
        raise w.error("clip or input_forget: tuinn's cell has neither")
    if kind == "gru" and int(a.get("linear_before_reset", 0)) != 1:
        raise w.error("GRU with linear_before_reset = 0: tuinn's GRU is PyTorch's "
                      "(linear_before_reset = 1)")
    lens = _weight(w, node, 4, "sequence_lens", optional=True)
    if lens is not None and not (lens == time).all():
        raise w.error("sequence_lens shorter than the sequence: tuinn runs every step")
    for j, what in ((5, "initial_h"), (6, "initial_c"), (7, "P (peepholes)")):
        if kind != "lstm" and j > 5:
            break
        v = _weight(w, node, j, what, optional=True)
        if v is not None and np.any(v != 0):
            raise w.error(f"a non-zero {what}: tuinn's states start at 0 and it has no "
                          "peepholes")


def concat(w, node, ins, a):
    """Only torch.cat((h_n[-2], h_n[-1]), dim=1): a bidirectional layer's final states."""
    if len(ins) != 2 or not all(isinstance(v, Val) for v in ins):
        raise w.error("a Concat of tensors computed from the input maps to no layer, but "
                      "for a bidirectional layer's two final states")
    try:
        return [Y.concat_directions(ins[0], ins[1], int(a.get("axis", -1)), w.chain.pending)]
    except Y.LayoutError as err:
        raise w.error(str(err)) from None


HANDLERS = {
    "Relu": elementwise("relu"),
    "LeakyRelu": elementwise("leaky_relu", lambda a: {"slope": f32(a.get("alpha", 0.01))}),
    "Sigmoid": elementwise("sigmoid"),
    "Tanh": elementwise("tanh"),
    "Gelu": gelu,
    "Dropout": dropout,
    "Gemm": gemm,
    "MatMul": matmul,
    "Add": add,
    "Conv": conv,
    "MaxPool": pool("maxpool"),
    "AveragePool": pool("avgpool"),
    "Softmax": softmax,
    "LayerNormalization": layernorm,
    "BatchNormalization": batchnorm,
    "LSTM": recurrent("lstm"),
    "GRU": recurrent("gru"),
    "RNN": recurrent("rnn"),
    "Concat": concat,
}
