"""`tuinn train`'s bulk path (many iterations in one kernel call) leaves what the
per-iteration path leaves, bit for bit.

The bulk path (tuinn/engine/run/bulk.py, the epoch kernels of tuinn/engine/kernels/chain.py)
runs a dense chain's iterations with plain SGD to the end of each epoch in one call; the
twin trains iteration by iteration (`train_iteration`, as before). Compared: the epochs'
results, every loss, parameter, gradient, cache, the last batch, the history and start
snapshots and the loss series' buckets; and a NaN in the middle of an epoch stops both
at the same iteration in the same state.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_fastpath import assert_same, scenario, state
from tuinn.engine.build import build_session
from tuinn.engine.kernels import dense as D
from tuinn.engine.kernels import flatchain as F
from tuinn.engine.lossseries import LossSeries
from tuinn.engine.run import bulk, training
from tuinn.engine.run.training import NonFinite, train
from tuinn.scenario.loader import load_text

LOSSES = ["softmax_ce", "hinge", "mse", "bce"]
OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]


def session(text: str):
    return build_session(load_text(text, "bulk.toml"))


def series(losses: LossSeries) -> dict:
    return {"ring": losses._ring.copy(), "stats": losses._stats.copy(),
            "count": losses._count.copy(), "n": np.array(losses._n),
            "width": np.array(losses.width)}


def optim_state(snap) -> dict:
    """A history snapshot's optimizer state, packed or per key, as arrays."""
    if snap is None:
        return {}
    if isinstance(snap, dict):
        return {k: {n: np.array(a) for n, a in st.items()} for k, st in snap.items()}
    return {"started": np.array(sorted(snap.started)), "v": snap.v, "t": snap.t,
            "m": np.array([]) if snap.m is None else snap.m}


def everything(s) -> dict:
    prog = s.program
    out = state(prog)
    out["series"] = series(prog.losses)
    out["history"] = {f"{i}": {"iteration": np.array(h.iteration),
                               "params": {k: np.array(v) for k, v in dict(h.params).items()},
                               "optim": optim_state(h.optim)}
                      for i, h in enumerate(prog.history)}
    out["start_optim"] = optim_state(prog.start.optim)
    out["start_iteration"] = np.array(prog.start.iteration)
    out["last_batch"] = {"out": np.array(prog.last_batch[0]),
                         "target": np.array(prog.last_batch[1])}
    return out


def both(text: str, epochs: int, before: int = 0, **kw):
    """(bulk session, its results, one-by-one session, its results)."""
    fast, slow = session(text), session(text)
    for _ in range(before):                     # start mid-epoch
        assert fast.program.train_iteration() == slow.program.train_iteration()
    calls = []
    real = training.run_chunk
    training.run_chunk = lambda prog, left: calls.append(left) or real(prog, left)
    try:
        got = list(train(fast, epochs, **kw))
    finally:
        training.run_chunk = real
    assert calls, "the bulk path did not run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "bulk_supported", lambda prog: False)
        want = list(train(slow, epochs, **kw))
    return fast, got, slow, want


def same_results(got, want) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert (a.epoch, a.iteration, a.loss, a.val_loss, a.accuracy, a.val_accuracy) == \
            (b.epoch, b.iteration, b.loss, b.val_loss, b.accuracy, b.val_accuracy)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("acts,lead,optim", [(["relu", "tanh", "leaky_relu"], None, "sgd"),
                                             (["sigmoid", "leaky_relu", "relu"], "tanh", "sgd"),
                                             (["tanh", "relu", "sigmoid"], None, "momentum"),
                                             (["leaky_relu", "sigmoid", "tanh"], "relu", "adam"),
                                             (["relu", "relu", "tanh"], None, "rmsprop")])
def test_bulk_epochs_equal_iteration_by_iteration(loss, dtype, acts, lead, optim):
    # 70 samples in batches of 16: four of 16 and a last one of 6, each epoch
    text = scenario([6, 5, 4], acts, loss, optim, dtype, batch=16, lead=lead)
    fast, got, slow, want = both(text, 4)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


@pytest.mark.parametrize("optim", ["sgd", "adam"])
@pytest.mark.parametrize("history", [0, 1, 200])
@pytest.mark.parametrize("before", [0, 1, 3, 4])
def test_bulk_from_mid_epoch_and_any_history(history, before, optim, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", 1)           # single iterations in bulk too
    text = scenario([7], ["tanh"], "softmax_ce", optim, batch=16, history=history)
    fast, got, slow, want = both(text, 3, before=before)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


@pytest.mark.parametrize("min_chunk", [1, 2])
@pytest.mark.parametrize("batch", [7, 16, 35, 70])
def test_bulk_batch_sizes(batch, min_chunk, monkeypatch):
    # min_chunk 1: the smaller last batch (70 = 4 x 16 + 6) and one-batch epochs in bulk too
    monkeypatch.setattr(bulk, "MIN_CHUNK", min_chunk)
    text = scenario([9, 3], ["relu", "sigmoid"], "bce", "sgd", batch=batch)
    fast, got, slow, want = both(text, 3)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


def diverging(optim: str = "sgd", lr: float = 40.0) -> str:
    """A regression whose training blows up to Inf/NaN after a few iterations."""
    return scenario([8, 8], ["relu", "relu", "relu"], "mse", optim, batch=8).replace(
        "lr = 0.05", f"lr = {lr}")


def stop(s):
    try:
        list(train(s, 50))
    except NonFinite as err:
        return err
    raise AssertionError("no NaN")


def recording_chunks(s, run):
    """run(s) with every run_chunk result recorded; (its result, the chunks)."""
    chunks = []
    real = training.run_chunk
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "run_chunk",
                   lambda prog, left: chunks.append(real(prog, left)) or chunks[-1])
        return run(s), chunks


def stops_alike(fast, slow) -> int:
    """Train `slow` one by one and `fast` in bulk into their NaN: the epoch kernel
    stopped and rolled back, and both stop at the same iteration and step in the same
    state; returns that iteration."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "bulk_supported", lambda prog: False)
        want = stop(slow)
    got, chunks = recording_chunks(fast, stop)
    assert chunks[-1] is not None and chunks[-1].stopped    # the kernel stopped, rolled back
    assert (got.iteration, got.where) == (want.iteration, want.where)
    assert fast.stopped_because == slow.stopped_because
    assert (fast.tick, fast.position.step.index) == (slow.tick, slow.position.step.index)
    assert_same(everything(fast), everything(slow))
    return want.iteration


@pytest.mark.parametrize("optim,lr", [("sgd", 40.0), ("momentum", 20.0)])
def test_a_nan_mid_epoch_stops_where_and_as_one_by_one_does(optim, lr):
    text = diverging(optim, lr)
    slow = session(text)
    iteration = stops_alike(session(text), slow)
    assert iteration % slow.program.per_epoch not in (0, 1)      # mid-epoch


def test_fallbacks_train_one_by_one():
    # an on_iteration callback sees every iteration; L2, frozen layers: no bulk path
    text = scenario([5], ["tanh"], "softmax_ce", "sgd", batch=16)
    s = session(text)
    seen = []
    list(train(s, 2, on_iteration=lambda it, loss: seen.append(it)))
    assert seen == list(range(1, 2 * s.program.per_epoch + 1))
    headless = dict(batch=16, history=1)                # as train() makes it
    assert training.bulk_supported(session(scenario([5], ["tanh"], "mse", "adam",
                                                    **headless)).program)
    assert not training.bulk_supported(session(scenario([5], ["tanh"], "mse", "sgd", l2=0.01,
                                                        **headless)).program)
    one = text.replace("history = 200", "history = 1")
    frozen = session(one.replace('units = 5\ninit = "he"\n',
                                 'units = 5\ninit = "he"\ntrainable = false\n')).program
    assert frozen.frozen and not training.bulk_supported(frozen)
    kept = session(text)
    list(train(kept, 1, keep_history=True))
    assert len(kept.program.history) == kept.program.per_epoch


@pytest.mark.parametrize("seed", range(6))
def test_loss_series_extend_equals_appends(seed):
    rng = np.random.default_rng(seed)
    keep, buckets = int(rng.integers(1, 40)), int(rng.integers(2, 9)) * 2
    a, b = LossSeries(keep, buckets), LossSeries(keep, buckets)
    a._ring, b._ring = np.full(min(keep, 4), np.nan), np.full(min(keep, 4), np.nan)
    for _ in range(30):
        values = rng.standard_normal(int(rng.integers(0, 25)))
        values[rng.random(values.size) < 0.1] = np.nan
        values[rng.random(values.size) < 0.05] = np.inf
        values[rng.random(values.size) < 0.05] = -0.0
        a.extend(values)
        for v in values:
            b.append(v)
        assert_same(series(a), series(b))
        assert a == b and a.first_kept == b.first_kept


def fresh_epoch_args(prog, plan, start: int) -> tuple:
    """Fresh copies of a plan's epoch-kernel arguments for two batches from row `start`
    of a seeded order, the optimizer's state included (tests/test_uncompiled.py compares
    the kernels compiled and uncompiled on them)."""
    order = np.random.default_rng(0).permutation(len(prog.x))
    state = bulk._State(prog, 2)
    fresh = lambda args: tuple(a.copy() if isinstance(a, np.ndarray) else a  # noqa: E731
                               for a in args)
    args = fresh(plan.epoch_args(prog.x, prog.y, order, start)) + fresh(state.args())
    return args + (np.empty(2),) + state.snapshots() + (np.zeros(1, np.int64),)


def runs_uncompiled_as_compiled(kern, args) -> None:
    """The kernel compiled and as it runs uncompiled (its Python) on copies of args: two
    iterations done, every array alike, bit for bit."""
    import copy
    a1, a2 = copy.deepcopy(args), copy.deepcopy(args)
    assert kern(*a1) == kern.py_func(*a2) == 2
    for x, y in zip(a1, a2):
        if isinstance(x, np.ndarray):
            assert x.tobytes() == y.tobytes()


def epoch_kernel_args(loss: str = "softmax_ce", optim: str = "sgd",
                      dtype: str = "float64") -> tuple:
    """Fresh arguments of the epoch kernel of a small chain, one iteration trained (the
    optimizer's state started): two batches of 16 rows."""
    prog = session(scenario([4], ["tanh"], loss, optim, dtype, batch=16)).program
    prog.train_iteration()
    return fresh_epoch_args(prog, prog._plans.get(prog.x, prog.y, 16), 16)


@pytest.mark.parametrize("optim", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_the_epoch_kernel_runs_uncompiled_as_compiled(loss, optim):
    kern = F.epoch_classes if loss in ("softmax_ce", "hinge") else F.epoch_values
    runs_uncompiled_as_compiled(kern, epoch_kernel_args(loss, optim))


# ------------------------------------------------------------------ the dense kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(40))
def test_dense_kernels_against_numpy(dtype, seed):
    """dense_forward / dense_backward (BLAS, a transposed copy of a small W for dx: see
    dense_dx) against NumPy's products, within float rounding, on shapes either side of
    the cut-over."""
    rng = np.random.default_rng(seed)
    n, i, o = (int(v) for v in rng.integers(1, [140, 130, 140]))
    if seed % 4 == 0:
        i, o = int(rng.integers(1, D.SMALL_FAN_IN + 1)), int(rng.integers(1, 64))  # small W
    x = rng.standard_normal((n, i)).astype(dtype)
    W = rng.standard_normal((i, o)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    dy = rng.standard_normal((n, o)).astype(dtype)
    y, dx, dW, db = (np.empty((n, o), dtype), np.empty((n, i), dtype), np.empty((i, o), dtype),
                     np.empty(o, dtype))
    D.dense_forward(x, W, b, y)
    D.dense_backward(x, W, dy, dx, dW, db)
    x64, W64, dy64 = x.astype(float), W.astype(float), dy.astype(float)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, x64 @ W64 + b, **tol)
    np.testing.assert_allclose(dx, dy64 @ W64.T, **tol)
    np.testing.assert_allclose(dW, x64.T @ dy64, **tol)
    np.testing.assert_allclose(db, dy64.sum(axis=0), **tol)
    if i <= D.SMALL_FAN_IN and W.size <= D.SMALL_WEIGHTS:    # the copy's branch
        dx2 = np.empty_like(dx)
        D.dense_dx.py_func(W, dy, dx2)                      # as it runs uncompiled
        assert dx2.tobytes() == dx.tobytes()
