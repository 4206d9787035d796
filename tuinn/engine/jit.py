"""Provides `kernel`, the one place the project's Numba flags are set.

cache=True so later runs load compiled code from disk; nogil=True so a worker
thread running a kernel never freezes the UI. Never fastmath: a debugger must see NaN.
"""

from numba import njit

JIT_FLAGS = dict(cache=True, nogil=True)


def kernel(fn):
    """Compile `fn` with the project's flags."""
    return njit(**JIT_FLAGS)(fn)
