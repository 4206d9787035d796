"""Run mode's fused conv -> relu -> maxpool gives bit for bit what the layers give one by one.

The fused path (tuinn/engine/run/fusedstack.py, tuinn/engine/kernels/fused.py) runs a
conv2d, relu, maxpool group (or relu, maxpool) as one kernel forward and backward; the plain path is the same program with the fusion switched off,
every layer's own forward and backward. After every iteration the losses, parameters,
gradients, optimizer state and every layer's cache must be the same bytes. The pooling
kernels (their 2x2 fast path and the general one) are checked against plain NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_fastpath import assert_same, state
from tuinn.engine.run import iteration as runmode
from tuinn.engine.run.fusedstack import CONV_RELU_POOL, RELU_POOL, FusedStack, groups
from tuinn.engine.kernels import pool as PK
from tuinn.engine.network import NetworkProgram
from tuinn.scenario.loader import load_text


def maxpool_reference(x, z, s):
    """y, argmax by NumPy: the first maximum in row-major order, the first NaN if any."""
    N, C, H, W = x.shape
    OH, OW = (H - z) // s + 1, (W - z) // s + 1
    y, arg = np.empty((N, C, OH, OW), x.dtype), np.empty((N, C, OH, OW), np.int64)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    win = x[n, c, oh * s:oh * s + z, ow * s:ow * s + z].reshape(-1)
                    k = int(np.argmax(win))                 # np.argmax: the first NaN
                    y[n, c, oh, ow] = win[k]
                    arg[n, c, oh, ow] = (oh * s + k // z) * W + ow * s + k % z
    return y, arg


@pytest.mark.parametrize("z,s,h,w", [(2, 2, 6, 6), (2, 2, 7, 5), (3, 1, 6, 7), (3, 3, 9, 7),
                                     (2, 1, 5, 5), (1, 1, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_maxpool_kernels_match_numpy(z, s, h, w, dtype):
    rng = np.random.default_rng(z * 100 + s * 10 + h)
    x = rng.integers(-3, 4, (2, 3, h, w)).astype(dtype)         # small ints: many ties
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 1, 0] = x[0, 1, 1, 1] = np.nan
    x[1, 2, 0, 0], x[1, 2, 0, 1] = np.inf, -np.inf            # inf - inf: no NaN here
    x[1, 0, 1, 1] = -np.inf
    y = np.empty((2, 3, (h - z) // s + 1, (w - z) // s + 1), dtype)
    arg = np.empty(y.shape, np.int64)
    PK.maxpool_forward_kernel(x, z, s, y, arg)
    ry, rarg = maxpool_reference(x, z, s)
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(arg, rarg)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = np.full(x.shape, 7.0, dtype)                            # zeroed by the kernel
    PK.maxpool_backward_kernel(dy, arg, dx)
    ref = np.zeros(x.shape, dtype)
    for idx in np.ndindex(*y.shape):
        n, c = idx[:2]
        ref[n, c, rarg[idx] // w, rarg[idx] % w] += dy[idx]
    assert np.array_equal(dx, ref)


LAYERS = {
    "conv-relu-pool": """
[[model.layers]]
type = "conv2d"
filters = 3
kernel = 3
padding = 1
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 2
""",
    "conv-stride-relu-pool3": """
[[model.layers]]
type = "conv2d"
filters = 2
kernel = 2
stride = 1
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 3
stride = 1
""",
    "two-groups": """
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 2
stride = 1
[[model.layers]]
type = "conv2d"
filters = 2
kernel = 3
padding = 1
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 2
""",
}


def scenario(layers: str, dtype="float64", optim="sgd", l2=0.0, side=7) -> str:
    return f"""[scenario]
name = "fused"
kind = "network"
seed = 4
dtype = "{dtype}"
[data]
generator = "bars"
samples = 45
[model]
input = [1, {side}, {side}]
{layers}
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dense"
units = 2
[loss]
type = "softmax_ce"
l2 = {l2}
[optimizer]
type = "{optim}"
lr = 0.1
[train]
batch_size = 16
[debug]
history = 5
"""


def build(text: str, fused: bool) -> NetworkProgram:
    prog = NetworkProgram(load_text(text, "fused.toml"))
    if not fused:
        prog._fused_stack = (prog.layers, None)        # every layer on its own
    return prog


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(LAYERS))
def test_fused_run_mode_is_bit_for_bit_the_layers(case, dtype):
    text = scenario(LAYERS[case], dtype, optim="adam" if case == "two-groups" else "sgd",
                    l2=0.01 if case == "conv-relu-pool" else 0.0,
                    side=6 if case == "two-groups" else 7)
    fused, plain = build(text, True), build(text, False)
    assert runmode.fused_stack(fused) is not None and runmode.fused_stack(plain) is None
    for _ in range(8):                              # a smaller last batch comes round too
        assert fused.train_iteration() == plain.train_iteration()
        assert_same(state(fused), state(plain))


def test_groups_found():
    prog = build(scenario(LAYERS["two-groups"], side=6), True)
    assert groups(prog.layers) == [(0, RELU_POOL), (2, CONV_RELU_POOL)]
    stack = FusedStack.build(prog.layers)
    assert stack.pools == {1: RELU_POOL, 4: CONV_RELU_POOL}
    plain = build(scenario('[[model.layers]]\ntype = "conv2d"\nfilters = 2\nkernel = 3\n'
                           '[[model.layers]]\ntype = "maxpool"\nsize = 2\n'), True)
    assert groups(plain.layers) == [] and runmode.fused_stack(plain) is None
