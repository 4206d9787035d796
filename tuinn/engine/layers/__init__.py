"""Provides the network layers and their registry (`LAYERS`, `build_layer`).

Each layer family lives in its own module and registers itself with `register`.
"""

from tuinn.engine.layers.base import LAYERS, Layer, build_layer, register

__all__ = ["LAYERS", "Layer", "build_layer", "register"]

# Importing the family modules registers their layer types.
from tuinn.engine.layers import conv, dense, elementwise, recurrent, residual  # noqa: E402,F401
from tuinn.engine.layers import embed, gelu, norm, seqpool  # noqa: E402,F401
from tuinn.engine.layers import attention  # noqa: E402,F401
