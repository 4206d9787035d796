"""gradcheck: an atol + rtol criterion that holds for gradients that are exactly 0,
still fails a wrong gradient, reports its worst entry, and checks graph scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine import gates
from tuinn.engine.gradcheck import ATOL, CRITERION, RTOL, TOLERANCE, NodeCheck, check_scenario
from tuinn.engine.layers.dense import Dense
from tuinn.scenario.bundled import bundled
from tuinn.scenario.loader import load_text

# W = 0 and inputs in +/- pairs: dL/dW is exactly 0 by symmetry, but the analytic sum
# and the centred difference both carry rounding noise, so their relative error is ~1
SYMMETRIC = '''
[scenario]
name = "symmetric"
kind = "network"
[data]
x = [[1.0], [-1.0], [0.5], [-0.5], [0.25], [-0.25]]
y = [[0.7], [0.7], [0.7], [0.7], [0.7], [0.7]]
[model]
input = [1]
[[model.layers]]
type = "dense"
units = 1
[params]
"dense1.W" = [[0.0]]
"dense1.b" = [0.1]
[loss]
type = "mse"
'''

# the first hidden unit is dead (b = -10): its weights' gradients are exactly 0
DEAD_RELU = '''
[scenario]
name = "dead relu"
kind = "network"
[data]
x = [[1.0, 2.0], [0.5, -1.0], [2.0, 1.0]]
y = [[0.3], [0.8], [0.1]]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 2
[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 1
[params]
"dense1.W" = [[0.2, 0.5], [0.1, -0.2]]
"dense1.b" = [-10.0, 0.1]
[loss]
type = "mse"
'''

# sigmoid(x) + sigmoid(-x) = 1: df/dx is 0, the centred difference is rounding noise
GRAPH_ZERO = '''
[scenario]
name = "zero gradient"
kind = "graph"
[graph]
inputs = { x = 0.7, y = 2.0, z = -3.0, W = [[0.5, -1.0], [2.0, 0.25]] }
expr = """
s = sigmoid(x) + sigmoid(-x)
f = s * y + y * z + sum(W @ W)
after = f * 10
"""
output = "f"
'''


def results(text: str):
    return {r.name: r for r in check_scenario(load_text(text, "t.toml"))}


def test_the_criterion_is_atol_plus_rtol_and_reports_the_worst_entry():
    c = NodeCheck("w", np.array([0.0, 1000.05, 2.0]), np.array([5e-7, 1000.0, 2.0]), (3,),
                  np.arange(3))
    assert c.ok and c.worst == pytest.approx(0.05 / (ATOL + RTOL * 1000.0))
    assert c.worst_entry == ((1,), 1000.05, 1000.0)
    assert not NodeCheck("w", np.array([0.0]), np.array([3 * ATOL]), (1,)).ok
    assert not NodeCheck("w", np.array([1.0 + 2 * RTOL]), np.array([1.0]), (1,)).ok
    assert not NodeCheck("w", np.array([np.nan]), np.array([np.nan]), (1,)).ok
    picked = NodeCheck("W", np.array([1.0, 9.0]), np.array([1.0, 1.0]), (2, 3), np.array([1, 5]))
    assert picked.worst_entry[0] == (1, 2)                 # flat index 5 of a (2, 3)


def test_a_parameter_whose_true_gradient_is_zero_passes():
    checks = results(SYMMETRIC)
    w = checks["dense1.W"]
    assert abs(w.analytic[0]) < 1e-15 and abs(w.numeric[0]) < 1e-9   # rounding, not signal
    rel = np.linalg.norm(w.analytic - w.numeric) / (np.linalg.norm(w.analytic)
                                                    + np.linalg.norm(w.numeric))
    assert rel > 0.1                        # what a relative error would have failed
    assert all(c.ok for c in checks.values())


def test_a_dead_relu_unit_passes():
    checks = results(DEAD_RELU)
    assert checks["dense1.W"].analytic[0] == 0.0 and checks["dense1.W"].analytic[2] == 0.0
    assert all(c.ok for c in checks.values()), {k: c.worst for k, c in checks.items()}


def test_a_graph_checks_every_input_and_passes_a_zero_gradient():
    checks = results(GRAPH_ZERO)
    assert list(checks) == ["x", "y", "z", "W"]
    assert checks["W"].shape == (2, 2) and checks["W"].checked == 4
    assert abs(checks["x"].analytic[0]) < 1e-15
    assert all(c.ok for c in checks.values()), {k: c.worst for k, c in checks.items()}


@pytest.mark.parametrize("error", [1e-3, -1e-3])
def test_a_wrong_network_gradient_still_fails(monkeypatch, error):
    original = Dense.backward

    def wrong(self, dy):
        dx = original(self, dy)
        if self.name == "dense2":
            self.grads["W"][...] *= 1.0 + error            # 0.1% off
        return dx
    monkeypatch.setattr(Dense, "backward", wrong)
    checks = results(DEAD_RELU)
    assert not checks["dense2.W"].ok
    assert checks["dense1.W"].ok and checks["dense2.b"].ok


def test_a_small_wrong_gradient_on_a_zero_gradient_still_fails(monkeypatch, tmp_path):
    original = gates.backward

    def wrong(op, args, out, upstream, const):
        downs = original(op, args, out, upstream, const)
        return [d + 1e-5 for d in downs] if op == "neg" else downs
    monkeypatch.setattr(gates, "backward", wrong)
    checks = results(GRAPH_ZERO)
    assert not checks["x"].ok and checks["y"].ok
    path = tmp_path / "zero.toml"
    path.write_text(GRAPH_ZERO)
    res = CliRunner().invoke(app, ["gradcheck", str(path)], terminal_width=120)
    assert res.exit_code == 1 and "FAIL x: analytic 1e-05, numeric " in res.output
    assert "1 input(s) fail: x" in res.output


@pytest.mark.parametrize("path", [p for p in bundled() if 'kind = "graph"' in p.read_text()],
                         ids=lambda p: p.stem)
def test_gradcheck_command_passes_every_bundled_graph(path):
    res = CliRunner().invoke(app, ["gradcheck", str(path)])
    assert res.exit_code == 0, res.output
    spec = load_text(path.read_text(), str(path))
    for name in spec.graph.inputs:
        assert name in res.output
    assert CRITERION in res.output.replace("\n", " ")
    assert f"all {len(spec.graph.inputs)} inputs pass" in res.output


def test_gradcheck_command_reports_a_failure_with_its_worst_entry(monkeypatch, tmp_path):
    original = Dense.backward

    def wrong(self, dy):
        dx = original(self, dy)
        self.grads["b"][...] += 0.5
        return dx
    monkeypatch.setattr(Dense, "backward", wrong)
    path = tmp_path / "dead.toml"
    path.write_text(DEAD_RELU)
    res = CliRunner().invoke(app, ["gradcheck", str(path)], terminal_width=120)
    assert res.exit_code == 1
    assert "FAIL dense1.b [0]: analytic 0.5, numeric 0" in res.output
    assert "2 parameter(s) fail: dense1.b, dense2.b" in res.output


def test_gradcheck_help_states_the_criterion():
    res = CliRunner().invoke(app, ["gradcheck", "--help"], terminal_width=200)
    assert TOLERANCE in res.output


def test_the_bundled_add_mul_graph_gradients_by_hand():
    checks = {r.name: r for r in check_scenario(load_text((SCENARIOS / "add-mul.toml").read_text(),
                                                          "add-mul.toml"))}
    np.testing.assert_allclose([checks[k].analytic[0] for k in "xyz"], [-4.0, -4.0, 3.0])


def test_the_stated_tolerance_is_the_one_applied():
    assert TOLERANCE == f"{ATOL:.0e} + {RTOL:.0e}·|n|".replace("e-0", "e-")
