"""Residual blocks nest to any depth: every inner parameter is registered, named,
updated, regularised, traced, settable and gradient-checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from naive_network import dense_forward, numeric_grad, softmax_ce
from tuinn.engine.build import build_session
from tuinn.engine.gradcheck import gradcheck
from tuinn.engine.trace import network_trace
from tuinn.scenario.loader import load_text

L2 = 0.01
LR = 0.1
X = [[0.5, -1.0, 0.25], [1.5, 0.3, -0.7], [-0.2, 0.8, 1.1], [0.9, -0.4, 0.6]]
Y = [0, 1, 1, 0]
D4W = [[0.3, -0.2, 0.1], [0.05, 0.4, -0.3], [-0.25, 0.15, 0.2]]

# dense1, residual1[ dense2, residual2[ dense3, relu1, residual3[ dense4, tanh1 ] ] ], dense5
NESTED = f'''
[scenario]
name = "nested residual"
kind = "network"
seed = 3
[data]
x = {X}
y = {Y}
[model]
input = [3]
[[model.layers]]
type = "dense"
units = 3
init = "xavier"
[[model.layers]]
type = "residual"
layers = [
  {{ type = "dense", units = 3, init = "xavier" }},
  {{ type = "residual", layers = [
      {{ type = "dense", units = 3, init = "xavier" }},
      {{ type = "relu" }},
      {{ type = "residual", layers = [
          {{ type = "dense", units = 3, init = "xavier" }},
          {{ type = "tanh" }},
      ] }},
  ] }},
]
[[model.layers]]
type = "dense"
units = 2
init = "xavier"
[params]
"dense4.W" = {D4W}
[loss]
type = "softmax_ce"
l2 = {L2}
[optimizer]
type = "sgd"
lr = {LR}
[train]
epochs = 2
'''

NAMES = [f"dense{i}.{p}" for i in range(1, 6) for p in ("W", "b")]


def session():
    return build_session(load_text(NESTED, "nested.toml"))


def reference_loss(p: dict) -> float:
    """Plain NumPy: dense1, then y = x + f(x) three blocks deep, dense5, softmax_ce, L2."""
    x, y = np.array(X), np.array(Y)
    h = dense_forward(x, p["dense1.W"], p["dense1.b"])
    a = dense_forward(h, p["dense2.W"], p["dense2.b"])
    b = np.maximum(dense_forward(a, p["dense3.W"], p["dense3.b"]), 0.0)
    b = b + np.tanh(dense_forward(b, p["dense4.W"], p["dense4.b"]))        # residual3
    a = a + b                                                              # residual2
    h = h + a                                                              # residual1
    s = dense_forward(h, p["dense5.W"], p["dense5.b"])
    return softmax_ce(s, y)[0] + L2 * sum(np.sum(p[k] ** 2) for k in p if k.endswith(".W"))


def test_default_names_count_per_type_across_nested_blocks_and_all_params_register():
    prog = session().program
    assert sorted(prog.param_layers) == sorted(NAMES)
    inner = prog.param_layers["dense4.W"][0]
    assert inner.name == "dense4" and inner.in_shape == (3,)
    np.testing.assert_array_equal(prog.params()["dense4.W"], D4W)     # [params] set it


def test_nested_values_and_gradients_match_a_numpy_reference():
    s = session()
    prog = s.program
    start = {k: np.array(v, dtype=np.float64) for k, v in prog.params().items()}
    events = [e for e in network_trace(s, 1) if e["event"] == "iteration"]
    ev = json.loads(json.dumps(events[0]))
    assert sorted(ev["params"]) == sorted(NAMES)
    assert ev["loss"] == pytest.approx(reference_loss(start), rel=1e-12)
    for k in NAMES:
        want = numeric_grad(lambda: reference_loss(start), start[k])
        np.testing.assert_allclose(ev["params"][k]["grad"], want, rtol=1e-6, atol=1e-9,
                                   err_msg=k)
        assert np.abs(want).max() > 0, k                   # every block is live


def test_the_optimizer_updates_the_innermost_parameters():
    s = session()
    prog = s.program
    before = {k: v.copy() for k, v in prog.params().items()}
    s.run_to_end()
    for k in NAMES:
        grad = s.tape.grads[k]
        np.testing.assert_allclose(prog.params()[k], before[k] - LR * grad, rtol=1e-12,
                                   err_msg=k)
        assert not np.array_equal(prog.params()[k], before[k]), k


def test_run_mode_fast_path_matches_stepping_for_nested_blocks():
    stepped, fast = session(), session()
    for _ in range(3):
        stepped.run_to_end()
        stepped.next_iteration()
        fast.program.train_iteration()
    for k in NAMES:
        np.testing.assert_allclose(fast.program.params()[k], stepped.program.params()[k],
                                   rtol=1e-12, err_msg=k)


def test_l2_counts_the_innermost_weights():
    prog = session().program
    w = sum(float(np.sum(v ** 2)) for k, v in prog.params().items() if k.endswith(".W"))
    assert prog.l2_value() == pytest.approx(L2 * w, rel=1e-12)


def test_gradcheck_checks_every_nested_parameter():
    from tuinn.scenario.loader import load_text as lt
    results = gradcheck(lt(NESTED, "nested.toml"))
    assert sorted(r.name for r in results) == sorted(NAMES)
    assert all(r.ok for r in results), [(r.name, r.worst_entry) for r in results if not r.ok]


def test_watches_and_breakpoints_reach_the_innermost_layers():
    from tuinn.engine.debug import debug_names
    from tuinn.engine.watches import Watches
    s = session()
    ws = Watches.from_spec(["dense4.W.grad", "tanh1", "relu1.mask", "dense4"],
                           debug_names(s.program))
    s.run_to_end()
    vals = {v.text: v for v in ws.evaluate(s)}
    inner = s.program.param_layers["dense4.W"][0]
    np.testing.assert_array_equal(vals["dense4.W.grad"].value, s.tape.grads["dense4.W"])
    np.testing.assert_allclose(vals["tanh1"].value, np.tanh(inner.cache["y"]))
    relu_in = s.program.param_layers["dense3.W"][0].cache["y"]
    np.testing.assert_array_equal(vals["relu1.mask"].value, relu_in > 0)


def test_the_network_drawing_shows_every_nested_layer_once_with_its_skip():
    from tuinn.tui.present_net import network_nodes
    nodes = {n.id: n for n in network_nodes(session())}
    ids = [n.id for n in network_nodes(session())]
    assert len(ids) == len(set(ids))
    for k in NAMES:
        assert k in nodes, k
    # y = x + f(x) at every depth: the block's add gate reads its last layer and its input
    assert nodes["residual3"].args == ("tanh1", "relu1")
    assert nodes["residual2"].args == ("residual3", "dense2")
    assert nodes["residual1"].args == ("residual2", "dense1")
