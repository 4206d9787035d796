"""Long runs: memory stays flat in headless training, a run-mode report costs the same
after 50k iterations as after 1k, and the history figure counts everything kept."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import tracemalloc

import numpy as np
import pytest

from conftest import SCENARIOS
from tuinn.cli_print import run_training
from tuinn.engine import history as H
from tuinn.engine.build import build_program, open_session
from tuinn.engine.history import History, snapshot_nbytes
from tuinn.engine.lossseries import LossSeries
from tuinn.scenario import load_scenario
from tuinn.tui.widgets.status import history_figure
from ui_helpers import make_app, run_async, settle


def program(history: int, name: str = "xor"):
    spec = load_scenario(SCENARIOS / f"{name}.toml")
    spec.debug.history = history
    return build_program(spec)


# ------------------------------------------------------------------ the loss series
def test_loss_series_memory_is_fixed_however_long_it_runs():
    a, b = LossSeries(keep=64, buckets=32), LossSeries(keep=64, buckets=32)
    for i in range(1_000):
        a.append(1.0 / (i + 1))
    for i in range(200_000):
        b.append(1.0 / (i + 1))
    assert a.nbytes == b.nbytes <= 64 * 8 + 32 * 8 * 8
    big = LossSeries(keep=10 ** 9)                  # history = 1e9: nothing allocated up front
    assert big.nbytes < 64 * 1024
    assert len(b) == 200_000 and b.first_kept == 200_000 - 64
    assert b[-1] == 1.0 / 200_000 and b[199_990] == 1.0 / 199_991
    with pytest.raises(IndexError, match="no longer kept"):
        b[10]
    v = b.view()
    assert v.train.size <= 2 * 32 and v.last == 199_999
    assert v.train.size * v.x_scale >= 200_000 > (v.train.size - 2) * v.x_scale


def test_a_spike_stays_visible_in_the_summary():
    s = LossSeries(keep=16, buckets=8)
    for i in range(10_000):
        s.append(100.0 if i == 4_321 else 1.0 + (i % 7) * 0.01)
    s.record_val(5_000, 0.5)
    v = s.view()
    assert np.nanmax(v.train) == 100.0 and np.nanmin(v.train) == 1.0
    bucket, width = int(np.nanargmax(v.train)) // 2, 2 * v.x_scale    # min, max per bucket
    assert bucket * width <= 4_321 < (bucket + 1) * width               # drawn where it was
    assert np.nanmin(v.val) == 0.5 and np.isnan(v.val).sum() == v.val.size - 2
    assert s.summary() == (1.0, 100.0) and v.wide is False


def test_exact_while_short_and_list_like():
    s = LossSeries(keep=100, buckets=64)
    vals = [3.0, 2.0, float("nan"), 1.5]
    for x in vals:
        s.append(x)
    s.record_val(2, 9.0)
    assert s == vals and np.array(s).shape == (4,) and list(s)[:2] == [3.0, 2.0]
    v = s.view()
    assert v.x_scale == 1.0 and v.train[:2].tolist() == [3.0, 2.0] and np.isnan(v.train[2])
    assert v.val[2] == 9.0 and np.isnan(v.val[[0, 1, 3]]).all()
    s.record(1, 2.5)                     # an iteration run again: overwritten, plot too
    s.record(4, 1.25)                    # the next one: appended
    s.record(9, 7.0)                     # beyond the next: ignored
    assert s == [3.0, 2.5, float("nan"), 1.5, 1.25] and s.view().train[1] == 2.5
    assert s[1:3].tolist()[0] == 2.5 and len(s) == 5


# ------------------------------------------------------------------ tuinn train
def _train_growth(spec, session, epochs: int) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_training(spec, session, epochs, True) == 0
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


def test_headless_training_memory_stays_flat():
    """10x the iterations, (almost) no more memory: before, each iteration kept ~50-200
    bytes (a Python float per loss, a result per epoch)."""
    spec, s = open_session(str(SCENARIOS / "xor.toml"))     # 4 iterations an epoch
    with contextlib.redirect_stdout(io.StringIO()):        # history and the exact ring
        run_training(spec, s, 1 + s.program.losses.keep // 4, True)      # full, kernels warm
    short = _train_growth(spec, s, 100)                      # 400 iterations
    long = _train_growth(spec, s, 1_000)                     # 4,000 iterations
    assert long - short < 32 * 1024, (short, long)       # was ~3,600 x (64 + 50) bytes
    assert s.program.losses.nbytes <= 8 * s.program.losses.keep + 64 * 1024


# ------------------------------------------------------------------ run-mode reports
@run_async
async def test_a_report_costs_the_same_after_1k_and_50k_iterations(monkeypatch):
    measured = []
    real = H.snapshot_nbytes
    monkeypatch.setattr(H, "snapshot_nbytes", lambda snap: measured.append(1) or real(snap))
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        session = screen.session
        prog = session.program
        for _ in range(1_000):
            prog.train_iteration()
        session.sync()

        def report() -> tuple[int, int, int]:
            copied, visited = prog.losses.copied, prog.history.visited
            n = len(measured)
            screen.light_frame(session)
            return (prog.losses.copied - copied, prog.history.visited - visited,
                    len(measured) - n)

        at_1k = report()
        # fast-forward to 50k iterations: what train_iteration leaves per iteration
        for _ in range(49_000):
            prog.losses.append(0.5)
            prog.history.append(prog.start)
            prog.iteration += 1
        session.sync()
        at_50k = report()
    assert at_1k[1:] == at_50k[1:] == (0, 0)          # no snapshot walked nor measured
    bound = 2 * 2 * prog.losses.size                   # two curves, min and max per bucket
    assert 0 < at_1k[0] <= bound and 0 < at_50k[0] <= bound, (at_1k, at_50k)   # not 2 x 50k


# ------------------------------------------------------------------ the history figure
def test_history_counts_optimizer_state_and_never_exceeds_its_limit():
    prog = program(history=3)                                # adam: two moments and t
    for _ in range(10):
        prog.train_iteration()
    assert len(prog.history) == 4 and prog.history.count == 3 and prog.history.limit == 3
    params = sum(p.nbytes for p in prog.params().values())
    optim = prog.history[-1].optim
    state = sum(a.nbytes for a in (optim.v, optim.m, optim.t))
    assert state >= 2 * params
    assert snapshot_nbytes(prog.history[-1]) == params + state
    assert prog.history_bytes() == 4 * (params + state)
    assert history_figure(prog.history.count, prog.history.limit, prog.history_bytes()) == \
        f"history 3/3 {4 * (params + state) / 1024:.0f} KB"
    assert history_figure(201, 200, 3 * 1024 ** 2) == "history 200/200 3.0 MB"


def test_history_bytes_follow_pops_and_drops():
    prog = program(history=2)
    h = History(2)
    sizes = []
    for _ in range(5):
        prog.train_iteration()
        snap = prog._snapshot()
        h.append(snap)
        sizes.append(snapshot_nbytes(snap))
    assert len(h) == 3 and h.nbytes == sum(sizes[-3:]) and h.measured == 5
    h.pop()
    assert h.nbytes == sum(sizes[-3:-1])
    h.clear()
    assert h.nbytes == 0 and h.count == 0
    huge = History(2 ** 63 - 1)             # the largest history a file may ask for
    huge.append(snap)
    assert huge.count == 1 and huge.nbytes == sizes[-1]


@pytest.mark.parametrize("name", ["xor", "spiral", "optim-momentum", "batchnorm-deep-sigmoid"])
def test_a_known_snapshot_size_is_what_measuring_it_gives(name):
    """Run mode measures one snapshot of a kind and reuses the figure: it must be the
    figure a walk of each snapshot gives (momentum/Adam state appears at the first step)."""
    prog = program(history=5, name=name)
    for _ in range(7):
        prog.train_iteration()
    snaps = list(prog.history) + [prog.start]
    assert all(s.nbytes == snapshot_nbytes(dataclasses.replace(s, nbytes=None)) for s in snaps)
    assert prog.history_bytes() == sum(snapshot_nbytes(dataclasses.replace(s, nbytes=None))
                                       for s in list(prog.history))
