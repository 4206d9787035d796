"""`trainable = false`: frozen parameters keep their values, get no gradient, add nothing to
L2 and are skipped by the optimizer and gradcheck; gradients still flow through them.

Checked against a plain NumPy reference (tests/naive_network.py) and centred differences
in float64, on the step-by-step path, the trace, run mode's fast path (which must agree
with the step path bit for bit) and the switch the app's T key uses.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import naive_network as naive
from tuinn.cli import app
from tuinn.engine.build import build_session
from tuinn.engine.gradcheck import gradcheck, param_check
from tuinn.engine.network import NetworkProgram
from tuinn.engine.run.packed import PackedParams
from tuinn.engine.trace import network_trace
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text


def scenario(frozen=("dense2",), optim="adam", l2=0.05, loss="softmax_ce", block=False,
             dtype="float64", batch=0, extra="") -> str:
    """blobs (3 classes) -> dense 6, tanh, dense 5 [or a residual block], relu, dense 3."""
    def t(name):
        return "\ntrainable = false" if name in frozen else ""
    middle = (f'[[model.layers]]\ntype = "residual"{t("block")}\n'
              f'layers = [{{ type = "dense", units = 6 }}, {{ type = "tanh" }}]\n'
              if block else f'[[model.layers]]\ntype = "dense"\nunits = 5{t("dense2")}\n')
    return f"""[scenario]
name = "frozen"
kind = "network"
seed = 4
dtype = "{dtype}"
[data]
generator = "blobs"
samples = 40
classes = 3
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 6{t("dense1")}
[[model.layers]]
type = "tanh"
{middle}[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 3{t("dense3")}
[loss]
type = "{loss}"
l2 = {l2}
[optimizer]
type = "{optim}"
lr = 0.05
[train]
epochs = 50
batch_size = {batch}
{extra}"""


def program(text: str, fast: bool = True) -> NetworkProgram:
    if fast:
        return NetworkProgram(load_text(text, "frozen.toml"))
    with pytest.MonkeyPatch.context() as mp:         # the plain path: nothing packed
        mp.setattr(PackedParams, "packable", staticmethod(lambda *a: False))
        prog = NetworkProgram(load_text(text, "plain.toml"))
    assert prog.packed is None and prog._plans is None
    return prog


def copies(prog) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in prog.params().items()}


# ------------------------------------------------------------------ the loader
def test_every_layer_takes_trainable_and_it_must_be_a_boolean():
    spec = load_text(scenario(frozen=("dense2",)), "f.toml")
    assert [la.trainable for la in spec.network.layers] == [True, True, False, True, True]
    assert "trainable" not in spec.network.layers[2].options
    bad = scenario(frozen=()).replace('units = 5', 'units = 5\ntrainable = "no"')
    with pytest.raises(TuinnError) as e:
        load_text(bad, "f.toml")
    assert e.value.key == "model.layers.2.trainable" and e.value.line == 20
    assert "true or false" in e.value.message
    typo = scenario(frozen=()).replace('units = 5', 'units = 5\ntrainabel = false')
    with pytest.raises(TuinnError) as e:
        load_text(typo, "f.toml")
    assert e.value.hint == "did you mean 'trainable'?"


# ------------------------------------------------------------------ the numbers
def test_frozen_layer_against_a_numpy_reference():
    """dense1 (frozen) -> relu -> dense2, softmax_ce + L2 over dense2.W only, sgd."""
    text = """[scenario]
name = "ref"
kind = "network"
[data]
x = [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]]
y = [0, 1, 1]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 3
trainable = false
[[model.layers]]
type = "relu"
[[model.layers]]
type = "dense"
units = 2
[loss]
l2 = 0.1
[optimizer]
lr = 0.5
[train]
shuffle = false
"""
    session = build_session(load_text(text, "ref.toml"))
    prog = session.program
    W1, b1, W2, b2 = (prog.params()[k].copy() for k in ("dense1.W", "dense1.b",
                                                         "dense2.W", "dense2.b"))
    x, y = prog.x, prog.y
    h_pre = naive.dense_forward(x, W1, b1)
    s = naive.dense_forward(naive.relu(h_pre), W2, b2)
    data_loss, ds = naive.softmax_ce(s, y)
    loss = data_loss + naive.l2(0.1, [W2])                # the frozen W1 adds nothing
    dh, dW2, db2 = naive.dense_backward(naive.relu(h_pre), W2, ds)
    dx, _, _ = naive.dense_backward(x, W1, naive.relu_grad(h_pre, dh))
    events = list(network_trace(session, 2))
    it0, it1 = [e for e in events if e["event"] == "iteration"]
    assert np.isclose(it0["loss"], loss, rtol=1e-12)
    p = it0["params"]
    assert p["dense1.W"] == {"value": W1.tolist(), "frozen": True}
    assert p["dense1.b"] == {"value": b1.tolist(), "frozen": True}
    assert np.allclose(p["dense2.W"]["grad"], dW2 + 0.2 * W2, rtol=1e-12)
    assert np.allclose(p["dense2.b"]["grad"], db2, rtol=1e-12)
    assert "frozen" not in p["dense2.W"]
    assert it1["params"]["dense1.W"]["value"] == W1.tolist()          # kept exactly
    assert np.allclose(it1["params"]["dense2.W"]["value"], W2 - 0.5 * (dW2 + 0.2 * W2))
    # the gradient still flows through the frozen layer to the input
    grads = [e for e in events if e["event"] == "step" and e["iteration"] == 0
             and e["phase"] == "backward" and e["node"] == "dense1"]
    assert grads and np.allclose(grads[0]["grad"], naive.relu_grad(h_pre, dh))
    fresh = build_session(load_text(text, "ref.toml"))
    fresh.finish_phase()
    fresh.finish_phase()                                  # forward, then backward
    assert np.allclose(fresh.tape.grads["input"], dx, rtol=1e-12)
    updates = [e for e in events if e["event"] == "step" and e["phase"] == "update"
               and e["iteration"] == 0]
    by_node = {e["node"]: e for e in updates}
    assert by_node["dense1.W"]["frozen"] is True and "grad" not in by_node["dense1.W"]
    assert by_node["dense1.W"]["value"] == W1.tolist()
    assert "grad" in by_node["dense2.W"]


def test_gradient_flows_through_a_frozen_layer_unchanged():
    """Freezing dense2 changes no gradient of dense1 (no L2): the same backward pass."""
    sf = build_session(load_text(scenario(l2=0.0), "f.toml"))
    su = build_session(load_text(scenario(frozen=(), l2=0.0), "u.toml"))
    for s in (sf, su):
        s.finish_phase()
        s.finish_phase()                            # forward, then backward
    for k in ("input", "dense1.W", "dense1.b", "dense3.W"):
        assert np.array_equal(sf.tape.grads[k], su.tape.grads[k])
    assert "dense2.W" not in sf.tape.grads and "dense2.W" in su.tape.grads


def test_gradcheck_skips_frozen_parameters_and_checks_the_rest():
    spec = load_text(scenario(frozen=("dense2",), l2=0.1), "f.toml")
    results = gradcheck(spec)
    assert [r.name for r in results] == ["dense1.W", "dense1.b", "dense3.W", "dense3.b"]
    assert all(r.ok for r in results), [(r.name, r.worst) for r in results]
    session = build_session(spec)
    with pytest.raises(TuinnError, match="frozen"):
        param_check(session, "dense2.W")
    assert param_check(session, "dense1.W").ok


def test_frozen_weights_add_nothing_to_l2():
    prog = program(scenario(frozen=("dense2",), l2=0.3))
    w = prog.params()
    expected = 0.3 * sum(float((w[k] ** 2).sum()) for k in ("dense1.W", "dense3.W"))
    assert prog.l2_value() == pytest.approx(expected, rel=1e-14)


# ------------------------------------------------------------------ run mode
@pytest.mark.parametrize("optim", ["sgd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_fast_path_and_step_path_agree_with_a_frozen_layer(optim, l2):
    text = scenario(frozen=("dense2",), optim=optim, l2=l2, batch=16)
    fast, plain = program(text, True), program(text, False)
    stepped = build_session(load_text(text, "s.toml"))
    assert fast._plans is not None                   # the fused chain runs
    before = copies(fast)
    for _ in range(7):
        a, b = fast.train_iteration(), plain.train_iteration()
        stepped.next_iteration()
        assert a == b
    pa, pb, ps = fast.params(), plain.params(), stepped.program.params()
    for k in pa:
        assert pa[k].tobytes() == pb[k].tobytes() == ps[k].tobytes(), k
    for k in ("dense2.W", "dense2.b"):
        assert np.array_equal(pa[k], before[k])      # frozen: kept exactly
        assert not fast.layers[2].grads[k[-1]].any()      # and no gradient
    assert not np.array_equal(pa["dense1.W"], before["dense1.W"])
    assert fast.optimizer.state("dense2.W") == {}    # the optimizer never saw it


def test_a_frozen_residual_block_freezes_its_layers():
    text = scenario(frozen=("block",), block=True)
    prog = program(text)
    inner = prog.layers[2].children()
    assert not prog.layers[2].trainable and not any(la.trainable for la in inner)
    assert prog.frozen == {"dense2.W", "dense2.b"}
    before = copies(prog)
    for _ in range(5):
        prog.train_iteration()
    assert np.array_equal(prog.params()["dense2.W"], before["dense2.W"])
    assert not np.array_equal(prog.params()["dense3.W"], before["dense3.W"])


def test_set_trainable_freezes_and_unfreezes_mid_training():
    """The app's T key: frozen from the next step on, momentum state and all; unfrozen,
    the layer trains again."""
    prog = program(scenario(frozen=(), optim="momentum"))
    for _ in range(3):
        prog.train_iteration()
    assert prog.set_trainable("dense2", False) == ["dense2.W", "dense2.b"]
    held = copies(prog)
    for _ in range(4):
        prog.train_iteration()
    assert np.array_equal(prog.params()["dense2.W"], held["dense2.W"])
    assert not np.array_equal(prog.params()["dense1.W"], held["dense1.W"])
    prog.set_trainable("dense2", True)
    assert prog.frozen == frozenset()
    prog.train_iteration()
    assert not np.array_equal(prog.params()["dense2.W"], held["dense2.W"])
    with pytest.raises(TuinnError):
        prog.set_trainable("nope", False)


def test_trace_json_marks_frozen_parameters(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text(scenario(frozen=("dense3",)))
    r = CliRunner().invoke(app, ["trace", str(path), "--json", "--iterations", "2"])
    assert r.exit_code == 0, r.stderr
    its = [json.loads(line) for line in r.stdout.splitlines()
           if '"event": "iteration"' in line]
    assert len(its) == 2
    for ev in its:
        assert ev["params"]["dense3.W"].keys() == {"value", "frozen"}
        assert ev["params"]["dense3.W"]["frozen"] is True
        assert "grad" in ev["params"]["dense1.W"]
    assert its[0]["params"]["dense3.W"]["value"] == its[1]["params"]["dense3.W"]["value"]


def test_breakpoints_and_watches_step_through_a_frozen_layer():
    """The nan breakpoint reads what each backward step produced: a frozen parameter
    produces no gradient (this was a KeyError)."""
    from tuinn.engine.debug import debug_names
    session = build_session(load_text(scenario(frozen=("dense2",)), "f.toml"))
    names = debug_names(session.program)
    for text in ("nan", "grad_norm(dense2.W) > 10", "grad_norm > 1e6"):
        session.breakpoints.add(text, names)
    session.watches.add("norm(dense2.W.grad)", names)
    while not session.at_end:
        session.step_over()
        assert session.breakpoints.first_hit_step(session) is None
        session.watches.evaluate(session)
    session.program.train_iteration()
    assert session.breakpoints.first_hit_fast(session.program) is None


def test_check_lists_frozen_layers(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text(scenario(frozen=("dense2",)))
    r = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "frozen (trainable = false)" in line]
    assert len(rows) == 1 and "dense2" in rows[0]


@pytest.mark.parametrize("name,layer_type,key", [("lstm", "lstm", "lstm1.Wx"),
                                                 ("cnn-bars", "conv2d", "conv1.W")])
def test_layer_by_layer_run_mode_agrees_with_stepping_with_a_frozen_layer(name, layer_type,
                                                                          key):
    """Recurrent and conv layers take run mode's layer-by-layer path: frozen there too."""
    from conftest import SCENARIOS
    text = (SCENARIOS / f"{name}.toml").read_text().replace(
        f'type = "{layer_type}"', f'type = "{layer_type}"\ntrainable = false', 1)
    fast = program(text)
    stepped = build_session(load_text(text, str(SCENARIOS / f"{name}.toml")))
    assert key in fast.frozen and fast._plans is None
    before = fast.params()[key].copy()
    for _ in range(3):
        fast.train_iteration()
        stepped.next_iteration()
    assert list(fast.losses) == list(stepped.program.losses)
    for k, v in fast.params().items():
        assert v.tobytes() == stepped.program.params()[k].tobytes(), k
    assert np.array_equal(fast.params()[key], before)
    assert not np.array_equal(fast.params()["dense1.W"], program(text).params()["dense1.W"])


def test_gradcheck_command_names_the_frozen_parameters_it_skips(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text(scenario(frozen=("dense3",)))
    r = CliRunner().invoke(app, ["gradcheck", str(path)])
    assert r.exit_code == 0, r.stdout
    assert "all 4 parameters pass" in r.stdout
    assert "not checked: 2 frozen parameters (trainable = false): dense3.W, dense3.b" in r.stdout
