"""Provides `kernel`, the one place the project's Numba flags are set, and the switch
that runs a kernel uncompiled while it compiles.

cache=True so later runs load compiled code from disk; nogil=True so a worker
thread running a kernel never freezes the UI. Never fastmath: a debugger must see NaN;
error_model="numpy" so x / 0 gives inf or nan as in NumPy instead of raising.

Cold start (tuinn/engine/warmup.py): a kernel is a Numba dispatcher, whose `py_func`
is the same function as plain Python (the one source of truth for its arithmetic).
While `uncompiled()` is on, a call of a kernel that has no compiled code yet for its
argument types runs `py_func` instead of compiling there and then, except on a thread
inside `compiling()` (the warm-up thread), which compiles as usual. A compiled kernel
is called as always, with no cost added: the switch lives in the dispatcher's
`_compile_for_args`, which Numba calls only when it finds no compiled code.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import numpy as np


def prefer_wide_vectors(environ=os.environ) -> str | None:
    """On an AVX-512 machine, let LLVM vectorise 512 bits wide: its tuning for many
    Intel AVX-512 CPUs prefers 256-bit vectors, and here the wider ones ran the LSTM's
    gate loops 23-30% faster (W3 of benchmarks/bench_train.py ~5% end to end). The same
    arithmetic (no fastmath, so no reordering), only more lanes. Set before Numba
    compiles anything; the cache keys compiled code by the CPU features, so none built
    for other ones is reused. A NUMBA_CPU_NAME or NUMBA_CPU_FEATURES already set wins.
    Returns the features set, or None."""
    if environ.get("NUMBA_CPU_FEATURES") or environ.get("NUMBA_CPU_NAME"):
        return None
    try:
        import llvmlite.binding as ll
        features = ll.get_host_cpu_features()
    except Exception:                               # noqa: BLE001 - keep Numba's default
        return None
    if not features.get("avx512f"):
        return None
    environ["NUMBA_CPU_FEATURES"] = features.flatten() + ",-prefer-256-bit"
    return environ["NUMBA_CPU_FEATURES"]


prefer_wide_vectors()
from numba import njit  # noqa: E402  (after the CPU features are chosen)

JIT_FLAGS = dict(cache=True, nogil=True, error_model="numpy")

#: every kernel made by `kernel`, in the order they were made
KERNELS: list = []
_local = threading.local()
_lock = threading.Lock()
_uncompiled = 0                   # > 0: calls that would compile run py_func instead
#: name -> calls run uncompiled (what the tests and the cold-start figures read)
UNCOMPILED_CALLS: dict[str, int] = {}


def kernel(fn):
    """Compile `fn` with the project's flags (on its first call, or by the warm-up)."""
    disp = njit(**JIT_FLAGS)(fn)
    _switch(disp)
    KERNELS.append(disp)
    return disp


def _switch(disp) -> None:
    if not hasattr(disp, "_compile_for_args"):      # NUMBA_DISABLE_JIT=1: plain Python
        return
    compile_for_args = disp._compile_for_args
    disp.uncompiled = disp.py_func                 # or a stand-in (`stand_in`)
    name = disp.py_func.__qualname__

    class Uncompiled:
        """Numba calls what `_compile_for_args` returns; a class is called as a
        Python function would be, so this one runs py_func and returns its result."""

        def __new__(cls, *args, **kws):
            UNCOMPILED_CALLS[name] = UNCOMPILED_CALLS.get(name, 0) + 1
            try:
                with np.errstate(all="ignore"):    # as compiled: inf and nan, no warnings
                    return disp.uncompiled(*args, **kws)
            except (ArithmeticError, ValueError):
                # Python's math raises where compiled code gives inf or nan (math.exp of
                # 1000, math.log of 0): compile here and run that (the kernels that call
                # such math write outputs apart from their inputs: safe to run again)
                with compiling(None):
                    return disp(*args, **kws)

    def choose(*args, **kws):
        if _uncompiled and not getattr(_local, "compiling", False):
            return Uncompiled
        before = getattr(_local, "before_compile", None)
        if before is not None:
            before()
        return compile_for_args(*args, **kws)

    disp._compile_for_args = choose


def stand_in(disp):
    """Decorator: `fn` runs in place of `disp.py_func` when `disp` runs uncompiled.
    Only for a kernel whose py_func is too slow for a first step (a loop over every
    element of a big array): the same arithmetic on whole arrays, in the same order,
    and tested equal to the kernel (tests/test_uncompiled.py)."""
    def register(fn):
        disp.uncompiled = fn
        return fn
    return register


@contextmanager
def uncompiled():
    """While inside (on any thread), kernels without compiled code run uncompiled."""
    global _uncompiled
    with _lock:
        _uncompiled += 1
    try:
        yield
    finally:
        with _lock:
            _uncompiled -= 1


def start_uncompiled() -> None:
    """`uncompiled()` without a block: on until `stop_uncompiled()`."""
    global _uncompiled
    with _lock:
        _uncompiled += 1


def stop_uncompiled() -> None:
    global _uncompiled
    with _lock:
        _uncompiled = max(0, _uncompiled - 1)


def is_uncompiled() -> bool:
    """True while calls of kernels without compiled code run uncompiled."""
    return _uncompiled > 0


@contextmanager
def compiling(before_compile=None):
    """On this thread, kernels compile (or load from the cache) when first called,
    even while `uncompiled()` is on elsewhere; `before_compile()` is called before each
    kernel this thread compiles or loads (not for those compiled already)."""
    was = getattr(_local, "compiling", False), getattr(_local, "before_compile", None)
    _local.compiling, _local.before_compile = True, before_compile
    try:
        yield
    finally:
        _local.compiling, _local.before_compile = was
