"""Provides the ONNX nodes that make no layer: constants evaluated with NumPy, data moves followed.

A node whose inputs are all constants (initializers, Constant, Shape of a tensor) is
evaluated; a Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Identity or Gather of a
tensor computed from the input changes only its view (layout.py).
"""

from __future__ import annotations

import math

import numpy as np

from tuinn.interop import layout as Y
from tuinn.scenario import limits as L


def _ints(v) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


# ------------------------------------------------------------------ constants and moves
def constant(w, op: str, ins: list, a: dict) -> list:
    """A node whose inputs are all constants, evaluated with NumPy; what it would make
    is sized first (Expand, ConstantOfShape and Range can ask for any size)."""
    size = _made_size(op, ins)
    limit = L.memory_limit()
    if limit is not None and size * 8 > limit:
        raise w.error(f"would make a constant of {size:,} numbers, over the memory limit "
                      f"of {L.fmt_bytes(limit)}")
    try:
        return [np.asarray(_constant(op, ins, a))]
    except (ValueError, IndexError, TypeError, OverflowError, KeyError, MemoryError):
        raise w.error("cannot evaluate this operator on its constant inputs") from None


def _made_size(op: str, ins: list) -> int:
    try:
        if op == "ConstantOfShape":
            return math.prod(max(0, s) for s in _ints(ins[0]))
        if op == "Expand":
            return max(ins[0].size, math.prod(max(1, s) for s in _ints(ins[1])))
        if op == "Range":
            start, stop, step = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
            return int(max(0, math.ceil((stop - start) / step))) if step else 0
    except (IndexError, TypeError, ValueError, OverflowError, AttributeError):
        return 0                      # malformed: the evaluation says so
    return sum(np.size(v) for v in ins if v is not None)


def _constant(op: str, ins: list, a: dict):
    x = ins[0] if ins else None
    if op == "Constant":
        for k in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if k in a:
                return np.asarray(a[k])
        raise ValueError("no value")
    if op in ("Identity", "Cast"):
        if op == "Cast":
            from onnx import helper
            return x.astype(helper.tensor_dtype_to_np_dtype(int(a["to"])))
        return x
    if op == "Transpose":
        return np.transpose(x, a.get("perm"))
    if op == "Reshape":
        shape = [s if s != 0 or a.get("allowzero") else x.shape[j]
                 for j, s in enumerate(_ints(ins[1]))]
        return x.reshape(shape)
    if op == "Flatten":
        axis = int(a.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
        return x.reshape(math.prod(x.shape[:axis]), -1)
    if op in ("Squeeze", "Unsqueeze"):
        axes = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else a.get("axes")
        if op == "Squeeze":
            return np.squeeze(x, tuple(axes) if axes is not None else None)
        for ax in sorted(ax % (x.ndim + len(axes)) for ax in axes):
            x = np.expand_dims(x, ax)
        return x
    if op == "Gather":
        return np.take(x, ins[1].astype(np.int64), axis=int(a.get("axis", 0)))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(i) for i in ins], axis=int(a["axis"]))
    if op == "Slice":
        starts, ends = _ints(ins[1]), _ints(ins[2])
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else range(len(starts))
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        idx = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[ax] = slice(s, e, st)
        return x[tuple(idx)]
    if op == "ConstantOfShape":
        value = a.get("value", np.zeros(1, dtype=np.float32))
        return np.full(_ints(x), np.asarray(value).reshape(-1)[0])
    if op == "Range":
        return np.arange(ins[0], ins[1], ins[2])
    if op == "Expand":
        shape = _ints(ins[1])
        return np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(shape))).copy()
    if op == "Shape":
        return np.asarray(x.shape, dtype=np.int64)
    if op == "Neg":
        return -x
    fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
    out = fn(ins[0], ins[1])
    return out.astype(ins[0].dtype) if ins[0].dtype.kind in "iu" and op != "Div" else out


def shape_of(w, v, a: dict) -> np.ndarray:
    if not isinstance(v, Y.Val):
        raise w.error("expects a tensor")
    sizes = list(v.sizes)
    return np.asarray(sizes[a.get("start", 0):a.get("end", len(sizes))], dtype=np.int64)


def move(w, op: str, ins: list, a: dict) -> Y.Val:
    """A data move on a tensor from the input: the view changes, no layer."""
    v = ins[0]
    if not isinstance(v, Y.Val):
        raise w.error("expects a tensor")
    try:
        if op == "Identity":
            return v
        if op == "Transpose":
            return Y.transpose(v, a.get("perm"))
        if op == "Reshape":
            shape = _const(w, ins, 1, "shape")
            return Y.reshape(v, Y.target_shape(v, _ints(shape), bool(a.get("allowzero", 0))))
        if op == "Flatten":
            return Y.flatten(v, int(a.get("axis", 1)))
        if op in ("Squeeze", "Unsqueeze"):
            axes = _ints(_const(w, ins, 1, "axes")) if len(ins) > 1 and ins[1] is not None \
                else a.get("axes")
            if op == "Squeeze":
                return Y.squeeze(v, axes)
            return Y.unsqueeze(v, axes or [])
        idx = _const(w, ins, 1, "indices")
        if idx.size != 1:
            raise Y.LayoutError("only a Gather of one index (the last time step) maps")
        return Y.gather(v, int(a.get("axis", 0)), int(idx.reshape(-1)[0]), idx.ndim > 0)
    except Y.LayoutError as err:
        raise w.error(str(err)) from None


def _const(w, ins: list, j: int, what: str) -> np.ndarray:
    v = ins[j] if j < len(ins) else None
    if not isinstance(v, np.ndarray):
        raise w.error(f"its {what} must be a constant (an initializer or a shape), not "
                      "computed from the input")
    return v
