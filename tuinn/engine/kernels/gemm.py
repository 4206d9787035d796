"""Provides `mm`: a matrix product on flat buffers at offsets, the very BLAS call np.dot
makes in a kernel, without making array views.

`tuinn train`'s epoch kernels (kernels/flatchain.py) keep every activation, parameter
and gradient in flat buffers. Cutting a (rows, cols) view out of one for np.dot costs a
slice, a reshape (a helper call) and the atomic reference counts of each view and
argument: ~20% of a W1 iteration (a 2-16-16-3 MLP). `mm` takes the flat buffers and
offsets instead and calls Numba's own BLAS wrappers (numba_xxgemm, numba_xxgemv,
numba_xxdot: SciPy's OpenBLAS) as numba.np.linalg's np.dot(x, y, out) calls them for
C-ordered x, y and out, or a transposed one (x.T of a C array: 'F' order): the same
routine (a dot when both operands are vectors, a gemv when one is, else a gemm), with
the same transposition flags and leading dimensions, so the numbers are those np.dot
gives in the layer kernels (kernels/dense.py), bit for bit (tests/test_flatchain.py).
All in one intrinsic: one call in one basic block wherever mm is used, so Numba's
reference-count pruning leaves no increments there. Uncompiled (tuinn/engine/jit.py)
it is np.dot on the views (NumPy's BLAS: within float rounding).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload


def mm(tx, ty, m, k, n, X, xo, Y, yo, C, co):
    """C[co:co + m n] as (m, n) = x @ y, where x = X[xo:xo + m k] as (m, k), or with tx
    the transpose of it as (k, m); y = Y[yo:yo + k n] as (k, n), or with ty the
    transpose of it as (n, k). X, Y, C flat, of one dtype."""
    x = X[xo:xo + m * k].reshape(k, m).T if tx else X[xo:xo + m * k].reshape(m, k)
    y = Y[yo:yo + k * n].reshape(n, k).T if ty else Y[yo:yo + k * n].reshape(k, n)
    np.dot(x, y, C[co:co + m * n].reshape(m, n))


def _ptr(context, builder, sig, args, i, o):
    """args[i] (a flat array) + args[o] elements, as a void pointer."""
    arr = context.make_array(sig.args[i])(context, builder, args[i])
    offset = context.cast(builder, args[o], sig.args[o], types.intp)
    return builder.bitcast(builder.gep(arr.data, [offset]), ir.IntType(8).as_pointer())


def _blas_call(context, builder, name, dtype, argtys, values):
    """Call Numba's BLAS wrapper `name` (numba_xxgemm ...); (kind, ...) first."""
    i8 = ir.IntType(8)
    kind = ir.Constant(i8, ord("d" if dtype == types.float64 else "s"))
    fnty = ir.FunctionType(ir.IntType(32), [i8] + argtys)
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    return builder.call(fn, [kind] + list(values))


def _typed(X, Y, C):
    from numba.np.linalg import ensure_blas
    ensure_blas()
    return (isinstance(X, types.Array) and X.ndim == Y.ndim == C.ndim == 1
            and X.dtype == Y.dtype == C.dtype and X.dtype in (types.float64, types.float32))


def _consts(context, builder, dtype):
    i8p = ir.IntType(8).as_pointer()
    return tuple(builder.bitcast(cgutils.alloca_once_value(
        builder, context.get_constant(dtype, v)), i8p) for v in (1.0, 0.0))


@intrinsic
def _mm_ir(typingctx, tx, ty, m, k, n, X, xo, Y, yo, C, co):
    """mm in one piece of IR (one call, one basic block where it is called: no
    reference counting of X, Y, C), with numba.np.linalg.dot_3_mm's choice: a (1, k) or
    (k, 1) operand is a vector, and then a dot or a gemv (with dot_3_mm's transposition
    and leading dimension) instead of the gemm."""
    if not _typed(X, Y, C):
        return None
    sig = types.none(tx, ty, m, k, n, X, xo, Y, yo, C, co)

    def codegen(context, builder, sig, args):
        intp, i8, i8p = cgutils.intp_t, ir.IntType(8), ir.IntType(8).as_pointer()
        tx_, ty_, m_, k_, n_ = (context.cast(builder, v, t, types.intp)
                                for v, t in zip(args[:5], sig.args[:5]))
        dtype = sig.args[5].dtype
        zero, one = ir.Constant(intp, 0), ir.Constant(intp, 1)
        xt = builder.icmp_signed("!=", tx_, zero)
        yt = builder.icmp_signed("!=", ty_, zero)
        t_, n_c = ir.Constant(i8, ord("t")), ir.Constant(i8, ord("n"))
        px = _ptr(context, builder, sig, args, 5, 6)
        py = _ptr(context, builder, sig, args, 7, 8)
        pc = _ptr(context, builder, sig, args, 9, 10)
        alpha, beta = _consts(context, builder, dtype)
        gemv = [i8, intp, intp, i8p, i8p, intp, i8p, i8p, i8p]
        sel = builder.select
        with builder.if_else(builder.icmp_signed("==", n_, one)) as (col, wide):
            with col:
                with builder.if_else(builder.icmp_signed("==", m_, one)) as (dot, mv):
                    with dot:
                        _blas_call(context, builder, "numba_xxdot", dtype,
                                   [i8, intp, i8p, i8p, i8p],
                                   (ir.Constant(i8, 0), k_, px, py, pc))
                    with mv:                          # matrix x times vector y
                        _blas_call(context, builder, "numba_xxgemv", dtype, gemv,
                                   (sel(xt, n_c, t_), sel(xt, m_, k_), sel(xt, k_, m_),
                                    alpha, px, sel(xt, m_, k_), py, beta, pc))
            with wide:
                with builder.if_else(builder.icmp_signed("==", m_, one)) as (vm, mat):
                    with vm:                          # vector x times matrix y
                        _blas_call(context, builder, "numba_xxgemv", dtype, gemv,
                                   (sel(yt, t_, n_c), sel(yt, k_, n_), sel(yt, n_, k_),
                                    alpha, py, sel(yt, k_, n_), px, beta, pc))
                    with mat:
                        _blas_call(context, builder, "numba_xxgemm", dtype,
                                   [i8, i8, intp, intp, intp, i8p, i8p, intp, i8p, intp,
                                    i8p, i8p, intp],
                                   (sel(yt, t_, n_c), sel(xt, t_, n_c), n_, m_, k_, alpha,
                                    py, sel(yt, k_, n_), px, sel(xt, m_, k_), beta, pc, n_))
        return context.get_dummy_value()
    return sig, codegen


@overload(mm)
def _ov_mm(tx, ty, m, k, n, X, xo, Y, yo, C, co):
    def impl(tx, ty, m, k, n, X, xo, Y, yo, C, co):
        _mm_ir(tx, ty, m, k, n, X, xo, Y, yo, C, co)
    return impl
