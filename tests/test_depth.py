"""The per-layer activation and gradient statistics (the "by depth" view) against a plain
NumPy forward and backward pass, and the initialisation scenarios' lesson: zeros kill
every hidden unit, a small normal init shrinks the signal by depth, he keeps it."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from conftest import SCENARIOS
from tuinn.engine.build import open_session
from tuinn.tui.present_depth import BINS, depth_stats, is_deep
from tuinn.tui.present_side import side_views
from tuinn.tui.render.depth import DepthTable, bars


def program(name):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1].program


def reference(prog):
    """Activations and dL/d(output) of every layer in NumPy (dense/relu, softmax_ce)."""
    xb, yb = prog.batch(prog.iteration)
    h, acts = xb.astype(np.float64), []
    for layer in prog.layers:
        if layer.type == "dense":
            h = h @ layer.params["W"] + layer.params["b"]
        else:
            h = np.maximum(h, 0)
        acts.append(h)
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(len(yb)), yb] -= 1
    d /= len(yb)
    grads = [None] * len(acts)
    for i in range(len(acts) - 1, -1, -1):
        grads[i] = d
        layer = prog.layers[i]
        d = d @ layer.params["W"].T if layer.type == "dense" else d * (acts[i - 1] > 0 if i else 1)
    return acts, grads


@pytest.mark.parametrize("name", ["init-he", "init-xavier", "init-small"])
def test_statistics_match_numpy(name):
    prog = program(name)
    for _ in range(3):                         # not only at the start
        prog.train_iteration()
    stats = depth_stats(prog)
    acts, grads = reference(prog)
    assert [r.name for r in stats.layers] == [la.name for la in prog.layers]
    ar = max(np.abs(a).max() for a in acts)
    gr = max(np.abs(g).max() for g in grads)
    assert stats.act_range == pytest.approx(ar) and stats.grad_range == pytest.approx(gr)
    for row, a, g in zip(stats.layers, acts, grads):
        assert row.act_mean == pytest.approx(a.mean(), rel=1e-9, abs=1e-300)
        assert row.act_std == pytest.approx(a.std(), rel=1e-9, abs=1e-300)
        assert row.grad_std == pytest.approx(g.std(), rel=1e-9, abs=1e-300)
        assert row.act_zero == pytest.approx(np.mean(a == 0))
        np.testing.assert_array_equal(row.act, np.histogram(a, bins=BINS, range=(-ar, ar))[0])
        np.testing.assert_array_equal(row.grad, np.histogram(g, bins=BINS, range=(-gr, gr))[0])


def test_the_cursor_and_the_step_caches_are_untouched():
    spec, session = open_session(str(SCENARIOS / "init-he.toml"))
    session.step(5)
    before = {k: v.copy() for k, v in session.tape.values.items()}
    caches = [dict((k, v.copy()) for k, v in la.cache.items()) for la in session.program.layers]
    depth_stats(session.program)
    assert session.tick == 5
    for k, v in before.items():
        np.testing.assert_array_equal(session.tape.values[k], v)
    for la, cache in zip(session.program.layers, caches):
        for k, v in cache.items():
            np.testing.assert_array_equal(la.cache[k], v)


def test_the_init_lesson_reads_down_the_rows():
    dense = lambda s: [r for r in s.layers if r.type == "dense"]   # noqa: E731
    zeros = dense(depth_stats(program("init-zeros")))
    assert all(r.act_zero == 1.0 for r in zeros) and all(r.grad_zero == 1.0 for r in zeros[:-1])
    small = [r.act_std for r in dense(depth_stats(program("init-small")))[:-1]]
    assert all(b < a / 10 for a, b in zip(small, small[1:]))      # dying by depth
    he = [r.act_std for r in dense(depth_stats(program("init-he")))]
    assert max(he) / min(he) < 2                                  # steady


def test_the_view_is_offered_for_deep_networks_only():
    assert "depth" in side_views(program("init-he"))
    assert is_deep(program("deep-relu"))
    assert not is_deep(program("xor"))
    assert "depth" not in side_views(program("xor"))


def test_bars_and_the_table():
    assert bars(np.array([0, 1, 2, 8]), 4) == " ▁▂█"
    assert bars(np.zeros(5), 3) == "   "
    assert len(bars(np.arange(24), 10)) == 10
    console = Console(width=70, record=True, color_system=None)
    console.print(DepthTable(depth_stats(program("init-zeros")), width=70))
    text = console.export_text()
    assert "dense1" in text and "all 0" in text and "every row ±" in text
    short = DepthTable(depth_stats(program("init-zeros")), width=40, height=10).lines()
    assert len(short) == 1 + 7 + 1 and "relu1" not in "".join(t.plain for t in short)
