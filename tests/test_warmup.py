"""The cold-start switch (tuinn/engine/jit.py) and the background compile
(tuinn/engine/warmup.py): steps run uncompiled until each kernel's compile is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tuinn.engine import jit

HERE = Path(__file__).resolve().parent


def test_uncompiled_runs_py_func_and_a_compiling_thread_switches_it_to_compiled():
    @jit.kernel
    def twice_plus(x, out):
        for i in range(x.size):
            out[i] = 2.0 * x[i] + 1.0

    x, out = np.arange(4.0), np.zeros(4)
    name = twice_plus.py_func.__qualname__
    with jit.uncompiled():
        assert jit.is_uncompiled()
        twice_plus(x, out)
        assert out.tolist() == [1.0, 3.0, 5.0, 7.0]
        assert twice_plus.signatures == [] and jit.UNCOMPILED_CALLS[name] == 1
        done = threading.Event()

        def warm():
            with jit.compiling():
                twice_plus(x, np.zeros(4))            # this thread compiles
            done.set()
        threading.Thread(target=warm).start()
        assert done.wait(120)
        assert len(twice_plus.signatures) == 1
        out[:] = 0
        twice_plus(x, out)                             # compiled now: no py_func call
        assert out.tolist() == [1.0, 3.0, 5.0, 7.0] and jit.UNCOMPILED_CALLS[name] == 1
    assert not jit.is_uncompiled()


def test_a_kernel_whose_python_arithmetic_raises_is_compiled_then_and_there():
    """math.exp(1000) raises OverflowError in Python and is inf compiled: uncompiled, the
    kernel compiles on the spot and gives the compiled answer."""
    import math

    @jit.kernel
    def exp_first(x, out):
        out[0] = math.exp(x[0])

    out = np.zeros(1)
    with jit.uncompiled():
        exp_first(np.array([1000.0]), out)
    assert out[0] == np.inf and len(exp_first.signatures) == 1


def _recurrent_args(kind, dtype, rng, N=3, T=4, I=5, H=6):
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind] * H
    f = lambda *shape: rng.standard_normal(shape).astype(dtype)       # noqa: E731
    z = lambda *shape: np.zeros(shape, dtype)                          # noqa: E731
    x, Wx, Wh = f(N, T, I), f(I, G), f(H, G) * 0.5
    common = (x, Wx, Wh)
    if kind == "rnn":
        return common + (f(G), z(T, N, I), z(T, N, G), z(N, G), z(T + 1, N, H))
    if kind == "lstm":
        return common + (f(G), z(T, N, I), z(T, N, G), z(N, G), z(T, N, G),
                         z(T + 1, N, H), z(T + 1, N, H), z(T, N, H))
    return common + (f(G), f(G), z(T, N, I), z(T, N, G), z(N, G), z(T, N, G), z(T, N, H),
                     z(T + 1, N, H))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_stand_ins_equal_the_kernel_and_its_py_func_bit_for_bit(kind, dtype):
    """The whole-array stand-ins (kernels/recurrent_np.py) and the kernel's own py_func
    give the compiled kernel's every value, in float64 and float32."""
    from tuinn.engine.kernels import recurrent as R
    disp = getattr(R, f"{kind}_forward_kernel")
    assert disp.uncompiled is not disp.py_func               # a stand-in is registered
    args = _recurrent_args(kind, dtype, np.random.default_rng(1))
    runs = []
    for fn in (disp, disp.uncompiled, disp.py_func):
        a = [v.copy() for v in args]
        with np.errstate(all="ignore"):
            fn(*a)
        runs.append(a)
    for got in runs[1:]:
        for g, w in zip(got, runs[0]):
            assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)


SCRIPT = """
import json, sys
from tuinn.engine import jit
from tuinn.engine.build import build_session
from tuinn.engine.warmup import Warmup
from tuinn.scenario.loader import load_scenario
spec = load_scenario(sys.argv[1])
s = build_session(spec)
events = []
w = Warmup(spec, lambda i, n, what: events.append([i, n, what]),
           lambda: events.append("done")).start()
s.run_to_end()                                   # at once: uncompiled
early = sum(jit.UNCOMPILED_CALLS.values())
was_done = w.done.is_set()
assert w.wait(300)
s.restart()
s.run_to_end()                                   # compiled now
print(json.dumps({"early": early, "was_done": was_done, "error": repr(w.error),
                  "after": sum(jit.UNCOMPILED_CALLS.values()), "events": events,
                  "titles": [st.title for st in s.steps], "on": jit.is_uncompiled(),
                  "uncompiled_kernels": [k.py_func.__qualname__ for k in jit.KERNELS
                                         if k.py_func.__qualname__ in jit.UNCOMPILED_CALLS
                                         and not k.signatures]}))
"""


def test_warmup_compiles_behind_a_session_that_steps_at_once(tmp_path):
    """A fresh process, an empty Numba cache: the session steps through its whole pass
    at once, uncompiled, while the warm-up compiles; afterwards every kernel it met is
    compiled and the same pass runs with no uncompiled call."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT,
                          str(HERE.parent / "scenarios" / "sigmoid-neuron.toml")],
                         env=env, capture_output=True, text=True, timeout=600, cwd=HERE.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["error"] == "None" and not r["was_done"] and r["early"] > 0
    assert r["after"] == r["early"] and not r["on"] and r["uncompiled_kernels"] == []
    assert r["events"][-1] == "done"
    assert [e[2] for e in r["events"][:-1]] == r["titles"]              # in program order
    assert [e[0] for e in r["events"][:-1]] == list(range(len(r["titles"])))


def test_a_bulk_command_waits_for_the_compile_and_the_warmup_does_not_wait_for_it():
    """Controller.submit(compiled=True) runs after `compiled` is set; while it waits,
    the engine does not count as stepping (the warm-up would give way to it forever)."""
    from tuinn.engine.run.controller import Controller
    ran, events = [], []
    ctl = Controller(object(), events.append)
    try:
        ctl.compiled.clear()
        ctl.submit(lambda s: ran.append("bulk"), "bulk", compiled=True)
        deadline = time.monotonic() + 10
        while not ctl.waiting_for_compile and time.monotonic() < deadline:
            pass
        assert ctl.waiting_for_compile and ran == [] and not ctl.stepping()
        ctl.compiled.set()
        assert ctl.wait_idle(10)
        assert ran == ["bulk"] and events == ["bulk"] and not ctl.waiting_for_compile
        ctl.submit(lambda s: time.sleep(0.3))
        time.sleep(0.1)
        assert ctl.stepping()                          # a plain command: the warm-up waits
        assert ctl.wait_idle(10)
    finally:
        ctl.stop()


def test_wide_vectors_on_avx512_only_unless_numba_is_told_otherwise():
    from tuinn.engine.jit import prefer_wide_vectors
    import llvmlite.binding as ll
    env = {}
    got = prefer_wide_vectors(env)
    if ll.get_host_cpu_features().get("avx512f"):
        assert got.endswith(",-prefer-256-bit") and env["NUMBA_CPU_FEATURES"] == got
    else:
        assert got is None and env == {}
    for mine in ({"NUMBA_CPU_FEATURES": "+sse2"}, {"NUMBA_CPU_NAME": "generic"}):
        env = dict(mine)
        assert prefer_wide_vectors(env) is None and env == mine      # the user's wins
