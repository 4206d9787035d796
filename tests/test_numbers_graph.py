"""Graph numbers: the output's gradient is seeded whatever comes after it, `@` is
numpy.matmul for any number of dimensions, ties split, as the contract says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuinn.engine import gates
from tuinn.engine.build import build_session
from tuinn.engine.trace import graph_trace
from tuinn.errors import TuinnError
from tuinn.scenario.expr_shapes import _matmul_shape
from tuinn.scenario.loader import load_text


def graph(expr: str, inputs: str, output: str | None = None):
    out = f'output = "{output}"\n' if output else ""
    text = (f'[scenario]\nname = "t"\nkind = "graph"\n[graph]\ninputs = {{ {inputs} }}\n'
            f'expr = """\n{expr}\n"""\n{out}')
    session = build_session(load_text(text, "t.toml"))
    session.run_to_end()
    return session


def grads(session) -> dict:
    prog = session.program
    return {n: np.asarray(prog.grad_of(session.tape, n)) for n in prog.names()}


# ------------------------------------------------------------- output seeding


def test_later_lines_that_use_the_output_do_not_zero_its_gradients():
    s = graph("f = x * y\nafter = f * 10", "x = 3.0, y = -2.0", "f")
    g = grads(s)
    assert g["f"] == 1.0
    assert g["x"] == -2.0 and g["y"] == 3.0
    assert g["after"] == 0.0


def test_names_the_output_does_not_depend_on_get_zero_even_when_they_are_not_finite():
    # `bad` is log of a negative number (nan) and `side` uses only a name outside the
    # output's inputs: neither may leak into the output's gradients
    s = graph("f = x * y\nbad = log(f)\nside = z * 3\nboth = bad + f", "x = 3.0, y = -2.0, z = 1.5",
              "f")
    g = grads(s)
    assert g["x"] == -2.0 and g["y"] == 3.0 and g["f"] == 1.0
    for n in ("bad", "side", "both", "z"):
        assert np.all(g[n] == 0.0), n


def test_the_trace_graph_event_seeds_the_output_when_later_lines_use_it():
    s = graph("f = x * y\ng = f + x\nh = g * f", "x = 3.0, y = -2.0", "g")
    events = list(graph_trace(s))
    last = json.loads(json.dumps(events[-1]))
    assert last["event"] == "graph"
    assert last["output"] == -3.0
    assert last["grads"] == {"x": -1.0, "y": 3.0, "f": 1.0, "g": 1.0, "h": 0.0}
    backward = [e for e in events if e["event"] == "step" and e["phase"] == "backward"]
    assert [e["node"] for e in backward][0] != "g"          # h's step comes first
    assert {e["node"]: e["grad"] for e in backward}["g"] == 1.0


# --------------------------------------------------------------------- matmul

def _matmul_shapes(rng):
    """Random operand shapes that numpy.matmul accepts: 1-D vectors, matrices, batches
    with axes of size 1 that broadcast, batches of different lengths."""
    n, k, m = (int(v) for v in rng.integers(1, 4, 3))
    batch = tuple(int(v) for v in rng.integers(1, 4, rng.integers(0, 3)))

    def side(core):
        if len(core) == 1 or not batch:
            return core if rng.random() < 0.7 or len(core) == 1 else (1,) + core
        drop = int(rng.integers(0, len(batch) + 1))          # fewer leading axes
        own = tuple(1 if rng.random() < 0.4 else d for d in batch[drop:])
        return own + core
    a = (k,) if rng.random() < 0.2 else side((n, k))
    b = (k,) if rng.random() < 0.2 else side((k, m))
    return a, b


def _fd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("seed", range(40))
def test_matmul_is_numpy_matmul_with_gradients_reduced_over_broadcast_axes(seed):
    rng = np.random.default_rng(seed)
    sa, sb = _matmul_shapes(rng)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    want = np.matmul(a, b)
    out = gates.forward("matmul", [a, b], None)
    assert out.shape == want.shape == _matmul_shape(sa, sb)        # check agrees with trace
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(want.shape)                  # f = sum(w * (a @ b))
    da, db = gates.backward("matmul", [a, b], out, w, None)
    assert da.shape == a.shape and db.shape == b.shape
    f = lambda: float(np.sum(w * np.matmul(a, b)))      # noqa: E731
    np.testing.assert_allclose(da, _fd(f, a), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, _fd(f, b), rtol=1e-6, atol=1e-8)


def test_matmul_batch_gradient_sums_over_the_broadcast_batch():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 1, 2, 3))
    b = rng.standard_normal((5, 3, 2))                   # batch (4, 5)
    up = rng.standard_normal((4, 5, 2, 2))
    da, db = gates.backward("matmul", [a, b], None, up, None)
    np.testing.assert_allclose(da, (up @ np.swapaxes(b, -1, -2)).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(db, (np.swapaxes(a, -1, -2) @ up).sum(axis=0))


def test_matmul_float32_stays_float32():
    a = np.ones((2, 2, 3), np.float32)
    b = np.ones((3,), np.float32)
    out = gates.forward("matmul", [a, b], None)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    da, db = gates.backward("matmul", [a, b], out, np.ones_like(out), None)
    assert da.dtype == db.dtype == np.float32
    np.testing.assert_array_equal(db, [4, 4, 4])


@pytest.mark.parametrize("sa, sb", [((2, 3), (4,)), ((2, 2, 3), (3, 3, 2)), ((3,), ()),
                                    ((4, 1, 2, 3), (2, 3, 3, 1)), ((3,), (2, 3))])
def test_matmul_refuses_what_numpy_refuses_in_check_and_in_trace(sa, sb):
    with pytest.raises(ValueError):
        np.matmul(np.ones(sa), np.ones(sb))
    with pytest.raises(ValueError):
        _matmul_shape(sa, sb)                                  # what `check` runs
    with pytest.raises(TuinnError):
        gates.forward("matmul", [np.ones(sa), np.ones(sb)], None)


def test_batched_matmul_graph_traces_and_check_agrees(tmp_path):
    from typer.testing import CliRunner

    from tuinn.cli import app
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((2, 2, 3)), rng.standard_normal((3, 2))
    v = rng.standard_normal(2)
    inputs = f"A = {A.tolist()}, B = {B.tolist()}, v = {v.tolist()}"
    s = graph("C = A @ B\nd = C @ v\nf = sum(d * d)", inputs)
    g = grads(s)
    C = A @ B
    d = C @ v
    np.testing.assert_allclose(s.tape.values[s.program.output], np.sum(d * d))
    dd = 2 * d                                           # (2, 2)
    dC = dd[..., None] * v                               # (2, 2, 2)
    np.testing.assert_allclose(g["v"], np.einsum("bi,bij->j", dd, C))
    np.testing.assert_allclose(g["A"], dC @ B.T)
    np.testing.assert_allclose(g["B"], (np.swapaxes(A, -1, -2) @ dC).sum(axis=0))
    text = (f'[scenario]\nname = "t"\nkind = "graph"\n[graph]\ninputs = {{ {inputs} }}\n'
            'expr = """\nC = A @ B\nd = C @ v\nf = sum(d * d)\n"""\n')
    path = tmp_path / "bmm.toml"
    path.write_text(text)
    runner = CliRunner()
    assert runner.invoke(app, ["check", str(path)]).exit_code == 0
    res = runner.invoke(app, ["trace", "--json", str(path)])
    assert res.exit_code == 0, res.output
    last = json.loads(res.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(last["grads"]["A"], g["A"])
