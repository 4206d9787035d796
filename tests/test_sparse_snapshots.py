"""Headless training layer by layer takes a full snapshot one iteration in
SNAPSHOT_EVERY (and at each epoch's last): a NaN stops at the same iteration, on the
same step, with the same state as with every snapshot kept, and a normal run ends the
same."""

import numpy as np
import pytest

from conftest import SCENARIOS
from tuinn.engine.build import build_session
from tuinn.engine.run import training as T
from tuinn.engine.run.training import NonFinite, train
from tuinn.scenario.loader import load_text


def session(name: str, edit=lambda text: text):
    path = SCENARIOS / f"{name}.toml"
    return build_session(load_text(edit(path.read_text()), str(path)))


def state(s):
    prog = s.program
    history = [(h.iteration, T.SparseSnapshots.real(h)) for h in prog.history]
    return (prog.iteration, s.tick, {k: v.copy() for k, v in prog.params().items()},
            [float(prog.losses[i]) for i in range(max(0, len(prog.losses) - 5), len(prog.losses))]
            + history)


def run(s, sparse: bool, epochs: int = 3):
    """Train; without `sparse`, as before: a full snapshot every iteration, History(1)."""
    try:
        with pytest.MonkeyPatch.context() as mp:
            if not sparse:
                mp.setattr(T, "SparseSnapshots", lambda prog: None)
            results = list(train(s, epochs))
        return "done", [(r.loss, r.accuracy) for r in results], state(s)
    except NonFinite as bad:
        return bad.where, bad.iteration, state(s)


def same(a, b):
    assert a[0] == b[0] and a[1] == b[1]
    (ia, ta, pa, la), (ib, tb, pb, lb) = a[2], b[2]
    assert (ia, ta, la) == (ib, tb, lb)
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


@pytest.mark.parametrize("every", [1, 3, 16])
@pytest.mark.parametrize("lr, batch", [("0.4", 8), ("0.5", 16), ("0.6", 8), ("0.8", 8)])
def test_a_nan_stops_where_it_would_with_every_snapshot(every, lr, batch, monkeypatch):
    """lr-too-large with relu (unbounded), a little L2 (so it goes layer by layer, not in
    bulk) and learning rates that blow up after 7 to 17 iterations: mid-epoch, at an
    epoch's end, before and after a snapshot."""
    monkeypatch.setattr(T, "SNAPSHOT_EVERY", every)
    edit = lambda t: (t.replace("lr = 0.5", f"lr = {lr}").replace('type = "tanh"', 'type = "relu"')
                      .replace("batch_size = 0", f"batch_size = {batch}")
                      .replace('type = "mse"', 'type = "mse"\nl2 = 0.0001'))
    sparse = run(session("lr-too-large", edit), True, 30)
    kept = run(session("lr-too-large", edit), False, 30)
    assert sparse[0] != "done", "the run should blow up"
    same(sparse, kept)


@pytest.mark.parametrize("name", ["cnn-bars", "lstm", "dropout"])
def test_a_normal_run_ends_the_same(name):
    a, b = run(session(name), True), run(session(name), False)
    assert a[0] == b[0] == "done"
    same(a, b)
    s = session(name)
    list(train(s, 2))
    prog = s.program
    assert len(prog.history) == 2 and prog.history[-1].iteration == prog.iteration - 1
    assert T.SparseSnapshots.real(prog.history[-1]) and T.SparseSnapshots.real(prog.start)
