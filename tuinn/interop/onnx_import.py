"""Provides `import_onnx`: an ONNX graph read node by node into tuinn layers.

tuinn runs the graph itself (no onnxruntime): each node either maps to a layer (Gemm,
MatMul + Add, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, Conv, MaxPool, AveragePool,
Flatten, LSTM, GRU, RNN, LayerNormalization, BatchNormalization, Dropout, a Softmax at
the end), moves data around one (layout.py), or computes a constant (shapes, weights
transposed by the exporter). Any other node is an error naming its operator, its name
and its index in the graph.
"""

from __future__ import annotations

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.interop import layout as Y
from tuinn.interop import onnx_layers as OL
from tuinn.interop import onnx_ops as OP
from tuinn.interop.model import Imported
from tuinn.interop.onnx_read import attributes, input_shape, load_model, tensor_array

#: operators that only move data: handled on views (and on constants)
MOVES = {"Identity", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gather"}
#: operators evaluated when every input is a constant
#: what a node with attributes or inputs of the wrong kind raises in a handler
MALFORMED = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError,
             ZeroDivisionError, np.linalg.LinAlgError)
CONST_OPS = MOVES | {"Cast", "Concat", "Slice", "Add", "Sub", "Mul", "Div", "Neg", "Expand",
                     "Constant", "Shape", "ConstantOfShape", "Range"}


class Walker:
    """The values of the graph (constants as arrays, tensors from the input as Vals)."""

    def __init__(self, path: str, chain: Y.Chain):
        self.path, self.chain = path, chain
        self.values: dict[str, object] = {}
        self.where = ""

    def error(self, message: str, hint: str | None = None) -> TuinnError:
        return TuinnError(f"{self.where}: {message}", file=self.path, hint=hint)

    def get(self, name: str, optional: bool = False):
        if not name:
            if optional:
                return None
            raise self.error("an input is missing")
        if name not in self.values:
            raise self.error(f"uses '{safe(name, limit=40)}', which no earlier node computes")
        return self.values[name]

    def const(self, name: str, what: str, optional: bool = False):
        v = self.get(name, optional)
        if v is None or isinstance(v, np.ndarray):
            return v
        raise self.error(f"its {what} must be a constant (an initializer), not computed "
                         "from the input")

    def use(self, v, time_major: bool = False) -> None:
        try:
            self.chain.use(v, time_major)
        except Y.LayoutError as err:
            raise self.error(str(err)) from None


def import_onnx(path: str, batch_hint: int | None = None,
                sample_shape: tuple[int, ...] | None = None) -> Imported:
    model = load_model(path)
    graph = model.graph
    name, shape, batch = input_shape(model, path, batch_hint, sample_shape)
    chain = Y.Chain(shape, batch or 2)
    w = Walker(path, chain)
    for t in graph.initializer:
        w.values[t.name] = tensor_array(t, path, "an initializer")
    w.values[name] = chain.head
    ops: list[str] = []
    softmax = False
    for index, node in enumerate(graph.node):
        op = node.op_type
        w.where = f"node {index} '{safe(node.name or '(unnamed)', limit=40)}' ({safe(op, limit=30)})"
        if node.domain not in ("", "ai.onnx"):
            raise w.error(f"operator {safe(node.domain, limit=30)}.{safe(op, limit=30)} is not "
                          "an ONNX operator tuinn maps to a layer")
        try:
            outs = _node(w, op, node, attrs=attributes(node, path, w.where),
                         ins=[w.get(i, optional=True) for i in node.input], ops=ops)
        except MALFORMED:             # attributes of the wrong kind, inputs missing
            raise w.error("a malformed node: its attributes or inputs are not what the "
                          "operator takes") from None
        softmax = softmax or op == "Softmax"
        for out_name, v in zip(node.output, outs):
            if out_name:
                w.values[out_name] = v
    return _finish(w, graph, path, shape, batch, ops, softmax)


def _node(w: Walker, op: str, node, attrs: dict, ins: list, ops: list) -> list:
    """One node's outputs."""
    if op in CONST_OPS and ins and all(isinstance(v, np.ndarray) or v is None for v in ins) \
            or op == "Constant":
        return OL.constant(w, op, ins, attrs)
    if op == "Shape":
        return [OL.shape_of(w, ins[0], attrs)]
    if op in MOVES:
        ops.append(op)
        return [OL.move(w, op, ins, attrs)]
    if op in OP.HANDLERS:
        if any(isinstance(v, Y.Val) and v.tag == "softmax" for v in ins):
            raise w.error("follows a Softmax: Softmax maps only at the end of the model")
        ops.append(op)
        return OP.HANDLERS[op](w, node, ins, attrs)
    raise w.error(f"operator {safe(op, limit=30)} maps to no tuinn layer",
                  "tuinn maps " + ", ".join(OP.HANDLERS) + "; and absorbs "
                  + ", ".join(sorted(MOVES | {"Shape", "Constant"})))


def _finish(w: Walker, graph, path: str, shape, batch, ops: list, softmax: bool) -> Imported:
    chain = w.chain
    outputs = [o.name for o in graph.output]
    if len(outputs) != 1:
        raise TuinnError(f"the graph has {len(outputs)} outputs; tuinn imports a model "
                         "with one", file=path)
    w.where = f"the graph's output '{safe(outputs[0], limit=40)}'"
    out = w.get(outputs[0])
    if isinstance(out, Y.Val) and out.tag == "softmax":
        out = Y.Val(out.dims, out.token)         # the logits, in the layout they had
    try:
        w.use(out)
    except MALFORMED:
        raise w.error("the output is not a tensor tuinn can follow") from None
    if not chain.layers:
        raise TuinnError("the graph holds no layer", file=path)
    if len(ops) > 40:
        ops = ops[:40] + [f"and {len(ops) - 40} more"]
    return Imported(source=path, fmt="ONNX", input=shape, layers=chain.layers, ops=ops,
                    softmax=softmax, batch=batch, output=chain.shape(), notes=chain.notes)
