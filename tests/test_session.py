"""Session stepping, back-stepping, phases, restart and editing inputs."""

import numpy as np
import pytest


def snapshot(session):
    t = session.tape
    return ({k: v.copy() for k, v in t.values.items()}, {k: v.copy() for k, v in t.grads.items()})


def same(a, b):
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])


def test_forward_then_backward_order(scenario):
    spec, s = scenario("sigmoid-neuron")
    assert s.total == 16 and s.phase == "ready" and s.current is None
    s.step()
    assert s.current.node == "mul1" and s.current.phase == "forward"
    np.testing.assert_allclose(s.tape.values["mul1"], -2.0)
    s.finish_phase()
    assert s.tick == 8 and s.current.node == "f"
    np.testing.assert_allclose(s.tape.values["f"], 0.7310585786300049)
    assert not s.tape.grads
    s.step()
    assert s.current.phase == "backward" and s.current.node == "f"
    s.finish_phase()
    assert s.at_end and s.phase == "done"


def test_back_restores_exact_state(scenario):
    _, s = scenario("sigmoid-neuron")
    states = []
    for _ in range(s.total):
        states.append(snapshot(s))
        s.step()
    states.append(snapshot(s))
    for k in range(s.total, -1, -1):
        same(snapshot(s), states[k])
        s.back()
    assert s.tick == 0


def test_goto_and_phase_start(scenario):
    _, s = scenario("add-mul")
    s.goto(3)
    assert s.current.phase == "backward" and s.current.node == "f"
    s.phase_start()
    assert s.tick == 2
    s.phase_start()            # already at the start of the backward pass: to the forward start
    assert s.tick == 0
    s.run_to_end()
    s.restart()
    assert s.tick == 0 and not s.tape.grads


def test_branch_gradients_add(scenario):
    _, s = scenario("branch")
    s.finish_phase()
    s.step()                   # backward f: add distributes to q and x
    np.testing.assert_allclose(s.tape.grads["x"], 1.0)
    s.step()                   # backward q: multiply adds y to x's gradient
    np.testing.assert_allclose(s.tape.grads["x"], 1.0 - 2.0)
    np.testing.assert_allclose(s.tape.grads["y"], 3.0)


def test_edit_input_recomputes(scenario):
    _, s = scenario("add-mul")
    s.run_to_end()
    s.set_input("x", 4.0)
    assert s.at_end
    np.testing.assert_allclose(s.tape.values["f"], (4 + 5) * -4)
    np.testing.assert_allclose(s.tape.grads["z"], 9.0)
    with pytest.raises(ValueError):
        s.set_input("x", [1.0, 2.0])


def test_step_over_and_back_over(scenario):
    _, s = scenario("matrix")
    s.step_over()
    assert s.tick == 1
    s.step_back_over()
    assert s.tick == 0


def test_network_iterations_and_time_travel():
    from tuinn.engine.build import open_session
    from conftest import CONTRACT
    spec, s = open_session(str(CONTRACT / "mlp-softmax-l2-sgd.toml"))
    prog = s.program
    start = {k: v.copy() for k, v in prog.params().items()}
    s.run_to_end()
    end_values = snapshot(s)
    s.step()                   # past the end: the next iteration starts
    assert prog.iteration == 1 and s.tick == 1
    s.back(2)                  # back across the iteration boundary: the end of iteration 0
    assert prog.iteration == 0 and s.at_end
    same(snapshot(s), end_values)
    s.restart()
    for k, v in prog.params().items():
        np.testing.assert_array_equal(v, start[k])
    assert s.goto_iteration(3) and prog.iteration == 3
    assert s.goto_iteration(1) and prog.iteration == 1


def test_nan_stops_at_the_step_that_made_it():
    from tuinn.engine.build import open_session
    from tuinn.engine.run.controller import Controller, Progress
    from conftest import SCENARIOS
    for with_breakpoint in (True, False):       # the scenario's `nan` breakpoint, or the
        spec, s = open_session(str(SCENARIOS / "lr-too-large.toml"))   # built-in stop
        if not with_breakpoint:
            s.breakpoints.remove("nan")
        events = []
        c = Controller(s, events.append)
        c.run()
        assert c.wait_idle(60)
        last = [e for e in events if isinstance(e, Progress)][-1]
        assert last.stopped_because == ("breakpoint" if with_breakpoint else "nan")
        assert "NaN" in s.stopped_because or "Inf" in s.stopped_because
        assert s.nonfinite() is not None and s.current.node == "loss"
        it = s.iteration
        s.back(s.tick + 1)                      # stepping back: the end of the iteration before
        assert s.iteration == it - 1 and s.at_end and s.nonfinite() is None
        c.stop()
