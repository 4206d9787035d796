"""Cold start (tuinn/engine/jit.py, warmup.py): kernels run uncompiled (their py_func,
or a tested stand-in) while they compile, and give the compiled kernels' numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_bulk import epoch_kernel_args
from test_convbulk import conv_epoch_kernel_args
from test_recbulk import lstm_epoch_kernel_args
from uncompiled_run import bundled, record

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def uncompiled_records(tmp_path_factory):
    """Every bundled scenario's first iteration and one run-mode iteration, recorded in
    a fresh process with an empty Numba cache and compilation withheld."""
    tmp = tmp_path_factory.mktemp("uncompiled")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / "cache"), OPENBLAS_NUM_THREADS="1")
    out = tmp / "records.npz"
    subprocess.run([sys.executable, str(HERE / "uncompiled_run.py"), str(out)], env=env,
                   check=True, timeout=300, cwd=HERE.parent)
    with np.load(out) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads(Path(str(out) + ".json").read_text())


def test_with_compilation_withheld_every_bundled_scenario_steps_its_first_iteration(
        uncompiled_records):
    arrays, info = uncompiled_records
    assert info["compiled"] == []                     # not one kernel compiled
    names = bundled()
    assert len(names) > 30
    for name in names:                                # every step of every scenario ran
        assert any(k.startswith(f"{name}/0/") for k in arrays), name
    assert sum(info["uncompiled"].values()) > 1000
    for kern in ("lstm_forward_kernel", "gru_forward_kernel", "conv2d_forward_kernel",
                 "attention_forward", "adam_step", "softmax_ce"):
        assert info["uncompiled"].get(kern), kern


def test_uncompiled_numbers_equal_the_compiled_kernels(uncompiled_records):
    """The same scenarios, stepped here with compiled kernels: every value and gradient
    of every step, and the parameters after a run-mode iteration, bit for bit."""
    arrays, _ = uncompiled_records
    compiled: dict[str, np.ndarray] = {}
    for name in bundled():
        compiled.update(record(name))
    assert compiled.keys() == arrays.keys()
    differ = [k for k in compiled
              if not np.array_equal(compiled[k], arrays[k], equal_nan=True)]
    assert differ == [], {k: float(np.nanmax(np.abs(compiled[k] - arrays[k]))) for k in differ[:10]}


# ------------------------------------------------------------------ kernel by kernel
def _vec(rng, n=23):
    """Values with the awkward cases: ties, zeros, negatives, a NaN and infinities."""
    v = rng.standard_normal(n) * 3
    v[:6] = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf]
    v[6] = -np.inf
    return v


def _generic_args(fn, rng):
    """Arguments for the graph kernels, known by their parameter names."""
    import inspect
    names = tuple(inspect.signature(fn.py_func).parameters)
    a, b = _vec(rng), _vec(rng)
    b[:4] = a[:4]                                     # ties
    return {("a", "b", "out"): lambda: (a, b, np.zeros_like(a)),
            ("a", "b", "da", "db"): lambda: (a, b, np.zeros_like(a), np.zeros_like(a)),
            ("x", "c", "out"): lambda: (a, 0.5, np.zeros_like(a)),
            ("x", "y", "c", "d"): lambda: (a, b, 0.5, np.zeros_like(a)),
            }.get(names, lambda: None)()


def _explicit(rng):
    """name -> a maker of fresh arguments, for the kernels no bundled scenario's first
    iteration calls."""
    f = rng.standard_normal
    counts = np.array([0, 5, 12], dtype=np.int64)
    return {
        "leaky_relu_forward": lambda: (f((4, 5)), 0.1, np.zeros((4, 5)), np.zeros((4, 5))),
        "add_scaled": lambda: (f((3, 4)), f((3, 4)), 0.02),
        "softmax_rows": lambda: (f((4, 6)) * 30, np.zeros((4, 6))),
        "batchnorm_forward_eval": lambda: (f((4, 3, 5)), f(3), f(3), 1e-5, f(3),
                                           np.abs(f(3)) + 0.1, np.zeros((4, 3, 5)),
                                           np.zeros((4, 3, 5)), np.zeros(3)),
        "count_correct_classes": lambda: (f((9, 4)), rng.integers(0, 4, 9)),
        "count_correct_binary": lambda: (f(9), rng.integers(0, 2, 9).astype(float)),
        "seqpool_forward": lambda: (f((3, 5, 4)), 1, np.zeros((3, 4)),
                                    np.zeros((3, 4), dtype=np.int64)),
        "seqpool_backward": lambda: (f((3, 4)), 1, rng.integers(0, 5, (3, 4)),
                                     np.zeros((3, 5, 4))),
        "adam_step_packed": lambda: (f(12), f(12), f(12) * 0.1, np.abs(f(12)), 0.01, 0.9,
                                     0.999, 1e-8, np.array([1, 3], dtype=np.int64), counts),
        "relu_maxpool_forward": lambda: (f((2, 3, 6, 6)), 2, 2, np.zeros((2, 3, 6, 6)),
                                         np.zeros((2, 3, 6, 6)), np.zeros((2, 3, 3, 3)),
                                         np.zeros((2, 3, 3, 3), dtype=np.int64)),
        "sgd_step_finite": lambda: (f(12), f(12), 0.1),
        "epoch_classes": lambda: epoch_kernel_args("softmax_ce", "adam"),
        "epoch_values": lambda: epoch_kernel_args("bce", "momentum"),
        "epoch_conv_classes": lambda: conv_epoch_kernel_args("momentum"),
        "epoch_lstm_classes": lambda: lstm_epoch_kernel_args("hinge", "rmsprop"),
        "epoch_lstm_values": lambda: lstm_epoch_kernel_args("bce", "adam"),
        "optimizer_step_finite": lambda: (3, np.array([0.01, 0.9, 0.99, 0.9, 0.999, 1e-8]),
                                          f(12), f(12), f(12) * 0.1, np.abs(f(12)),
                                          np.array([1, 3], dtype=np.int64), counts),
        "keep_start": lambda: (1, f(5), f(5), f(5), np.array([2, 3], dtype=np.int64),
                               np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((2, 0)),
                               np.zeros((2, 2), dtype=np.int64)),
        "maxpool_relu_backward": lambda: (f((2, 3, 3, 3)), rng.integers(0, 36, (2, 3, 3, 3)),
                                          (f((2, 3, 6, 6)) > 0).astype(float),
                                          np.zeros((2, 3, 6, 6)), np.zeros((2, 3, 6, 6))),
        "relu_back_at_winners": lambda: (f(18), rng.integers(0, 36, 18), f(18), 9, 9,
                                         np.zeros(72), np.zeros(72), 36, 36),
    }


def _kernels():
    import importlib
    import pkgutil

    import tuinn.engine.kernels as package
    from tuinn.engine import jit
    for mod in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"tuinn.engine.kernels.{mod.name}")
    return [k for k in jit.KERNELS if k.py_func.__module__.startswith("tuinn.")]


#: NumPy's own scalar exp, log, tanh and power (uncompiled) may differ from libm's
#: (compiled) in the last bit (two ulp at most here); every other kernel, bit for bit
LAST_BIT = {"exp_fwd", "log_fwd", "tanh_fwd", "powc_fwd", "powc_local", "sigmoid_fwd"}


def _same(name, got, want):
    if want is None:
        assert got is None, name
    elif isinstance(want, np.ndarray) and name in LAST_BIT:
        np.testing.assert_allclose(got, want, rtol=4.5e-16, atol=0, equal_nan=True)
    else:
        assert np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True), name


def _direct_cases():
    rng = np.random.default_rng(0)
    explicit = _explicit(rng)
    for disp in _kernels():
        name = disp.py_func.__name__
        make = explicit.get(name) or (lambda d=disp: _generic_args(d, rng))
        if make() is not None:
            yield name, disp, make


def test_kernels_no_scenario_calls_give_the_same_numbers_uncompiled():
    """Each kernel the bundled scenarios leave out (and the graph kernels, all of
    them), called compiled and as it runs uncompiled, on the same fresh arguments."""
    import copy
    seen = []
    for name, disp, make in _direct_cases():
        args = make()
        a1, a2 = copy.deepcopy(args), copy.deepcopy(args)
        want = disp(*a1)
        with np.errstate(all="ignore"):
            got = disp.uncompiled(*a2)
        _same(name, got, want)
        for x, y in zip(a2, a1):
            if isinstance(y, np.ndarray):
                _same(name, x, y)
        seen.append(name)
    assert {"add_fwd", "exp_local", "min_local", "softmax_rows", "adam_step_packed"} <= set(seen)


def test_every_kernel_is_compared_uncompiled(uncompiled_records):
    """No kernel escapes the comparison: each is called by a bundled scenario's first
    iteration (the records above) or in the kernel-by-kernel test."""
    _, info = uncompiled_records
    direct = {disp.py_func.__qualname__ for _, disp, _ in _direct_cases()}
    left = sorted({d.py_func.__qualname__ for d in _kernels()}
                  - set(info["uncompiled"]) - direct)
    assert left == [], left
