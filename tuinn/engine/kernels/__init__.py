"""Provides the Numba kernels, one module per family."""
