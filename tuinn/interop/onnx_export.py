"""Provides `export_onnx`: a network scenario's layers and current parameters written as an ONNX model.

Built with onnx.helper (opset 20), in the scenario's dtype (float64: DOUBLE tensors), in
the forms `tuinn import` reads back to the same layers and exactly the same parameters:
dense as Gemm (MatMul + Add on sequences) with W stored as (in, out); recurrent layers
as ONNX's LSTM/GRU/RNN (gates reordered, a batch-first Transpose before, and after it
the sequence or the final state reshaped to tuinn's layout); batchnorm in inference form
with the layer's running statistics; a residual block as its layers and an Add of its
input. Layers with no ONNX form (embedding, attention, ...) are an error naming them.
"""

from __future__ import annotations

import numpy as np

from tuinn.errors import TuinnError
from tuinn.interop import model as M
from tuinn.interop.extras import need

OPSET = 20
SIMPLE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "Gelu"}


class Graph:
    def __init__(self, onnx, dtype: np.dtype):
        self.onnx, self.dtype = onnx, dtype
        self.nodes, self.inits = [], []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, name: str, value, dtype=None) -> str:
        arr = np.asarray(value, dtype=dtype or self.dtype)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, outputs: int = 1, **attrs) -> list[str]:
        outs = [self.name(f"{name}_out") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, name=self.name(name),
                                                     **attrs))
        return outs


def export_onnx(spec, program, path: str) -> str:
    onnx = need("onnx", "`tuinn export --onnx`", path)
    g = Graph(onnx, program.dtype)
    x = "x"
    for layer in program.layers:
        x = _layer(g, layer, x, program)
    elem = onnx.helper.np_dtype_to_tensor_dtype(program.dtype)
    inp = onnx.helper.make_tensor_value_info("x", elem, ["N", *program.input_shape])
    out = onnx.helper.make_tensor_value_info(x, elem, ["N", *program.out_shape])
    graph = onnx.helper.make_graph(g.nodes, "tuinn", [inp], [out], initializer=g.inits)
    model = onnx.helper.make_model(graph, producer_name="tuinn",
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.doc_string = f"Exported by tuinn from {spec.info.name}"
    try:
        onnx.checker.check_model(model)
        onnx.save_model(model, path)
    except OSError as exc:
        raise TuinnError(f"cannot write the file: {exc.strerror}", file=path, key="--onnx") from None
    return path


def _layer(g: Graph, layer, x: str, program) -> str:
    t, o, p, n = layer.type, layer.options, layer.params, layer.name
    if t in SIMPLE:
        return g.node(SIMPLE[t], [x], n)[0]
    if t == "leaky_relu":
        return g.node("LeakyRelu", [x], n, alpha=float(o["slope"]))[0]
    if t == "dropout":
        return g.node("Dropout", [x, g.const(f"{n}.p", o["p"])], n)[0]
    if t == "flatten":
        return g.node("Flatten", [x], n, axis=1)[0]
    if t == "dense":
        w, b = g.const(f"{n}.W", p["W"]), g.const(f"{n}.b", p["b"])
        if len(layer.in_shape) == 1:
            return g.node("Gemm", [x, w, b], n)[0]
        return g.node("Add", [g.node("MatMul", [x, w], n)[0], b], n)[0]
    if t == "conv2d":
        pad = int(o["padding"])
        return g.node("Conv", [x, g.const(f"{n}.W", p["W"]), g.const(f"{n}.b", p["b"])], n,
                      kernel_shape=[o["kernel"]] * 2, strides=[o["stride"]] * 2,
                      pads=[pad] * 4)[0]
    if t in ("maxpool", "avgpool"):
        stride = o.get("stride") or o["size"]
        return g.node("MaxPool" if t == "maxpool" else "AveragePool", [x], n,
                      kernel_shape=[o["size"]] * 2, strides=[stride] * 2)[0]
    if t == "layernorm":
        return g.node("LayerNormalization", [x, g.const(f"{n}.gamma", p["gamma"]),
                                             g.const(f"{n}.beta", p["beta"])], n,
                      axis=-1, epsilon=float(o["eps"]))[0]
    if t == "batchnorm" and len(layer.in_shape) in (1, 3):
        c = layer.in_shape[0]
        mean, var = _buffer(layer, "running_mean"), _buffer(layer, "running_var")
        ins = [x, g.const(f"{n}.gamma", p["gamma"]), g.const(f"{n}.beta", p["beta"]),
               g.const(f"{n}.running_mean", np.zeros(c) if mean is None else mean),
               g.const(f"{n}.running_var", np.ones(c) if var is None else var)]
        return g.node("BatchNormalization", ins, n, epsilon=float(o["eps"]),
                      momentum=1.0 - float(o["momentum"]))[0]
    if t in ("lstm", "gru", "rnn"):
        return _recurrent(g, layer, x)
    if t == "residual":
        y = x
        for inner in layer.layers:
            y = _layer(g, inner, y, program)
        return g.node("Add", [x, y], n)[0]
    raise TuinnError(f"layer {n} ({t}) has no ONNX form tuinn writes",
                     file=program.file, hint="export networks of dense, conv2d, pooling, "
                     "flatten, recurrent, normalisation and elementwise layers")


def _buffer(layer, key: str):
    """A layer's running statistic, wherever the layer keeps it (None: not yet)."""
    for attr in ("running", "buffers"):
        found = getattr(layer, attr, None)
        if isinstance(found, dict) and key in found:
            return found[key]
    return getattr(layer, key, None)


def _recurrent(g: Graph, layer, x: str) -> str:
    t, o, p, n = layer.type, layer.options, layer.params, layer.name
    hidden = int(o["hidden"])
    dirs = ["", "_r"] if o.get("bidirectional") else [""]
    ws, rs, bs = [], [], []
    for s in dirs:
        ws.append(M.to_onnx_gates(t, p["Wx" + s].T, hidden))
        rs.append(M.to_onnx_gates(t, p["Wh" + s].T, hidden))
        if t == "gru":
            bx, bh = p["bx" + s], p["bh" + s]
        else:
            bx, bh = p["b" + s], np.zeros_like(p["b" + s])
        bs.append(np.concatenate([M.to_onnx_gates(t, bx, hidden),
                                  M.to_onnx_gates(t, bh, hidden)]))
    seq = g.node("Transpose", [x], f"{n}_time_major", perm=[1, 0, 2])[0]
    attrs = {"hidden_size": hidden,
             "direction": "bidirectional" if len(dirs) == 2 else "forward"}
    if t == "gru":
        attrs["linear_before_reset"] = 1
    y, y_h = g.node(t.upper(), [seq, g.const(f"{n}.W", ws), g.const(f"{n}.R", rs),
                                g.const(f"{n}.B", bs)], n, outputs=2, **attrs)
    if o.get("return_sequences"):
        ntdh = g.node("Transpose", [y], f"{n}_batch_first", perm=[2, 0, 1, 3])[0]
        shape = g.const(g.name(f"{n}_shape"), [0, 0, -1], np.int64)
        return g.node("Reshape", [ntdh, shape], f"{n}_sequence")[0]
    ndh = g.node("Transpose", [y_h], f"{n}_batch_first", perm=[1, 0, 2])[0]
    shape = g.const(g.name(f"{n}_shape"), [0, -1], np.int64)
    return g.node("Reshape", [ndh, shape], f"{n}_last")[0]
