"""Provides the computation-graph gates: registry, labels, forward, local gradients, backward.

A gate is one node of a `kind = "graph"` scenario: `out = op(args..., const)`. The
wrappers here check shapes (raising TuinnError with both shapes), pick the dtype,
broadcast and ravel, then call the 1-D kernels in `tuinn.engine.kernels`. Everything
returned is a NumPy array; scalars are 0-d arrays.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from tuinn.engine.kernels.elementwise import BINARY, UNARY
from tuinn.engine.kernels.linalg import REDUCTIONS, matmul_bwd, matmul_fwd
from tuinn.errors import TuinnError


@dataclass(frozen=True)
class Gate:
    name: str                  # registry name: "add", "mulc", ...
    arity: int                 # number of node inputs: 1 or 2
    symbol: str                # for drawing; "{c}" stands for the folded constant
    pattern: str               # one sentence for the inspector: how the gradient flows
    const: bool = False        # True when the gate folds a constant (addc, mulc, powc, ...)


def _g(name: str, arity: int, symbol: str, pattern: str, const: bool = False) -> Gate:
    return Gate(name, arity, symbol, pattern, const)


GATES: dict[str, Gate] = {g.name: g for g in (
    _g("add", 2, "+", "add distributes: every input receives the upstream gradient unchanged"),
    _g("sub", 2, "-", "subtract distributes with a sign: the first input receives the "
                      "upstream gradient, the second receives its negative"),
    _g("mul", 2, "*", "multiply swaps: each input's local gradient is the other input's value"),
    _g("div", 2, "/", "divide: for a / b, a's local gradient is 1/b and b's is -a/b**2"),
    _g("max", 2, "max", "max routes: the larger input gets the whole upstream gradient, the "
                        "other gets 0 (a tie splits it half and half)"),
    _g("min", 2, "min", "min routes: the smaller input gets the whole upstream gradient, the "
                        "other gets 0 (a tie splits it half and half)"),
    _g("matmul", 2, "@", "matmul: for A @ B, dA = up @ B.T and dB = A.T @ up (batched: "
                         "summed over the batch axes an operand was broadcast along)"),
    _g("neg", 1, "*-1", "negate flips the sign: the input receives minus the upstream gradient"),
    _g("addc", 1, "+{c}", "adding a constant passes the upstream gradient through unchanged",
       True),
    _g("mulc", 1, "*{c}", "multiplying by a constant c scales the upstream gradient by c", True),
    _g("inv", 1, "1/x", "1/x's local gradient is -1/x**2"),
    _g("powc", 1, "**{c}", "x**c's local gradient is c * x**(c-1)", True),
    _g("exp", 1, "exp", "exp's local gradient is its own output, exp(x)"),
    _g("log", 1, "log", "log's local gradient is 1/x"),
    _g("sigmoid", 1, "σ", "sigmoid's local gradient is (1 - s) * s, from its own output s"),
    _g("tanh", 1, "tanh", "tanh's local gradient is 1 - t**2, from its own output t"),
    _g("relu", 1, "relu", "relu gates: it passes the upstream gradient where x > 0 and "
                          "blocks it (0) elsewhere"),
    _g("abs", 1, "abs", "abs multiplies the upstream gradient by the sign of x (0 at x = 0)"),
    _g("maxc", 1, "max(·,{c})", "max(x, c) passes the upstream gradient where x > c and "
                                "blocks it where x < c (half at a tie)", True),
    _g("minc", 1, "min(·,{c})", "min(x, c) passes the upstream gradient where x < c and "
                                "blocks it where x > c (half at a tie)", True),
    _g("sum", 1, "sum", "sum distributes like add: every element receives the upstream "
                        "gradient unchanged"),
    _g("mean", 1, "mean", "mean distributes 1/n: each of the n elements receives the "
                          "upstream gradient divided by n"),
)}

_KERNELS = {**BINARY, **UNARY, **REDUCTIONS}     # name -> (fwd, local); matmul apart


# ========================================================================= public


def label(op: str, const: float | None) -> str:
    """The gate's drawing label with its constant: "+1", "-2", "*-1", "**2", "max(·,0.5)"."""
    gate = _gate(op)
    if not gate.const:
        return gate.symbol
    c = _need_const(op, const)
    if op == "addc" and c < 0:
        return "-" + format_const(-c)
    return gate.symbol.replace("{c}", format_const(c))


def format_const(c: float) -> str:
    """A constant, compactly: 2.0 -> "2", 0.5 -> "0.5", 1e-08 -> "1e-08"."""
    c = float(c)
    if c.is_integer() and abs(c) < 1e15:
        return str(int(c))
    return repr(c)


def forward(op: str, args: list[np.ndarray], const: float | None) -> np.ndarray:
    """The gate's output for `args` (NumPy broadcasting for binary elementwise ops)."""
    gate, arrays, c, dt = _prepare(op, args, const)
    if op == "matmul":
        mm = _matmul_plan(*arrays, dt)
        out = np.empty((mm.ia.size, mm.n, mm.m), dtype=dt)      # (T, n, m)
        matmul_fwd(mm.a, mm.b, mm.ia, mm.ib, out)
        return out.reshape(mm.out_shape)
    fwd, _ = _KERNELS[op]
    if gate.arity == 2:
        a, b = _broadcast(op, arrays)
        out = np.empty(a.size, dtype=dt)
        fwd(a.reshape(-1), b.reshape(-1), out)
        return out.reshape(a.shape)
    x = arrays[0]
    if op in REDUCTIONS:
        out = np.empty(1, dtype=dt)
        fwd(x.reshape(-1), c, out)
        return out.reshape(())
    out = np.empty(x.size, dtype=dt)
    fwd(x.reshape(-1), c, out)
    return out.reshape(x.shape)


def local_grads(op: str, args: list[np.ndarray], out: np.ndarray | None,
                const: float | None) -> list[np.ndarray]:
    """d out / d arg_i, one array per arg, for display.

    Elementwise ops: arrays in the output's (broadcast) shape. matmul: [B, A], the other
    operand. sum: ones like x; mean: 1/n like x. `out` may be None (it is recomputed).
    """
    gate, arrays, c, dt = _prepare(op, args, const)
    if op == "matmul":
        _matmul_plan(*arrays, dt)                               # shape check
        return [arrays[1].copy(), arrays[0].copy()]
    _, local = _KERNELS[op]
    if gate.arity == 2:
        a, b = _broadcast(op, arrays)
        da = np.empty(a.size, dtype=dt)
        db = np.empty(a.size, dtype=dt)
        local(a.reshape(-1), b.reshape(-1), da, db)
        return [da.reshape(a.shape), db.reshape(a.shape)]
    x = arrays[0]
    y = _output(op, arrays, out, const, dt)
    y = x if op in REDUCTIONS else _contig(y)                   # sum/mean ignore y
    d = np.empty(x.size, dtype=dt)
    local(x.reshape(-1), y.reshape(-1), c, d)
    return [d.reshape(x.shape)]


def backward(op: str, args: list[np.ndarray], out: np.ndarray | None,
             upstream: np.ndarray, const: float | None) -> list[np.ndarray]:
    """Downstream gradients, one per arg and exactly that arg's shape.

    upstream * local, summed back over broadcast axes; matmul: dA = up @ B.T,
    dB = A.T @ up per matrix of the batch, summed over the batch axes A or B was
    broadcast along; sum and mean spread their scalar upstream over x.
    """
    gate, arrays, c, dt = _prepare(op, args, const)
    y = _output(op, arrays, out, const, dt)
    up = _upstream(op, upstream, y.shape, dt)
    if op == "matmul":
        a, b = arrays
        mm = _matmul_plan(a, b, dt)
        up3 = up.reshape(mm.ia.size, mm.n, mm.m)                # (T, n, m)
        da = np.empty(mm.a.shape, dtype=dt)                     # (A, n, k)
        db = np.empty(mm.b.shape, dtype=dt)                     # (B, k, m)
        matmul_bwd(mm.a, mm.b, mm.ia, mm.ib, up3, da, db)
        return [da.reshape(a.shape), db.reshape(b.shape)]
    locs = local_grads(op, arrays, y, const)
    with np.errstate(all="ignore"):            # inf * 0 is nan, as in the kernels: no warning
        return [unbroadcast(up * loc, arg.shape) for arg, loc in zip(arrays, locs)]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, back to `shape`."""
    grad = np.asarray(grad)
    shape = tuple(shape)
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise TuinnError(f"cannot reduce a gradient of shape {grad.shape} to shape {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape[extra:] != shape:
        raise TuinnError(f"cannot reduce a gradient of shape {grad.shape} to shape {shape}")
    return np.array(grad.reshape(shape))                        # a fresh array, 0-d kept


# ======================================================================= helpers


def _gate(op: str) -> Gate:
    gate = GATES.get(op)
    if gate is None:
        close = difflib.get_close_matches(op, GATES, n=1)
        raise TuinnError(f"unknown gate {op!r}", hint=f"did you mean {close[0]!r}?"
                         if close else "known gates: " + ", ".join(GATES))
    return gate


def _need_const(op: str, const: float | None) -> float:
    if const is None:
        raise TuinnError(f"{op}: this gate needs a constant, got none")
    return float(const)


def _prepare(op: str, args, const):
    """Validate op, arity and constant; return (gate, float arrays, const, dtype)."""
    gate = _gate(op)
    if len(args) != gate.arity:
        raise TuinnError(f"{op}: takes {gate.arity} input(s), got {len(args)}")
    c = _need_const(op, const) if gate.const else 0.0
    arrays = [np.asarray(a) for a in args]
    dt = np.result_type(*arrays)
    if dt not in (np.float32, np.float64):
        dt = np.dtype(np.float64)                                # ints, bools, float16
    return gate, [_contig(a, dt) for a in arrays], c, np.dtype(dt)


def _contig(a, dt=None) -> np.ndarray:
    """C-contiguous, of dtype `dt`, 0-d kept 0-d (np.ascontiguousarray makes it 1-D)."""
    return np.asarray(a, dtype=dt, order="C")


def _shape_error(op: str, a: tuple, b: tuple) -> TuinnError:
    return TuinnError(f"{op}: cannot broadcast shapes {a} and {b}",
                      hint="aligned from the right, each pair of sizes must be equal or 1")


def _broadcast(op: str, arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Both operands stretched to the output shape, C-contiguous (copies where stretched)."""
    a, b = arrays
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise _shape_error(op, a.shape, b.shape) from None
    return tuple(x if x.shape == shape else np.broadcast_to(x, shape).copy() for x in (a, b))


@dataclass(frozen=True)
class _Matmul:
    """numpy.matmul's plan for a @ b: a as (A, n, k), b as (B, k, m), and for each of
    the T output matrices the index of its a and its b (broadcast batch axes)."""
    a: np.ndarray
    b: np.ndarray
    ia: np.ndarray                 # (T,) int64
    ib: np.ndarray
    n: int
    m: int
    out_shape: tuple[int, ...]


def _batch_index(shape: tuple[int, ...], batch: tuple[int, ...]) -> np.ndarray:
    """For each position of `batch` (row-major), the flat index into `shape` that
    broadcasting reads there."""
    idx = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    return np.ascontiguousarray(np.broadcast_to(idx, batch).reshape(-1))


def _stacked(x: np.ndarray, dt) -> np.ndarray:
    """(..., r, c) -> (count, r, c), C-contiguous (the batch axes flattened)."""
    count = int(np.prod(x.shape[:-2], dtype=np.int64))
    return _contig(x, dt).reshape((count,) + x.shape[-2:])


def _matmul_plan(a: np.ndarray, b: np.ndarray, dt) -> _Matmul:
    """numpy.matmul's rules: a 1-D a is a row (1, k) and a 1-D b a column (k, 1), that
    axis dropped from the result; the last two axes multiply; the batch axes before
    them broadcast."""
    if a.ndim == 0 or b.ndim == 0:
        raise TuinnError(f"matmul: {a.shape} @ {b.shape}: operands must be arrays, "
                         "not scalars", hint="use * for a scalar factor")
    a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a       # (..., n, k)
    b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b       # (..., k, m)
    (n, k_a), (k_b, m) = a2.shape[-2:], b2.shape[-2:]
    if k_a != k_b:
        raise TuinnError(f"matmul: {a.shape} @ {b.shape}: inner sizes {k_a} and {k_b} differ")
    try:
        batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    except ValueError:
        raise TuinnError(f"matmul: {a.shape} @ {b.shape}: batch axes {a2.shape[:-2]} and "
                         f"{b2.shape[:-2]} cannot be broadcast together",
                         hint="aligned from the right, each pair of sizes must be equal "
                              "or 1") from None
    out_shape = batch + ((n,) if a.ndim > 1 else ()) + ((m,) if b.ndim > 1 else ())
    return _Matmul(_stacked(a2, dt), _stacked(b2, dt),
                   _batch_index(a2.shape[:-2], batch), _batch_index(b2.shape[:-2], batch),
                   n, m, out_shape)


def _output(op, arrays, out, const, dt) -> np.ndarray:
    """The gate's output: `out` when given (checked), else recomputed."""
    if out is None:
        return forward(op, arrays, const)
    out = np.asarray(out, dtype=dt)
    expected = _out_shape(op, arrays)
    if out.shape != expected:
        raise TuinnError(f"{op}: output has shape {out.shape}, expected {expected}")
    return out


def _out_shape(op: str, arrays: list[np.ndarray]) -> tuple[int, ...]:
    if op == "matmul":
        return _matmul_plan(*arrays, arrays[0].dtype).out_shape
    if op in REDUCTIONS:
        return ()
    if len(arrays) == 2:
        try:
            return np.broadcast_shapes(arrays[0].shape, arrays[1].shape)
        except ValueError:
            raise _shape_error(op, arrays[0].shape, arrays[1].shape) from None
    return arrays[0].shape


def _upstream(op: str, upstream, shape: tuple[int, ...], dt) -> np.ndarray:
    """The upstream gradient as an array of the output's shape."""
    up = np.asarray(upstream, dtype=dt)
    if up.shape != shape:
        try:
            up = np.broadcast_to(up, shape)
        except ValueError:
            raise TuinnError(f"{op}: upstream gradient has shape {up.shape}, "
                             f"but the output has shape {shape}") from None
    return _contig(up)
