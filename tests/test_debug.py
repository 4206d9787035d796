"""Breakpoints and watches: parsing, errors, the step they fire at, run mode + locate."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.engine.breakpoints import Breakpoints, locate, parse_breakpoint, run_to_hit
from tuinn.engine.build import build_program
from tuinn.engine.debug import WATCH_FUNCTIONS, debug_names
from tuinn.engine.session import Session
from tuinn.engine.watches import FUNCTIONS, Watches, parse_watch
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text

from conftest import SCENARIOS as SCENARIO_DIR

# ---------------------------------------------------------------- scenarios built here
MLP = """
[scenario]
name = "mlp"
kind = "network"
seed = 3
[data]
x = [[0.1, 0.9], [0.5, 0.2], [0.9, 0.7], [0.3, 0.4], [0.8, 0.1], [0.2, 0.6]]
y = [0, 1, 0, 1, 1, 0]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 4
[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 3
[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 3
[[model.layers]]
type = "sigmoid"
[[model.layers]]
type = "dense"
units = 2
[params]
"dense1.W" = [[0.5, -0.3, 0.2, 0.4], [0.1, 0.6, -0.2, 0.3]]
"dense1.b" = [-100.0, -100.0, 0.1, 0.2]
"dense3.W" = [[40.0, -40.0, 30.0], [-35.0, 45.0, 50.0], [42.0, 38.0, -41.0]]
[loss]
type = "softmax_ce"
[optimizer]
type = "sgd"
lr = 0.1
[train]
epochs = 20
batch_size = 3
"""

GRAPH_NAN = """
[scenario]
name = "log of a negative number"
kind = "graph"
[graph]
inputs = { x = -1.0, y = 2.0 }
expr = \"\"\"
q = log(x)
f = q * y
\"\"\"
"""


def session_of(text: str) -> Session:
    return Session(build_program(load_text(text, "test.toml")))


@pytest.fixture
def mlp():
    return session_of(MLP)


@pytest.fixture(scope="module")
def mlp_names():
    return debug_names(session_of(MLP).program)


def titles(session):
    return session.iteration, session.current.phase, session.current.node


def state(session) -> dict:
    """Everything a step leaves behind: position, tape, parameters."""
    t, prog = session.tape, session.program
    params = prog.params() if hasattr(prog, "params") else {}
    return {"where": (session.iteration, session.tick),
            "values": {k: np.array(v) for k, v in t.values.items()},
            "grads": {k: np.array(v) for k, v in t.grads.items()},
            "params": {k: np.array(v) for k, v in params.items()}}


def assert_same(a: dict, b: dict) -> None:
    assert a["where"] == b["where"]
    for part in ("values", "grads", "params"):
        assert a[part].keys() == b[part].keys(), part
        for k in a[part]:
            np.testing.assert_array_equal(a[part][k], b[part][k], err_msg=f"{part} {k}")


def by_hand(make, iteration: int, phase: str, node: str) -> dict:
    """Step a fresh session step by step to (iteration, phase node): the reference."""
    s = make()
    while True:
        s.step_over()
        if s.iteration == iteration and s.current.node == node and s.current.phase == phase:
            return state(s)
        assert s.iteration <= iteration


def run_fast(session, bps: Breakpoints, limit: int = 3000):
    """Run mode as the controller does it: fast iterations, first_hit_fast after each."""
    prog = session.program
    for _ in range(limit):
        prog.train_iteration()
        got = bps.first_hit_fast(prog)
        if got:
            return got
    return None


def fire_at(session, text: str, names=None, iterations: int = 1):
    """(iteration, phase, node, reason) where `text` first holds in step mode."""
    bps = Breakpoints.from_spec([text], names or debug_names(session.program))
    got = run_to_hit(session, bps, max_steps=iterations * len(session.steps))
    return None if got is None else (*titles(session), got[1])


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, kind, op, value, ref, phase, node", [
    ("nan", "nan", "", 0, None, "", ""),
    ("inf", "inf", "", 0, None, "", ""),
    ("nan in dense1", "nan", "", 0, "dense1", "", ""),
    ("inf in dense1.W", "inf", "", 0, "dense1.W", "", ""),
    ("nan in dense2.W.grad", "nan", "", 0, "dense2.W.grad", "", ""),
    ("grad_norm > 100", "grad_norm", ">", 100, None, "", ""),
    ("grad_norm(dense1.W) > 10", "grad_norm", ">", 10, "dense1.W", "", ""),
    ("loss < 0.05", "loss", "<", 0.05, None, "", ""),
    ("loss >= 1e1", "loss", ">=", 10, None, "", ""),
    ("loss <= -2", "loss", "<=", -2, None, "", ""),
    ("dead_relu > 0.5", "dead_relu", ">", 0.5, None, "", ""),
    ("dead_relu(relu1) > .5", "dead_relu", ">", 0.5, "relu1", "", ""),
    ("saturated > 0.9", "saturated", ">", 0.9, None, "", ""),
    ("saturated(sigmoid1) >= 0.9", "saturated", ">=", 0.9, "sigmoid1", "", ""),
    ("iteration == 100", "iteration", "==", 100, None, "", ""),
    ("epoch >= 3", "epoch", ">=", 3, None, "", ""),
    ("step dense2", "step", "", 0, None, "", "dense2"),
    ("step backward dense2", "step", "", 0, None, "backward", "dense2"),
    ("step update dense1.W", "step", "", 0, None, "update", "dense1.W"),
    ("  layer relu1 ", "layer", "", 0, None, "", "relu1"),
])
def test_every_kind_parses(text, kind, op, value, ref, phase, node, mlp_names):
    for names in (mlp_names, None):
        bp = parse_breakpoint(text, names)
        assert (bp.text, bp.kind, bp.op, bp.phase, bp.node) == (text.strip(), kind, op, phase, node)
        assert bp.value == pytest.approx(value)
        assert (bp.ref.text if bp.ref else None) == ref
        assert bp.enabled and bp.hits == 0


@pytest.mark.parametrize("text, message, hint", [
    ("grad_norm >", "expected a number after '>', got the end (column 12)", None),
    ("loss << 1", "expected a number after '<', got '<' (column 7)", None),
    ("loss < 1 2", "unexpected '2' after the breakpoint (column 10)", None),
    ("loss", "expected a comparison", "loss > 1"),
    ("loss = 1", "use '==' to compare (column 6)", None),
    ("loss == 0.1", "compares floats exactly", "use <"),
    ("nan in nosuch", "no tensor named 'nosuch' (column 8)", "names: input, loss"),
    ("nan in dense1.w", "no tensor named 'dense1.w'", "did you mean 'dense1.W'?"),
    ("nan in", "expected a tensor name after 'in', got the end", None),
    ("nan dense1", "expected 'in' or the end after 'nan'", "nan in dense1"),
    ("foo > 1", "unknown breakpoint 'foo' (column 1)", "breakpoints: nan, inf"),
    ("los < 1", "unknown breakpoint 'los'", "did you mean 'loss'?"),
    ("dense1 > 1", "unknown breakpoint 'dense1'", "use nan in dense1, or watch it"),
    ("__import__('os')", "names starting with '__' are not allowed", None),
    ("loss < 1; nan", "one breakpoint or watch per entry", None),
    ("nan in dense1.W.grad.grad", "a gradient has no gradient here", "write 'dense1.W.grad'"),
    ("grad_norm(dense1.W.grad) > 1", "takes a name, not a gradient", "grad_norm(dense1.W)"),
    ("grad_norm(relu1) > 1", "relu1 has no parameters", None),
    ("dead_relu(dense1) > 0.5", "takes a relu layer; 'dense1' is a dense layer", "relu1, relu2"),
    ("saturated(relu1) > 0.5", "'relu1' is a relu layer", "sigmoid1"),
    ("dead_relu > 1.5", "a share between 0 and 1, got 1.5", None),
    ("iteration == 2.5", "expected a whole number", None),
    ("epoch >= -1", "expected a whole number", None),
    ("loss(dense1) < 1", "loss takes no argument", None),
    ("step sideways dense1", "unknown phase 'sideways' (column 6)", "phases: forward"),
    ("step update relu1", "relu1 has no update step", "forward, backward"),
    ("step dens2", "no step named 'dens2'", "did you mean 'dense2'?"),
    ("layer dens1", "no layer named 'dens1'", "did you mean 'dense1'?"),
    ("layer loss", "not a layer: 'loss'", None),
    ("", "empty breakpoint", None),
    ("loss < 'a'", "strings are not allowed (column 8)", None),
    ("nan in dense1[0]", "indexing is not supported", None),
    ("loss < 1x", "malformed number '1x'", None),
])
def test_malformed_breakpoints(text, message, hint, mlp_names):
    with pytest.raises(TuinnError) as err:
        parse_breakpoint(text, mlp_names)
    assert message in err.value.message
    assert err.value.message.startswith(f"breakpoint {text.strip()!r}: ")
    if hint:
        assert hint in (err.value.hint or "")


def test_from_spec_errors_name_the_key(mlp_names):
    with pytest.raises(TuinnError) as err:
        Breakpoints.from_spec(["nan", "los < 1"], mlp_names, file="s.toml", line=40)
    assert err.value.key == "debug.breakpoints" and err.value.where == "s.toml:40"
    with pytest.raises(TuinnError) as err:
        Watches.from_spec(["dense1.W", "dense9"], mlp_names)
    assert err.value.key == "debug.watch" and "did you mean 'dense4'?" in err.value.hint


def test_graph_only_accepts_graph_breakpoints():
    names = debug_names(session_of(GRAPH_NAN).program)
    for text in ("nan", "inf in q", "nan in y.grad", "loss > 1", "grad_norm(x) > 1", "step q",
                 "step backward f"):
        parse_breakpoint(text, names)
    for text, message in (("iteration == 1", "for network scenarios"),
                          ("layer q", "for network scenarios"),
                          ("dead_relu > 0.1", "for network scenarios"),
                          ("step nosuch", "no step named 'nosuch'"),
                          ("nan in qq", "no tensor named 'qq'")):
        with pytest.raises(TuinnError, match=message):
            parse_breakpoint(text, names)


# ---------------------------------------------------------------- where they fire: step mode
def test_dead_relu_fires_after_the_relu_forward(mlp):
    names = debug_names(mlp.program)
    # dense1.b = -100 kills units 0 and 1 of relu1 (inputs in [0, 1], small weights)
    it, phase, node, why = fire_at(mlp, "dead_relu(relu1) >= 0.5", names)
    assert (it, phase, node) == (0, "forward", "relu1")
    assert "dead_relu(relu1) = 0.5 >= 0.5 (2 of 4 units) at forward relu1" == why
    assert fire_at(session_of(MLP), "dead_relu(relu1) > 0.5", names) is None
    # over all relu layers: decided after the last relu's forward step, naive count
    s = session_of(MLP)
    while s.current is None or s.current.node != "relu2":
        s.step_over()
    dead = [int((np.asarray(s.tape.values[r]) == 0).all(axis=0).sum()) for r in ("relu1", "relu2")]
    share = sum(dead) / 7
    s = session_of(MLP)
    it, phase, node, why = fire_at(s, f"dead_relu > {share - 1e-9}", names)
    assert (it, phase, node) == (0, "forward", "relu2")
    assert f"({sum(dead)} of 7 units)" in why
    assert fire_at(session_of(MLP), f"dead_relu > {share + 1e-9}", names) is None


def test_saturated_sigmoid_with_large_weights(mlp):
    names = debug_names(mlp.program)
    it, phase, node, why = fire_at(mlp, "saturated > 0.6", names)
    assert (it, phase, node) == (0, "forward", "sigmoid1")
    y = np.asarray(mlp.tape.values["sigmoid1"])
    sat = int(((y < 0.05) | (y > 0.95)).sum())
    assert sat / y.size > 0.6 and f"({sat} of {y.size} values)" in why
    assert why.startswith(f"saturated = {sat / y.size:.4f}".rstrip("0").rstrip("."))


def test_saturated_lstm_gates(scenario):
    _, s = scenario("lstm")
    s.step_over()                                  # forward lstm1
    layer = s.program.layers[0]
    c = layer.cache
    sat = sum(int(((c[k] < 0.05) | (c[k] > 0.95)).sum()) for k in "ifo")
    sat += int((np.abs(c["g"]) > 0.95).sum())
    share = sat / (4 * c["f"].size)
    _, s = scenario("lstm")
    it, phase, node, why = fire_at(s, f"saturated(lstm1) >= {share}")
    assert (it, phase, node) == (0, "forward", "lstm1")
    assert f"({sat} of {4 * c['f'].size} values)" in why
    _, s = scenario("lstm")
    assert fire_at(s, f"saturated(lstm1) > {share}") is None


def test_grad_norm_waits_for_the_backward_step_that_completes_it(scenario):
    _, s = scenario("lr-too-large")
    s.run_to_end()
    grads = {k: np.asarray(s.tape.grads[k]) for k in s.program.param_layers}
    total = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    w2 = float(np.sqrt((grads["dense2.W"] ** 2).sum()))
    _, s = scenario("lr-too-large")
    it, phase, node, why = fire_at(s, f"grad_norm > {total * (1 - 1e-9)}")
    assert (it, phase, node) == (0, "backward", "dense1")      # dense1's grads come last
    assert why.startswith("grad_norm = ")
    _, s = scenario("lr-too-large")
    it, phase, node, why = fire_at(s, f"grad_norm(dense2.W) >= {w2 * (1 - 1e-9)}")
    assert (it, phase, node) == (0, "backward", "dense2")
    assert why.startswith("grad_norm(dense2.W) = ") and why.endswith("at backward dense2")
    _, s = scenario("lr-too-large")
    assert fire_at(s, f"grad_norm > {total * (1 + 1e-9)}") is None


def test_loss_iteration_and_epoch(mlp):
    names = debug_names(mlp.program)
    prog = mlp.program
    assert prog.per_epoch == 2
    it, phase, node, why = fire_at(mlp, "iteration == 3", names, iterations=6)
    assert (it, phase, node) == (3, "forward", "dense1") and mlp.tick == 1
    assert why == "iteration 3 (iteration == 3) at forward dense1"
    s = session_of(MLP)
    assert fire_at(s, "epoch == 2", names, iterations=9)[:3] == (4, "forward", "dense1")
    s = session_of(MLP)             # >= holds where it becomes true, once
    bps = Breakpoints.from_spec(["iteration >= 2"], names)
    assert run_to_hit(s, bps, max_steps=10 * len(s.steps)) and s.iteration == 2
    assert run_to_hit(s, bps, max_steps=5 * len(s.steps)) is None and bps[0].hits == 1
    s = session_of(MLP)
    s.run_to_end()
    loss = float(s.tape.values["loss"])
    s = session_of(MLP)
    it, phase, node, why = fire_at(s, f"loss >= {loss}", names)
    assert (it, phase, node) == (0, "forward", "loss") and why.startswith("loss ")


def test_step_and_layer_breakpoints(mlp):
    names = debug_names(mlp.program)
    bps = Breakpoints.from_spec(["layer relu1"], names)
    seen = [titles(mlp) for _ in range(3) if run_to_hit(mlp, bps)]
    assert seen == [(0, "forward", "relu1"), (0, "backward", "relu1"), (1, "forward", "relu1")]
    assert bps[0].hits == 3
    s = session_of(MLP)
    assert fire_at(s, "step backward dense2", names)[:3] == (0, "backward", "dense2")
    s = session_of(MLP)
    assert fire_at(s, "step update dense1.W", names)[:3] == (0, "update", "dense1.W")
    s = session_of(MLP)
    it, phase, node, why = fire_at(s, "step dense2", names)
    assert (phase, node, why) == ("forward", "dense2", "step dense2: at forward dense2")
    s = session_of(MLP)
    assert fire_at(s, "layer dense1", names)[:3] == (0, "forward", "dense1")


def test_named_nan_in_a_graph_and_its_first_step():
    s = session_of(GRAPH_NAN)
    names = debug_names(s.program)
    assert fire_at(s, "nan", names) == (0, "forward", "q", "NaN in q = nan at forward q")
    s = session_of(GRAPH_NAN)
    assert fire_at(s, "nan in f", names)[1:3] == ("forward", "f")
    s = session_of(GRAPH_NAN)       # y.grad = q = NaN, written by f's backward step
    assert fire_at(s, "nan in y.grad", names)[1:] == ("backward", "f",
                                                      "NaN in y.grad = nan at backward f")
    s = session_of(GRAPH_NAN)
    assert fire_at(s, "inf", names) is None and s.at_end
    s.set_input("x", 0.0)                      # log(0) = -inf: both fire, and say Inf
    s.restart()
    assert fire_at(s, "inf", names)[1:] == ("forward", "q", "Inf in q = -inf at forward q")
    s.restart()
    assert fire_at(s, "nan", names)[1:] == ("forward", "q", "Inf in q = -inf at forward q")


def test_graph_loss_grad_norm_and_step(scenario):
    _, s = scenario("branch")                  # q = x*y, f = q + x; x = 3, y = -2
    assert fire_at(s, "loss < -2.5")[1:] == ("forward", "f", "loss -3 < -2.5 at forward f")
    _, s = scenario("branch")
    why = fire_at(s, "grad_norm > 3")[3]       # |(df/dx, df/dy)| = |(-1, 3)|
    assert why == f"grad_norm = {np.sqrt(10):.4f} > 3 at backward q"
    _, s = scenario("branch")
    assert fire_at(s, "grad_norm(x) > 1") is None
    _, s = scenario("branch")
    assert fire_at(s, "step backward q")[1:3] == ("backward", "q")


# ---------------------------------------------------------------- run mode, then locate
def test_nonfinite_fast_then_locate_lands_on_the_exact_step(scenario):
    make = lambda: scenario("lr-too-large")[1]          # noqa: E731
    # the reference: run mode's own NaN/Inf stop (controller._run_mode)
    s = make()
    while np.isfinite(s.program.train_iteration()) and s.program.params_finite():
        pass
    assert s.goto_nonfinite() == "Inf in the value of forward loss"
    first = titles(s)
    # nan: NaN or Inf, as run mode's own stop; inf: Inf only; in TENSOR: that tensor only
    for text, where in (("inf", first), ("nan", first), ("inf in loss", first),
                        ("nan in tanh1", (167, "forward", "tanh1"))):
        s = make()
        bps = Breakpoints.from_spec([text], debug_names(s.program))
        bp, why = run_fast(s, bps)
        assert s.program.iteration == where[0] + 1 and bp.hits == 1, why
        assert why.endswith(f"in iteration {where[0]}")
        why = locate(s, bps, bp)
        assert titles(s) == where and s.stopped_because == why and bp.hits == 1
        assert why.startswith(("Inf in loss = inf at forward loss", "NaN in tanh1 ("))
        assert_same(state(s), by_hand(make, *where))


def test_loss_threshold_fast_and_step_agree(scenario):
    make = lambda: scenario("lr-just-right")[1]         # noqa: E731
    ref = make().program
    losses = [ref.train_iteration() for _ in range(120)]
    first = next(i for i, v in enumerate(losses) if v < 0.05)
    s = make()
    bps = Breakpoints.from_spec(["grad_norm > 1e9", "loss < 0.05"], debug_names(s.program))
    bp, why = run_fast(s, bps)
    assert bp.text == "loss < 0.05" and why.endswith(f"< 0.05 in iteration {first}")
    assert locate(s, bps, bp) == f"loss {losses[first]:.4f}".rstrip("0") + " < 0.05 at forward loss"
    assert titles(s) == (first, "forward", "loss")
    assert_same(state(s), by_hand(make, first, "forward", "loss"))
    s = make()
    got = run_to_hit(s, Breakpoints.from_spec(["loss < 0.05"]))
    assert got and titles(s) == (first, "forward", "loss")


def test_grad_norm_iteration_fast_then_locate(scenario):
    make = lambda: scenario("lr-too-large")[1]          # noqa: E731
    ref = make().program
    norms = []
    for _ in range(10):
        ref.train_iteration()
        norms.append(np.sqrt(sum((np.asarray(g) ** 2).sum() for g in
                                 (la.grads[k] for la, k in ref.param_layers.values()))))
    first = next(i for i, v in enumerate(norms) if v > 100)
    for text, node in (("grad_norm > 100", "dense1"), ("iteration == 3", "dense1"),
                       ("grad_norm(dense2.b) > 100", "dense2")):
        s = make()
        bps = Breakpoints.from_spec([text], debug_names(s.program))
        bp, _ = run_fast(s, bps)
        it = s.program.iteration - 1
        if text.startswith("iteration"):
            assert it == 3
        elif text == "grad_norm > 100":
            assert it == first
        why = locate(s, bps, bp)
        phase = "forward" if text.startswith("iteration") else "backward"
        assert titles(s) == (it, phase, node), why
        assert_same(state(s), by_hand(make, it, phase, node))


def test_step_breakpoint_in_run_mode_goes_to_the_next_iteration(mlp):
    bps = Breakpoints.from_spec(["nan", "step backward relu2"], debug_names(mlp.program))
    for _ in range(4):
        mlp.program.train_iteration()
    bp, why = bps.first_hit_fast(mlp.program)
    assert why == "the next iteration will reach step backward relu2"
    assert locate(mlp, bps, bp) == "step backward relu2: at backward relu2"
    assert titles(mlp) == (4, "backward", "relu2")
    assert_same(state(mlp), by_hand(lambda: session_of(MLP), 4, "backward", "relu2"))


def test_locate_without_a_confirming_step_stands_at_the_next_iteration(mlp):
    bps = Breakpoints.from_spec(["loss > 1e9"], debug_names(mlp.program))
    mlp.program.train_iteration()
    assert locate(mlp, bps) is None
    assert mlp.iteration == 1 and mlp.tick == 0


# ---------------------------------------------------------------- the collection
def test_hits_enable_disable_remove(mlp):
    names = debug_names(mlp.program)
    bps = Breakpoints.from_spec(["layer relu2", "step forward dense3"], names)
    assert bps.add("layer relu2", names) is bps[0] and len(bps) == 2
    assert run_to_hit(mlp, bps)[0] is bps[0]
    assert bps.toggle("layer relu2") is False and not bps[0].enabled
    assert run_to_hit(mlp, bps)[0] is bps[1]
    assert [b.hits for b in bps] == [1, 1]
    assert bps.toggle(0) is True
    run_to_hit(mlp, bps)
    assert titles(mlp) == (0, "backward", "relu2") and bps[0].hits == 2
    bps.toggle(1, enabled=False)
    assert bps.active == [bps[0]]
    assert bps.remove("layer relu2").text == "layer relu2" and len(bps) == 1
    with pytest.raises(TuinnError, match="no breakpoint"):
        bps.find("layer relu3")
    assert bps.first_hit_step(mlp) is None      # the one left is disabled
    assert bps.first_hit_fast(mlp.program) is None


# ---------------------------------------------------------------- watches
@pytest.mark.parametrize("text, message, hint", [
    ("dense1.W.grad.grad", "a gradient has no gradient here", "write 'dense1.W.grad'"),
    ("dense1.w", "no tensor named 'dense1.w'", "did you mean 'dense1.W'?"),
    ("dense_1", "no tensor named 'dense_1'", "did you mean 'dense1'?"),
    ("__import__('os')", "names starting with '__' are not allowed", None),
    ("os.system", "no tensor named 'os.system'", "names: input, loss"),
    ("foo(dense1.W)", "unknown function 'foo'", "functions: norm"),
    ("nrom(dense1.W)", "unknown function 'nrom'", "did you mean 'norm'?"),
    ("max(abs(norm(dense1.W)))", "at most one function inside another", None),
    ("max(dense1.W, dense1.b)", "max() takes one argument", None),
    ("max(dense1.W", "expected ')' to close max(, got the end", None),
    ("dense1.W + 1", "unexpected '+' after the watch (column 10)", None),
    ("loss.grad", "loss.grad is 1 by definition", None),
    ("relu1.mask.grad", "is a cache array of relu1: its gradient is not kept", "relu1.grad"),
    ("dense1.", "expected a name after '.', got the end", None),
    ("1", "expected a tensor name, got '1'", None),
    ("", "empty watch", None),
])
def test_malformed_watches(text, message, hint, mlp_names):
    with pytest.raises(TuinnError) as err:
        parse_watch(text, mlp_names)
    assert message in err.value.message and err.value.message.startswith("watch ")
    if hint:
        assert hint in (err.value.hint or "")


def test_network_watches_before_and_after_their_steps(mlp):
    names = debug_names(mlp.program)
    ws = Watches.from_spec(["dense1", "dense1.W", "dense1.W.grad", "max(abs(dense1.W.grad))",
                            "dense1.grad", "relu1.mask", "loss", "input", "norm(dense2.b)",
                            "mean(sigmoid1)"], names)
    prog, tape = mlp.program, mlp.tape
    layer = prog.layers[0]
    seen = {}
    while not mlp.at_end:
        vals = {v.text: v for v in ws.evaluate(mlp)}
        st = mlp.current
        done = [] if st is None else [s.title for s in mlp.steps[:st.index + 1]]
        assert vals["dense1"].available == ("forward dense1" in done)
        assert vals["dense1.W.grad"].available == ("backward dense1" in done)
        assert vals["dense1.grad"].available == ("backward relu1" in done)
        assert vals["relu1.mask"].available == ("forward relu1" in done)
        assert vals["loss"].available == ("forward loss" in done)
        assert vals["input"].available and vals["dense1.W"].available
        assert vals["dense1.W.grad"].format() in ("not yet", vals["dense1.W.grad"].format())
        np.testing.assert_array_equal(vals["dense1.W"].value, layer.params["W"])
        np.testing.assert_array_equal(vals["input"].value, tape.values["input"])
        seen.update({k: v for k, v in vals.items() if v.available})
        mlp.step_over()
    vals = {v.text: v for v in ws.evaluate(mlp)}
    np.testing.assert_array_equal(vals["dense1"].value, tape.values["dense1"])
    np.testing.assert_array_equal(vals["dense1.W.grad"].value, tape.grads["dense1.W"])
    assert vals["max(abs(dense1.W.grad))"].value == np.abs(tape.grads["dense1.W"]).max()
    np.testing.assert_array_equal(vals["dense1.grad"].value, tape.grads["dense1"])
    assert vals["loss"].value == float(tape.values["loss"])
    assert vals["norm(dense2.b)"].value == pytest.approx(np.linalg.norm(prog.params()["dense2.b"]))
    assert vals["mean(sigmoid1)"].value == pytest.approx(np.mean(tape.values["sigmoid1"]))
    assert isinstance(vals["loss"].value, float) and vals["loss"].format() == \
        f"{vals['loss'].value:.4f}".rstrip("0")
    before = vals["dense1"].value.copy()
    mlp.step()                                  # the next iteration: a new pass
    vals = {v.text: v for v in ws.evaluate(mlp)}
    assert not vals["dense1.W.grad"].available and vals["dense1.W.grad"].note == "not yet"
    assert vals["dense1.W.grad"].format() == "not yet"
    assert not np.array_equal(vals["dense1"].value, before)   # a new batch, new weights


def test_watches_in_run_mode(mlp):
    names = debug_names(mlp.program)
    ws = Watches.from_spec(["dense1.W.grad", "dense1.W", "loss", "relu1", "dense4.grad",
                            "dense1.grad", "input.grad", "sum(relu1.mask)", "input"], names)
    prog = mlp.program
    assert [v.available for v in ws.evaluate_program(prog)] == [True, True] + [False] * 7
    prog.train_iteration()
    vals = {v.text: v for v in ws.evaluate_program(prog)}
    # the same iteration stepped by hand
    s = session_of(MLP)
    s.run_to_end()
    t = s.tape
    np.testing.assert_array_equal(vals["dense1.W.grad"].value, t.grads["dense1.W"])
    np.testing.assert_array_equal(vals["dense1.W"].value, t.values["dense1.W"])   # updated
    assert vals["loss"].value == float(t.values["loss"])
    np.testing.assert_array_equal(vals["relu1"].value, t.values["relu1"])
    np.testing.assert_array_equal(vals["dense4.grad"].value, t.grads["dense4"])
    np.testing.assert_array_equal(vals["input"].value, t.values["input"])
    assert vals["sum(relu1.mask)"].value == (np.asarray(t.values["relu1"]) > 0).sum()
    for text in ("dense1.grad", "input.grad"):
        assert not vals[text].available and vals[text].note == "not kept in run mode"
    vals["relu1"].value[...] = 7                 # a copy: the engine's buffers are untouched
    assert not (ws.evaluate_program(prog)[3].value == 7).all()
    assert ws.add("loss") is ws.items[2] and len(ws) == 9
    assert ws.remove("loss").text == "loss" and ws.remove(0).text == "dense1.W.grad"
    with pytest.raises(TuinnError, match="no watch"):
        ws.remove("loss")
    assert set(FUNCTIONS) == set(WATCH_FUNCTIONS)


def test_lstm_cache_watches(scenario):
    _, s = scenario("lstm")
    ws = Watches.from_spec(["lstm1.f", "mean(lstm1.f)", "lstm1.df", "lstm1.grad", "lstm1"],
                           debug_names(s.program))
    assert [v.available for v in ws.evaluate(s)] == [False] * 5
    s.step(3)                                    # inside forward lstm1, timestep 3
    f, mean_f, df, g, out = ws.evaluate(s)
    cache = s.program.layers[0].cache
    np.testing.assert_array_equal(f.value, cache["f"])
    assert f.value.shape == (32, 10, 16) and mean_f.value == pytest.approx(cache["f"].mean())
    assert not df.available and not g.available and out.available
    np.testing.assert_array_equal(out.value, cache["h"][:, -1])
    s.run_to_end()
    f, mean_f, df, g, out = ws.evaluate(s)
    assert df.available and g.available
    np.testing.assert_array_equal(df.value, cache["df"])


def test_graph_watches_show_gradients_arriving_in_parts(scenario):
    _, s = scenario("branch")                    # q = x*y, f = q + x; x = 3, y = -2
    ws = Watches.from_spec(["x", "x.grad", "q", "abs(x.grad)", "norm(y.grad)"],
                           debug_names(s.program))
    rows = []
    while not s.at_end:
        s.step_over()
        rows.append([v.value if v.available else None for v in ws.evaluate(s)])
    assert rows == [[3.0, None, -6.0, None, None],        # forward q
                    [3.0, None, -6.0, None, None],        # forward f
                    [3.0, 1.0, -6.0, 1.0, None],          # backward f: x's direct part
                    [3.0, -1.0, -6.0, 1.0, 3.0]]          # backward q: + y = -2
    assert ws.items[0].evaluate_program(s.program).note == "a graph has no run mode"


# ---------------------------------------------------------------- every bundled scenario
BUNDLED = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
# scenarios whose lesson is units that are dead from the start
DEAD_ON_PURPOSE = {"init-zeros", "preprocess-none"}


@pytest.mark.parametrize("name", BUNDLED)
def test_every_name_of_every_bundled_scenario_reads(name, scenario):
    _, s = scenario(name)
    prog = s.program
    if prog.kind == "gan":
        pytest.skip("gan: no watches; its breakpoints are tested in tests/test_gan.py")
    if prog.kind == "knn":
        pytest.skip("knn: breakpoints and watches are refused (tests/test_knn.py)")
    names = debug_names(prog)
    texts = list(names) + [f"{n}.grad" for n, k in names.items()
                           if k.split(":")[0] in ("input", "layer", "param", "value")]
    ws = Watches.from_spec(texts + [f"max(abs({t}))" for t in texts], names)
    candidates = ["nan", "inf", "grad_norm > 1e9", "loss < -1e300", "dead_relu > 0.99",
                  "saturated > 0.999", "iteration == 5", "epoch == 3"]
    candidates += [f"nan in {t}" for t in texts] + [f"step {st.title}" for st in prog.steps[:3]]
    bps = Breakpoints()
    for text in candidates:
        try:
            bps.add(text, names)
        except TuinnError:
            assert text in ("dead_relu > 0.99", "saturated > 0.999", "iteration == 5",
                            "epoch == 3")
    got = []
    while not s.at_end:
        s.step_over()
        values = ws.evaluate(s)
        assert all(isinstance(v.value, (np.ndarray, float)) == v.available for v in values)
        hit = bps.first_hit_step(s)
        got.append(hit and hit[0].kind)
    assert {"nan", "inf"}.isdisjoint(got)      # a healthy first pass
    dead = {"dead_relu"} if name in DEAD_ON_PURPOSE else set()
    assert set(got) - {None} <= {"step"} | dead
    if prog.kind == "network":
        prog.train_iteration()
        values = ws.evaluate_program(prog)
        assert all(v.available or v.note for v in values)
        assert {v.text for v in values if v.available} >= {"loss", "input"} | set(prog.param_layers)
        hit = bps.first_hit_fast(prog)
        expected = {"step", "dead_relu"} if name in DEAD_ON_PURPOSE else {"step"}
        assert hit and hit[0].kind in expected              # only "the next iteration ..."
