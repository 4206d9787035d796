"""Provides `kernel`, the one place the project's Numba flags are set.

cache=True so later runs load compiled code from disk; nogil=True so a worker
thread running a kernel never freezes the UI. Never fastmath: a debugger must see NaN;
error_model="numpy" so x / 0 gives inf or nan as in NumPy instead of raising.
"""

from numba import njit

JIT_FLAGS = dict(cache=True, nogil=True, error_model="numpy")


def kernel(fn):
    """Compile `fn` with the project's flags."""
    return njit(**JIT_FLAGS)(fn)
