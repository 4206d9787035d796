"""Provides the recurrent forward kernels' stand-ins for a cold start: the same
arithmetic on whole (N, H) blocks per timestep, run while the kernels compile.

Uncompiled, a forward kernel's py_func calls sigmoid or tanh once per element, as
Python (a few microseconds each): seconds for the first step of `chars`. These do the
same operations in the same order on arrays (the gate functions are the kernels' own,
`_sigmoid`/`_tanh`, which take arrays as well as scalars; + and * are exactly rounded,
so every value is the kernel's, bit for bit: tests/test_uncompiled.py checks).
They are used only while the kernel has no compiled code (tuinn/engine/jit.py).
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.jit import stand_in
from tuinn.engine.kernels.recurrent import (_project, _sigmoid, _tanh, gru_forward_kernel,
                                            lstm_forward_kernel, rnn_forward_kernel)


@stand_in(rnn_forward_kernel)
def rnn_forward(x, Wx, Wh, b, xt, xp, rec, hs):
    T, N, H = xp.shape
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, H)
        hs[t + 1] = _tanh(xp[t] + rec + b)


@stand_in(lstm_forward_kernel)
def lstm_forward(x, Wx, Wh, b, xt, xp, rec, gates, cs, hs, tc):
    T, N, H4 = xp.shape
    H = H4 // 4
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    cs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, 4H)
        a, g = xp[t] + rec + b, gates[t]                              # (N, 4H)
        g[:, :2 * H] = _sigmoid(a[:, :2 * H])                         # i, f
        g[:, 2 * H:3 * H] = _tanh(a[:, 2 * H:3 * H])                  # g
        g[:, 3 * H:] = _sigmoid(a[:, 3 * H:])                         # o
        cs[t + 1] = g[:, H:2 * H] * cs[t] + g[:, :H] * g[:, 2 * H:3 * H]
        tc[t] = _tanh(cs[t + 1])
        hs[t + 1] = g[:, 3 * H:] * tc[t]


@stand_in(gru_forward_kernel)
def gru_forward(x, Wx, Wh, bx, bh, xt, xp, rec, gates, hn, hs):
    T, N, H3 = xp.shape
    H = H3 // 3
    one = x.dtype.type(1.0)
    _project(x, Wx, xt, xp)
    hs[0] = 0.0
    rec[:] = 0.0
    for t in range(T):
        if t > 0:
            np.dot(hs[t], Wh, rec)                                    # (N, 3H)
        a, r, g = xp[t], rec, gates[t]
        g[:, :2 * H] = _sigmoid(a[:, :2 * H] + bx[:2 * H] + r[:, :2 * H] + bh[:2 * H])  # r, z
        hn[t] = r[:, 2 * H:] + bh[2 * H:]                             # h Whn + bhn
        g[:, 2 * H:] = _tanh(a[:, 2 * H:] + bx[2 * H:] + g[:, :H] * hn[t])             # n
        z_ = g[:, H:2 * H]
        hs[t + 1] = (one - z_) * g[:, 2 * H:] + z_ * hs[t]
