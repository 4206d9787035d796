"""Provides the guarded reading of an ONNX file: size checks, no external data, constants as arrays.

The file is hostile data: its size is checked before it is parsed, external data is read
only from a file in the model's own folder (torch.onnx.export writes model.onnx.data
beside model.onnx), sparse initializers are refused, every constant's
declared size is checked against the memory limit before it becomes an array, and a
file that does not parse is an error with exit 2, never a traceback.
"""

from __future__ import annotations

import math
import os

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.interop.extras import need
from tuinn.scenario import limits as L

#: ONNX element types tuinn reads: float, double, float16, int8..int64, uint8..uint64, bool
NUMERIC_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13}


def load_model(path: str):
    """The parsed ModelProto, after the checks above."""
    onnx = need("onnx", "reading an ONNX file", path)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise TuinnError("file not found", file=path) from None
    if os.path.isdir(path):
        raise TuinnError("is a directory, not a model file", file=path)
    limit = L.memory_limit()
    if limit is not None and size > limit:
        raise TuinnError(f"the file holds {L.fmt_bytes(size)}, over the limit of "
                         f"{L.fmt_bytes(limit)}", file=path,
                         hint=f"set {L.MEMORY_VARIABLE} (e.g. 8GB) to allow more")
    try:
        with open(path, "rb") as f:
            model = onnx.ModelProto()
            model.ParseFromString(f.read())
    except Exception:                 # protobuf's own errors: the bytes are not a model
        raise TuinnError("not a readable ONNX file", file=path,
                         hint="export it with torch.onnx.export") from None
    if not model.HasField("graph") or not model.graph.node:
        raise TuinnError("the ONNX file holds no graph", file=path)
    if model.graph.sparse_initializer:
        raise TuinnError("sparse initializers are not supported", file=path)
    return model


def tensor_array(tensor, path: str, where: str) -> np.ndarray:
    """A TensorProto as an array, its size checked first; external data refused."""
    onnx = need("onnx", "reading an ONNX file", path)
    name = safe(tensor.name or where, limit=40)
    if tensor.data_type not in NUMERIC_TYPES:
        raise TuinnError(f"tensor '{name}' holds data of ONNX type {tensor.data_type}, "
                         "not plain numbers", file=path)
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims) or len(dims) > 32:
        raise TuinnError(f"tensor '{name}' has an invalid shape", file=path)
    nbytes = math.prod(dims) * 8
    limit = L.memory_limit()
    if limit is not None and nbytes > limit:
        raise TuinnError(f"tensor '{name}' declares shape {tuple(dims)}: about "
                         f"{L.fmt_bytes(nbytes)}, the limit is {L.fmt_bytes(limit)}", file=path)
    if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
        return external_array(tensor, dims, path, name)
    try:
        arr = onnx.numpy_helper.to_array(tensor)
    except Exception as e:          # onnx raises many types on malformed data: all reach
        raise TuinnError(f"tensor '{name}' cannot be read: "       # the user, with why
                         f"{safe(e, limit=60)}", file=path) from None
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise TuinnError(f"tensor '{name}' holds NaN or Inf values", file=path)
    return arr


#: ONNX element types an external data file may hold, as little-endian NumPy dtypes
EXTERNAL_DTYPES = {1: "<f4", 10: "<f2", 11: "<f8", 6: "<i4", 7: "<i8"}


def external_array(tensor, dims: list[int], path: str, name: str) -> np.ndarray:
    """A tensor kept in a file beside the model (torch.onnx.export writes model.onnx.data):
    only a file in the model's own folder, the bytes inside it, as many as the shape needs."""
    entries = {e.key: e.value for e in tensor.external_data}
    location = entries.get("location", "")
    folder = os.path.dirname(os.path.abspath(path))
    target = os.path.realpath(os.path.join(folder, location))
    if not location or os.path.isabs(location) or os.path.dirname(target) != os.path.realpath(folder):
        raise TuinnError(f"tensor '{name}' keeps its data in "
                         f"'{safe(location, limit=40)}', outside the model's folder", file=path,
                         hint="keep the .onnx.data file beside the .onnx file")
    dtype = EXTERNAL_DTYPES.get(tensor.data_type)
    if dtype is None:
        raise TuinnError(f"tensor '{name}' keeps ONNX type {tensor.data_type} in an external "
                         "file, which tuinn does not read", file=path)
    try:
        offset, length = int(entries.get("offset", 0)), entries.get("length")
        need_bytes = math.prod(dims) * np.dtype(dtype).itemsize
        if length is not None and int(length) != need_bytes or offset < 0:
            raise ValueError
        if not os.path.isfile(target) or offset + need_bytes > os.path.getsize(target):
            raise ValueError
        with open(target, "rb") as f:
            f.seek(offset)
            raw = f.read(need_bytes)
    except (ValueError, OSError):
        raise TuinnError(f"tensor '{name}': its external data in '{safe(location, limit=40)}' "
                         "is missing or does not match its shape", file=path) from None
    arr = np.frombuffer(raw, dtype=dtype).reshape(dims)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise TuinnError(f"tensor '{name}' holds NaN or Inf values", file=path)
    return arr


def attributes(node, path: str, where: str) -> dict:
    """A node's attributes: numbers, lists, strings (decoded), tensors (as arrays)."""
    onnx = need("onnx", "reading an ONNX file", path)
    out = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue          # If/Loop bodies: the node is refused by its operator
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = tensor_array(a.t, path, where)
            continue
        try:
            v = onnx.helper.get_attribute_value(a)
        except Exception as e:      # as above: malformed data, reported with why
            raise TuinnError(f"{where}: attribute '{safe(a.name, limit=30)}' cannot be read: "
                             f"{safe(e, limit=60)}", file=path) from None
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list):
            v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def input_shape(model, path: str, batch_hint: int | None,
                sample_shape: tuple[int, ...] | None) -> tuple[str, tuple[int, ...], int | None]:
    """The graph's one real input: its name, one sample's shape, the batch size it fixes.

    A dimension without a fixed size takes its size from the data (`sample_shape`)."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise TuinnError(f"the graph has {len(inputs)} inputs; tuinn imports a model with "
                         "one", file=path)
    inp = inputs[0]
    tt = inp.type.tensor_type
    if tt.elem_type not in (1, 10, 11):
        raise TuinnError(f"the input '{safe(inp.name, limit=40)}' is not a float tensor "
                         f"(ONNX type {tt.elem_type})", file=path,
                         hint="tuinn imports models whose input is a float tensor")
    dims = []
    for j, d in enumerate(tt.shape.dim):
        dims.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None)
    if len(dims) < 2:
        raise TuinnError(f"the input has {len(dims)} axes; expected (batch, ...)", file=path)
    shape = []
    for j, d in enumerate(dims[1:]):
        if d is None:
            if sample_shape is None or len(sample_shape) != len(dims) - 1:
                raise TuinnError(f"the input's axis {j + 1} has no fixed size", file=path,
                                 hint="give --data with samples of the model's input shape")
            d = sample_shape[j]
        shape.append(d)
    return inp.name, tuple(shape), dims[0] or batch_hint
