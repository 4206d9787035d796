"""Provides `permutation`: np.random.default_rng(seed).permutation(n), the same order, drawn
in a kernel.

NetworkProgram.batch_rows draws each epoch's order as
`np.random.default_rng([seed, 1, epoch]).permutation(n)`: ~75 us for W1's 6,400 rows, about
a tenth of the epoch's training. NumPy spends it in its generic shuffle, which calls
PCG64 through a function pointer for every draw. `shuffle_arange` runs the same
algorithm (numpy/random/_generator.pyx `_shuffle_raw`, Fisher-Yates from the last row
down, each partner drawn by distributions.c `random_interval`: a masked rejection draw,
from 32-bit halves of the 64-bit outputs while the bound fits 32 bits) on the same
PCG64 (pcg64.h: the 128-bit LCG step, then the XSL-RR output; `next_uint32` hands out
the low half and keeps the high half for the next call), with the 128-bit product done
by LLVM (`_lcg`). The generator's state comes from NumPy (seeding stays NumPy's) and
goes back to it, so the order is NumPy's, bit for bit (tests/test_shuffle.py, many
seeds and sizes). Uncompiled (tuinn/engine/jit.py) it is NumPy's shuffle itself.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from tuinn.engine.jit import kernel, stand_in

_M64 = (1 << 64) - 1
#: PCG64's multiplier (pcg64.h PCG_DEFAULT_MULTIPLIER_128), high and low halves
_MUL_HI, _MUL_LO = 2549297995355413924, 4865540595714422341


def _lcg(sh, sl, ih, il):
    """(state * multiplier + inc) mod 2**128 as (high, low) uint64 halves."""
    s = (((int(sh) << 64) | int(sl)) * ((_MUL_HI << 64) | _MUL_LO)
         + ((int(ih) << 64) | int(il))) & ((1 << 128) - 1)
    return np.uint64(s >> 64), np.uint64(s & _M64)


@intrinsic
def _lcg_ir(typingctx, sh, sl, ih, il):
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64)

    def codegen(context, builder, sig, args):
        i128 = ir.IntType(128)
        sixty4 = ir.Constant(i128, 64)

        def join(hi, lo):
            return builder.or_(builder.shl(builder.zext(hi, i128), sixty4),
                               builder.zext(lo, i128))
        mul = ir.Constant(i128, (_MUL_HI << 64) | _MUL_LO)
        s = builder.add(builder.mul(join(args[0], args[1]), mul), join(args[2], args[3]))
        i64 = ir.IntType(64)
        hi = builder.trunc(builder.lshr(s, sixty4), i64)
        lo = builder.trunc(s, i64)
        return context.make_tuple(builder, sig.return_type, (hi, lo))
    return sig, codegen


@overload(_lcg, inline="always")
def _ov_lcg(sh, sl, ih, il):
    def impl(sh, sl, ih, il):
        return _lcg_ir(sh, sl, ih, il)
    return impl


@kernel
def shuffle_arange(st, out):
    """out = a permutation of 0 .. out.size - 1, as NumPy's Generator.permutation(out.size)
    draws it from the PCG64 state st (uint64 (6,): state high, low, inc high, low,
    has_uint32, uinteger), which is left as NumPy's shuffle leaves it."""
    n = out.size
    for i in range(n):
        out[i] = i
    sh, sl, ih, il, has, buf = st[0], st[1], st[2], st[3], st[4], st[5]
    zero, one, low = np.uint64(0), np.uint64(1), np.uint64(0xFFFFFFFF)
    s32, s58, s63 = np.uint64(32), np.uint64(58), np.uint64(63)
    for i in range(n - 1, 0, -1):
        top = np.uint64(i)
        mask = top                                   # the smallest 2**b - 1 >= top
        mask |= mask >> one
        mask |= mask >> np.uint64(2)
        mask |= mask >> np.uint64(4)
        mask |= mask >> np.uint64(8)
        mask |= mask >> np.uint64(16)
        mask |= mask >> s32
        while True:
            if top <= low and has != zero:           # next_uint32: the kept half
                has = zero
                v = buf & mask
            else:
                sh, sl = _lcg(sh, sl, ih, il)        # pcg64_random_r: step, XSL-RR
                x = sh ^ sl
                rot = sh >> s58
                r = (x >> rot) | (x << ((np.uint64(64) - rot) & s63))
                if top <= low:
                    has = one
                    buf = r >> s32
                    v = (r & low) & mask
                else:
                    v = r & mask                     # next_uint64 (bounds past 2**32)
            if v <= top:
                break
        j = np.intp(v)
        t = out[j]
        out[j] = out[i]
        out[i] = t
    st[0], st[1], st[4], st[5] = sh, sl, has, buf


@stand_in(shuffle_arange)
def _shuffle_numpy(st, out):
    bg = np.random.PCG64()
    bg.state = _state_dict(st)
    out[...] = np.random.Generator(bg).permutation(out.size)
    st[...] = _state_array(bg.state)


def _state_array(state: dict) -> np.ndarray:
    s, inc = state["state"]["state"], state["state"]["inc"]
    return np.array([s >> 64, s & _M64, inc >> 64, inc & _M64, state["has_uint32"],
                     state["uinteger"]], dtype=np.uint64)


def _state_dict(st: np.ndarray) -> dict:
    return {"bit_generator": "PCG64",
            "state": {"state": (int(st[0]) << 64) | int(st[1]),
                      "inc": (int(st[2]) << 64) | int(st[3])},
            "has_uint32": int(st[4]), "uinteger": int(st[5])}


def permutation(seed, n: int) -> np.ndarray:
    """np.random.default_rng(seed).permutation(n), the same int64 array."""
    st = _state_array(np.random.PCG64(seed).state)
    out = np.empty(n, np.int64)
    shuffle_arange(st, out)
    return out
