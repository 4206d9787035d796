"""Provides the layout tracking that absorbs ONNX's data-moving operators into the layers they serve.

A tensor computed from the input is a `Val`: a view of the chain of layers read so far
(its `token` names the chain position) whose axes are tuples of `Atom`s, the axes of
that position's own layout, permuted, merged or split. Transpose, Reshape, Flatten,
Squeeze, Unsqueeze, a Gather of the last time step or of a direction of the final
states, and a Concat of the two directions change only the view. A layer takes
its input through `Chain.use`, which checks that the view is the layer's layout (or the
flattened layout: a flatten layer is added) and settles the open choice of a recurrent
layer (return_sequences or the last state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuinn.interop.model import Layer


class Atom:
    """One axis of a layer's own output; `role` is "N" (batch), "T" (time), "D"
    (directions of a recurrent layer) or ""."""
    __slots__ = ("size", "role")

    def __init__(self, size: int, role: str = ""):
        self.size, self.role = int(size), role


Dims = tuple[tuple[Atom, ...], ...]


@dataclass(frozen=True)
class Val:
    dims: Dims
    token: object
    tag: str | None = None       # "last" (a Gather of the last step), "final" (Y_h),
                                 # "softmax", "cell" (Y_c)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(a.size for a in d) for d in self.dims)

    def with_dims(self, dims, tag=None) -> "Val":
        return Val(tuple(tuple(d) for d in dims), self.token, tag or self.tag)


def normal(dims: Dims) -> tuple:
    """The axes without size-1 atoms (the batch atom always kept), empty axes dropped."""
    out = []
    for d in dims:
        kept = tuple(a for a in d if a.size != 1 or a.role == "N")
        if kept:
            out.append(kept)
    return tuple(out)


class LayoutError(ValueError):
    """A view this module cannot follow; the caller names the node."""


def transpose(v: Val, perm) -> Val:
    perm = list(perm) if perm else list(range(len(v.dims)))[::-1]
    if sorted(perm) != list(range(len(v.dims))):
        raise LayoutError(f"perm {perm} does not fit {len(v.dims)} axes")
    return v.with_dims([v.dims[p] for p in perm])


def squeeze(v: Val, axes) -> Val:
    rank = len(v.dims)
    axes = [a + rank if a < 0 else a for a in (axes if axes is not None else
            [j for j, s in enumerate(v.sizes) if s == 1])]
    for a in axes:
        if not 0 <= a < rank or v.sizes[a] != 1 or any(x.role == "N" for x in v.dims[a]):
            raise LayoutError(f"cannot squeeze axis {a} of a tensor of shape {v.sizes}")
    return v.with_dims([d for j, d in enumerate(v.dims) if j not in axes])


def unsqueeze(v: Val, axes) -> Val:
    rank = len(v.dims) + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    dims = list(v.dims)
    for a in axes:
        if not 0 <= a <= len(dims):
            raise LayoutError(f"cannot unsqueeze at axis {a}")
        dims.insert(a, ())
    return v.with_dims(dims)


def target_shape(v: Val, shape, allowzero: bool) -> list[int]:
    """ONNX Reshape's shape with 0 (copy) and -1 (the rest) resolved."""
    sizes, out = v.sizes, []
    for j, s in enumerate(int(s) for s in shape):
        if s == 0 and not allowzero:
            if j >= len(sizes):
                raise LayoutError("a 0 in the shape beyond the input's axes")
            s = sizes[j]
        out.append(s)
    total = math.prod(sizes)
    if out.count(-1) > 1 or any(s < -1 for s in out):
        raise LayoutError(f"shape {list(shape)} is not a valid Reshape shape")
    if -1 in out:
        rest = math.prod(s for s in out if s != -1)
        if rest == 0 or total % rest:
            raise LayoutError(f"cannot reshape {sizes} to {list(shape)}")
        out[out.index(-1)] = total // rest
    if math.prod(out) != total:
        raise LayoutError(f"cannot reshape {sizes} to {out}")
    return out


def reshape(v: Val, target: list[int]) -> Val:
    """Group the atoms, in order, into the target's axes; splitting an atom is an error."""
    atoms = [a for d in v.dims for a in d if a.size != 1 or a.role == "N"]
    i, new = 0, []
    for t in target:
        if t == 1 and not (i < len(atoms) and atoms[i].role == "N" and atoms[i].size == 1):
            new.append(())
            continue
        group, p = [], 1
        while p < t or not group:
            if i >= len(atoms):
                raise LayoutError(f"cannot reshape {v.sizes} to {target}")
            group.append(atoms[i])
            p *= atoms[i].size
            i += 1
            if p > t:
                raise LayoutError(f"reshaping {v.sizes} to {target} splits an axis")
        new.append(tuple(group))
    if i != len(atoms):
        raise LayoutError(f"cannot reshape {v.sizes} to {target}")
    return v.with_dims(new)


def flatten(v: Val, axis: int) -> Val:
    axis = axis + len(v.dims) if axis < 0 else axis
    if not 0 <= axis <= len(v.dims):
        raise LayoutError(f"axis {axis} out of range")
    first = tuple(a for d in v.dims[:axis] for a in d)
    return v.with_dims([first, tuple(a for d in v.dims[axis:] for a in d)])


def gather(v: Val, axis: int, index: int, keep: bool) -> Val:
    """Gather of one index: the last time step of a recurrent layer's output, or one
    direction of its final states (PyTorch's h_n[-1], or h_n[-2] and h_n[-1] to concat)."""
    axis = axis + len(v.dims) if axis < 0 else axis
    if not 0 <= axis < len(v.dims):
        raise LayoutError(f"axis {axis} out of range")
    dims = list(v.dims)
    if keep:
        dims[axis] = ()
    else:
        del dims[axis]
    atoms = v.dims[axis]
    if len(atoms) == 1 and atoms[0].role == "D" and v.tag == "final":
        size = atoms[0].size
        j = index + size if index < 0 else index
        if not 0 <= j < size:
            raise LayoutError(f"index {index} is not a direction of {size}")
        return v.with_dims(dims, "final" if size == 1 else f"dir{j}")
    d = tuple(a for a in atoms if a.size != 1)
    if len(d) != 1 or d[0].role != "T" or index not in (-1, d[0].size - 1):
        raise LayoutError("only a Gather of the last time step of a recurrent layer's "
                          "output, or of its final states by direction, maps to a layer")
    return v.with_dims(dims, "last")


def concat_directions(v0: Val, v1: Val, axis: int, pending) -> Val:
    """Concat of a bidirectional layer's two final states (forward, then backward) on
    the feature axis: the layer's last state, as tuinn concatenates it."""
    if pending is None or v0.token is not v1.token or (v0.tag, v1.tag) != ("dir0", "dir1") \
            or pending.directions != 2:
        raise LayoutError("only a Concat of a bidirectional layer's final states, forward "
                          "then backward, maps to a layer")
    n0, rank = normal(v0.dims), len(v0.dims)
    if n0 != normal(v1.dims) or axis not in (-1, rank - 1) or len(n0) != 2:
        raise LayoutError("the final states are concatenated on an axis other than the "
                          "features")
    return Val(pending.last, v0.token, "final")


# ------------------------------------------------------------------ the chain
@dataclass
class Pending:
    """A recurrent layer whose output is not used yet: sequence or last state."""
    layer: Layer
    seq: Dims
    last: Dims
    directions: int


class Chain:
    """The layers read so far and the layout of each position's output."""

    def __init__(self, input_shape: tuple[int, ...], batch: int):
        self.batch = Atom(batch, "N")
        self.layers: list[Layer] = []
        dims = ((self.batch,),) + tuple((Atom(s, "T" if len(input_shape) == 2 and j == 0
                                               else ""),) for j, s in enumerate(input_shape))
        self.tokens: list[object] = [object()]
        self.canon: list[Dims] = [dims]
        self.pending: Pending | None = None
        self.notes: list[str] = []           # for the scenario's description

    @property
    def head(self) -> Val:
        return Val(self.canon[-1], self.tokens[-1])

    def shape(self) -> tuple[int, ...]:
        """The per-sample shape of the head's output."""
        return self.head.sizes[1:]

    def push(self, layer: Layer, out_shape: tuple[int, ...], time_axis: bool = False) -> Val:
        for prev in self.layers[-1:]:
            prev.open_bias = False
        self.layers.append(layer)
        dims = ((self.batch,),) + tuple((Atom(s, "T" if time_axis and j == 0 else ""),)
                                        for j, s in enumerate(out_shape))
        self.tokens.append(object())
        self.canon.append(dims)
        return self.head

    def push_recurrent(self, layer: Layer, time: int, hidden: int, dirs: int,
                       batch_first: bool) -> tuple[Val, Val]:
        """The Y and Y_h outputs of an ONNX recurrent node (layout 0 or 1)."""
        self.push(layer, ())
        n, t, d, h = self.batch, Atom(time, "T"), Atom(dirs, "D"), Atom(hidden)
        self.pending = Pending(layer, ((n,), (t,), (d, h)), ((n,), (d, h)), dirs)
        token = self.tokens[-1]
        if batch_first:
            return Val(((n,), (t,), (d,), (h,)), token), Val(((n,), (d,), (h,)), token, "final")
        return Val(((t,), (d,), (n,), (h,)), token), Val(((d,), (n,), (h,)), token, "final")

    def residual(self, a: Val, b: Val) -> Val:
        """Add of the head and an earlier position's output: the layers in between
        become a residual block, y = x + f(x)."""
        head, skip = (a, b) if a.token is self.tokens[-1] else (b, a)
        self.use(head)
        if skip.token not in self.tokens[:-1]:
            raise LayoutError("adds two tensors that are not a block's input and output")
        p = self.tokens.index(skip.token)
        canon = self.canon[p]
        if normal(skip.dims) != normal(canon) or len(skip.dims) != len(canon) \
                or skip.tag is not None:
            raise LayoutError("adds a block's input in a layout that maps to no layer")
        if self.head.sizes != skip.sizes:
            raise LayoutError(f"adds tensors of shapes {skip.sizes} and {self.head.sizes}")
        block = Layer("residual", layers=self.layers[p:])
        for inner in block.layers:
            inner.open_bias = False
        shape = self.shape()
        del self.layers[p:], self.tokens[p + 1:], self.canon[p + 1:]
        return self.push(block, shape)

    def use(self, v, time_major: bool = False) -> None:
        """Check that `v` is the head's output in its own layout (time_major: with the
        first two axes swapped); settle a recurrent layer; add a flatten when `v` is the
        head flattened. Raises LayoutError."""
        if not isinstance(v, Val):
            raise LayoutError("expects a tensor computed from the input, got a constant")
        if v.token is not self.tokens[-1]:
            raise LayoutError("uses a tensor from before the last layer: tuinn imports a "
                              "chain of layers, one after the other")
        if v.tag in ("softmax", "cell"):
            raise LayoutError({"softmax": "uses a Softmax's output: Softmax maps only at "
                                          "the end of the model",
                               "cell": "uses an LSTM's cell state Y_c, which no layer "
                                       "outputs"}[v.tag])
        got = normal(v.dims)
        if time_major:
            if len(got) < 3:
                raise LayoutError(f"expects a (time, batch, features) tensor, got {v.sizes}")
            got = (got[1], got[0]) + got[2:]
        if self.pending is not None:
            rec, last = self.pending, v.tag in ("last", "final")
            if v.tag == "last" and rec.directions == 2:
                raise LayoutError("takes the last step of a bidirectional layer's output; "
                                  "tuinn's last state of the backward direction is its "
                                  "step at t = 0: use the layer's final state (h_n)")
            want = normal(rec.last if last else rec.seq)
            if got != want or len(v.dims) != len((rec.last if last else rec.seq)):
                raise LayoutError("uses a recurrent layer's output in a layout tuinn "
                                  "cannot map")
            rec.layer.options["return_sequences"] = not last
            self.canon[-1] = rec.last if last else rec.seq
            self.pending = None
            return
        if v.tag:
            raise LayoutError("uses the last time step of a layer that is not recurrent")
        canon = normal(self.canon[-1])
        if got == canon and len(v.dims) == len(self.canon[-1]):
            return
        rest = tuple(a for d in self.canon[-1][1:] for a in d)
        if len(v.dims) == 2 and len(self.canon[-1]) > 2 and got == normal(
                (self.canon[-1][0], rest)):
            self.push(Layer("flatten"), (math.prod(a.size for a in rest),))
            return
        raise LayoutError(f"takes the data in a layout of shape {v.sizes} that maps to no "
                          f"layer (the layer before it outputs {self.head.sizes})")
