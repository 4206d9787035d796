"""The bundled graph scenarios reproduce the numbers derived by hand in their descriptions."""

import numpy as np
import pytest

from conftest import SCENARIOS
from tuinn.engine.build import open_session
from tuinn.scenario.bundled import bundled

HAND = {
    # name: (output, {input: gradient})
    "add-mul": (-12.0, {"x": -4.0, "y": -4.0, "z": 3.0}),
    "sigmoid-neuron": (0.7311, {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898,
                                "w2": 0.1966}),
    "sigmoid-gate": (0.7311, {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898,
                              "w2": 0.1966}),
    "gate-patterns": (-20.0, {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}),
    "branch": (-3.0, {"x": -1.0, "y": 3.0}),
    "matrix": (1.0933, {"W": [[1.2, 0.1333, 0.0], [2.4, 0.2667, 0.0]], "b": [1.2, 0.1333, 0.0],
                        "x": [[0.1867, 0.9333]]}),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_derived_numbers(name):
    spec, s = open_session(str(SCENARIOS / f"{name}.toml"))
    s.run_to_end()
    prog = s.program
    out, grads = HAND[name]
    np.testing.assert_allclose(prog.value_of(s.tape, prog.output), out, atol=5e-5)
    for k, g in grads.items():
        np.testing.assert_allclose(prog.grad_of(s.tape, k), g, atol=5e-5)


def test_every_graph_scenario_is_covered_and_described():
    graphs = [p for p in bundled() if 'kind = "graph"' in p.read_text()]
    assert {p.stem for p in graphs} == set(HAND)
    for p in graphs:
        spec, _ = open_session(str(p))
        assert len(spec.info.description) > 100


def test_sigmoid_gate_local_gradient_is_one_minus_s_times_s():
    _, s = open_session(str(SCENARIOS / "sigmoid-gate.toml"))
    s.run_to_end()
    f = s.tape.values["f"]
    np.testing.assert_allclose(s.tape.local["f"][0], (1 - f) * f)


def test_bundled_name_resolves_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec, _ = open_session("sigmoid-neuron")
    assert spec.info.name == "Sigmoid neuron"
    spec, _ = open_session("scenarios/add-mul.toml")
    assert spec.graph.output == "f"
