"""Provides tests of the bundled network scenarios: each loads, passes gradcheck, and
behaves as its description says (short headless runs on the scenario's own seed)."""

from __future__ import annotations

import copy
import dataclasses
import re
import tomllib

import numpy as np
import pytest
from conftest import SCENARIOS

from tuinn.engine.build import build_program, open_session
from tuinn.engine.gradcheck import CRITERION, gradcheck
from tuinn.engine.losses import Loss
from tuinn.engine.session import Session
from tuinn.engine.run.training import NonFinite, train
from tuinn.scenario.loader import load_scenario


def _kind(path) -> str:
    with open(path, "rb") as fh:
        return tomllib.load(fh).get("scenario", {}).get("kind", "")


NETWORK = [p for p in sorted(SCENARIOS.glob("*.toml")) if _kind(p) == "network"]
#: the layered-network scenarios (issue "Layered networks that train")
LAYERED = ("spiral", "lr-just-right", "lr-too-large", "xor", "svm", "softmax",
           "deep-sigmoid", "deep-relu", "dropout", "optim-sgd", "optim-momentum",
           "optim-rmsprop", "optim-adam")
KEYS = ("c", "p", "n", "s", "i", "x", "v", "l")   # their descriptions name these keys


def _plain(obj):
    """A spec part as plain data, where each file says it (line, path) left out."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.name not in ("line", "path")}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def session(name: str) -> Session:
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def epochs(s: Session, n: int) -> list:
    return list(train(s, n))


def test_the_layered_scenarios_are_bundled():
    assert set(LAYERED) <= {p.stem for p in NETWORK}


@pytest.mark.parametrize("path", NETWORK, ids=lambda p: p.stem)
def test_loads_and_passes_gradcheck(path):
    spec = load_scenario(path)
    assert spec.info.kind == "network" and spec.network is not None
    checks = gradcheck(spec)
    assert checks, "no parameters checked"
    bad = [(c.name, c.worst_entry) for c in checks if not c.ok]
    if path.stem in AT_THE_KINK:
        # deep ReLUs' inputs are ~1e-9, inside any usable eps: a centred difference
        # straddles the kink there; everything before those layers must still pass
        deep = AT_THE_KINK[path.stem]
        assert bad and {name.split(".")[0] for name, _ in bad} <= deep, bad
        bad = [b for b in bad if b[0].split(".")[0] not in deep]
    assert not bad, f"not {CRITERION}: {bad}"


# scenarios whose deep pre-activations sit within eps of ReLU's kink (their lesson)
AT_THE_KINK = {"init-small": {"dense4", "dense5", "dense6", "dense7"}}


@pytest.mark.parametrize("name", LAYERED)
def test_description_names_the_keys_and_real_scenarios(name):
    spec = load_scenario(SCENARIOS / f"{name}.toml")
    desc = spec.info.description
    missing = [k for k in KEYS if f"`{k}`" not in desc]
    assert not missing, f"description does not mention the keys {missing}"
    names = {p.stem for p in SCENARIOS.glob("*.toml")}
    for ref in re.findall(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`", desc):
        assert ref in names, f"description refers to scenario {ref!r}, which is not bundled"


def test_same_seed_same_run():
    a, b = session("spiral"), session("spiral")
    for _ in range(20):
        a.program.train_iteration()
    for _ in range(20):
        b.next_iteration()          # the stepping path records its losses too
    assert len(a.program.losses) == len(b.program.losses) == 20
    assert a.program.losses == b.program.losses
    for key, value in a.program.params().items():
        np.testing.assert_array_equal(value, b.program.params()[key])


def test_xor_reaches_full_accuracy():
    s = session("xor")
    first = epochs(s, 1)[0]
    rest = list(train(s, 199))
    assert first.accuracy < 0.8                      # a nearly linear start
    assert max(r.accuracy for r in rest) == 1.0
    assert min(r.accuracy for r in rest[-20:]) >= 0.99
    assert rest[-1].loss < 0.05


def test_lr_too_large_diverges_and_lr_just_right_converges():
    bad = session("lr-too-large")
    assert "nan" in bad.program.spec.debug.breakpoints
    with pytest.raises(NonFinite) as err:
        epochs(bad, 2000)
    assert err.value.iteration <= 300
    assert "NaN" in err.value.where or "Inf" in err.value.where
    good = session("lr-just-right")
    results = epochs(good, 300)
    losses = good.program.losses
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0] / 10
    assert results[-1].loss < results[30].loss


def _grad_norms(name: str) -> tuple[float, float]:
    s = session(name)
    s.run_to_end()                   # one forward and backward pass, then the updates
    weights = sorted((k for k in s.program.param_layers if k.endswith(".W")),
                     key=lambda k: int(re.sub(r"\D", "", k.split(".")[0])))
    grads = s.tape.grads
    return float(np.linalg.norm(grads[weights[0]])), float(np.linalg.norm(grads[weights[-1]]))


def test_deep_sigmoid_gradients_vanish_where_relu_ones_do_not():
    sig_first, sig_last = _grad_norms("deep-sigmoid")
    relu_first, relu_last = _grad_norms("deep-relu")
    sig, relu = sig_first / sig_last, relu_first / relu_last
    assert sig < 1e-2 and relu > 0.1
    assert sig < relu / 100


def test_deep_sigmoid_learns_far_slower_than_deep_relu():
    relu = epochs(session("deep-relu"), 30)
    sig = epochs(session("deep-sigmoid"), 30)
    assert relu[-1].accuracy >= 0.98
    assert sig[-1].accuracy <= 0.6 and sig[-1].loss > 0.6


def _loss_over_epoch(name: str, n: int) -> float:
    return epochs(session(name), n)[-1].loss


def test_adam_and_momentum_beat_sgd_after_the_same_iterations():
    specs = {o: load_scenario(SCENARIOS / f"optim-{o}.toml") for o in
             ("sgd", "momentum", "rmsprop", "adam")}
    base = specs["sgd"].network
    for o, spec in specs.items():     # one net, one data set, one seed: only the optimizer differs
        assert spec.network.optimizer.type == o
        assert spec.info.seed == specs["sgd"].info.seed
        for part in ("input", "layers", "data", "loss", "train"):
            assert _plain(getattr(spec.network, part)) == _plain(getattr(base, part)), part
    loss = {o: _loss_over_epoch(f"optim-{o}", 10) for o in specs}
    assert loss["adam"] < loss["sgd"] / 2
    assert loss["momentum"] < loss["sgd"] / 2
    assert loss["rmsprop"] < loss["sgd"]


def _data_loss(s: Session) -> tuple[float, np.ndarray]:
    prog = s.program
    loss = Loss(prog.spec.network.loss)
    value = loss.forward(prog.predict(prog.x), prog.y)
    return value, loss.backward()


def test_hinge_is_satisfied_while_softmax_keeps_pushing():
    svm, soft = session("svm"), session("softmax")
    a, b = svm.program.spec.network, soft.program.spec.network
    assert _plain(a.data) == _plain(b.data) and _plain(a.layers) == _plain(b.layers)
    assert svm.program.seed == soft.program.seed and _plain(a.optimizer) == _plain(b.optimizer)
    assert a.loss.type == "hinge" and b.loss.type == "softmax_ce"
    norms = {}
    for name, s in (("svm", svm), ("softmax", soft)):
        epochs(s, 120)
        before = np.linalg.norm(s.program.params()["dense1.W"])
        epochs(s, 60)
        norms[name] = (before, np.linalg.norm(s.program.params()["dense1.W"]))
    value, grad = _data_loss(svm)          # margins met: only a few support vectors push
    assert value < 1e-3 and np.mean(grad.any(axis=1)) <= 0.05
    value, grad = _data_loss(soft)
    assert value > 0.01 and np.all(grad != 0)       # every sample still pushes
    svm_growth = norms["svm"][1] / norms["svm"][0]
    soft_growth = norms["softmax"][1] / norms["softmax"][0]
    assert abs(svm_growth - 1) < 0.01 and soft_growth > 1.03


def test_dropout_keeps_validation_loss_level():
    spec = load_scenario(SCENARIOS / "dropout.toml")
    assert spec.network.data.validation == 0.3
    drops = [ls for ls in spec.network.layers if ls.type == "dropout"]
    assert drops and all(ls.options.get("p") == 0.5 for ls in drops)
    without = copy.deepcopy(spec)
    for ls in without.network.layers:
        if ls.type == "dropout":
            ls.options["p"] = 0.0
    runs = {}
    for name, sp in (("dropout", spec), ("none", without)):
        runs[name] = epochs(Session(build_program(sp)), 200)
    with_val = [r.val_loss for r in runs["dropout"]]
    none_val = [r.val_loss for r in runs["none"]]
    assert runs["dropout"][0].loss > runs["dropout"][0].val_loss     # dropout's training loss sits above
    assert max(with_val[10:]) < 0.6
    assert none_val[-1] > 3 * min(none_val) and none_val[-1] > 2 * with_val[-1]
    assert runs["none"][-1].loss < runs["dropout"][-1].loss
