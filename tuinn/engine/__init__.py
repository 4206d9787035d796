"""Provides the UI-free engine: kernels, programs, tapes, sessions."""
