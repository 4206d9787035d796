"""The bundled transfer-learning scenarios: a body pretrained on the 3-arm spiral
(`transfer-pretrain`, weights made by scenarios/data/make_transfer.py) reused on the
4-arm spiral with a new head, frozen (`transfer-frozen`) or fine-tuned at a small
learning rate (`transfer-finetune`); each behaves as its description says."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import SCENARIOS

from tuinn.engine.build import open_session
from tuinn.engine.run.training import train
from tuinn.scenario.params_io import read_params

BODY_FILE = SCENARIOS / "data" / "transfer-body.safetensors"
BODY = ["body1.W", "body1.b", "body2.W", "body2.b"]


def session(name: str):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def relative_change(prog, start: dict, key: str) -> float:
    return float(np.linalg.norm(prog.params()[key] - start[key]) / np.linalg.norm(start[key]))


def test_the_pair_starts_from_the_shipped_body_with_a_new_head():
    body = read_params(str(BODY_FILE))
    assert sorted(body) == sorted(BODY)
    for name in ("transfer-frozen", "transfer-finetune"):
        prog = session(name).program
        for k in BODY:
            assert np.array_equal(prog.params()[k], body[k]), (name, k)
        assert prog.params()["head.W"].shape == (16, 4)       # 4 classes, not 3
    assert session("transfer-frozen").program.frozen == set(BODY)
    assert session("transfer-finetune").program.frozen == frozenset()


def test_frozen_learns_fast_then_levels_off_and_finetuning_ends_lower():
    runs = {}
    for name in ("transfer-frozen", "transfer-finetune"):
        s = session(name)
        start = {k: v.copy() for k, v in s.program.params().items()}
        runs[name] = (s.program, start, list(train(s)))
    frozen, f_start, f_epochs = runs["transfer-frozen"]
    tuned, t_start, t_epochs = runs["transfer-finetune"]
    # the frozen body's parameters are exactly as shipped; the head trained
    for k in BODY:
        assert np.array_equal(frozen.params()[k], f_start[k]), k
    assert relative_change(frozen, f_start, "head.W") > 1.0
    # fine-tuning moves the body, slightly (the description: about 7% and 10%)
    for k, (lo, hi) in (("body1.W", (0.03, 0.12)), ("body2.W", (0.05, 0.16))):
        assert lo < relative_change(tuned, t_start, k) < hi, k
    # the loss curves: the frozen run is ahead early, the fine-tuned one ends lower
    assert f_epochs[4].loss < 0.5 < 0.65 < t_epochs[4].loss
    assert t_epochs[-1].val_loss < min(r.val_loss for r in f_epochs) - 0.02
    assert t_epochs[-1].val_accuracy > f_epochs[-1].val_accuracy
    f_best = min(range(len(f_epochs)), key=lambda i: f_epochs[i].val_loss)
    assert 60 < f_best < 140 and f_epochs[-1].val_loss > f_epochs[f_best].val_loss


def _script():
    path = SCENARIOS / "data" / "make_transfer.py"
    spec = importlib.util.spec_from_file_location("make_transfer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_the_script_makes_the_shipped_body(tmp_path, suffix, capsys):
    """Deterministic: the script retrains transfer-pretrain and writes the same body
    (to rounding: another machine's libm may differ in the last bits)."""
    out = tmp_path / f"body{suffix}"
    assert _script().main(["--out", str(out)]) == 0
    assert "accuracy 99" in capsys.readouterr().out          # the body learned the spiral
    made, shipped = read_params(str(out)), read_params(str(BODY_FILE))
    assert sorted(made) == sorted(shipped)
    for k in shipped:
        np.testing.assert_allclose(made[k], shipped[k], rtol=1e-6, atol=1e-9)
