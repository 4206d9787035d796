"""`trace --json` and `train --json` are strict JSON (NaN and Inf as the strings "nan",
"inf", "-inf"); NumPy's floating-point warnings never reach stderr."""

import json
import math
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from hostile_text import LOG_ZERO
from tuinn.cli import app as cli

runner = CliRunner()


def strict_loads(line: str):
    """json.loads that refuses NaN, Infinity and -Infinity (not JSON)."""
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(line, parse_constant=refuse)


def leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


@pytest.fixture
def log_zero(tmp_path):
    path = tmp_path / "log0.toml"
    path.write_text(LOG_ZERO, encoding="utf-8")
    return path


def test_json_line_writes_non_finite_as_strings():
    import numpy as np
    from tuinn.engine.trace import json_line, strict
    ev = {"loss": float("nan"), "v": [[1.0, float("inf")], [-math.inf, 0.5]], "n": np.float32(np.inf),
          "k": {"a": np.float64("nan")}, "i": 3, "s": "nan?", "none": None}
    line = json_line(ev)
    assert strict_loads(line) == {"loss": "nan", "v": [[1.0, "inf"], ["-inf", 0.5]], "n": "inf",
                                  "k": {"a": "nan"}, "i": 3, "s": "nan?", "none": None}
    assert json_line({"a": [1.0, 2.5]}) == json.dumps({"a": [1.0, 2.5]})    # finite: unchanged
    assert strict(float("-inf")) == "-inf" and strict(2.0) == 2.0


def test_graph_trace_json_with_log_zero_is_strict(log_zero):
    r = runner.invoke(cli, ["trace", "--json", str(log_zero)])
    assert r.exit_code == 0, r.output
    events = [strict_loads(line) for line in r.stdout.splitlines()]
    final = events[-1]
    assert final["event"] == "graph"
    assert final["values"]["a"] == "-inf" and final["values"]["c"] == "inf"
    assert final["values"]["d"] == "nan" and final["output"] == "nan"
    assert final["grads"]["x"] == "nan" and final["grads"]["f"] == 1.0
    steps = [e for e in events if e["event"] == "step"]
    assert any(e.get("value") == "-inf" for e in steps)


def test_network_trace_json_past_divergence_is_strict():
    """lr-too-large overflows at iteration 164: later iterations are NaN/Inf."""
    r = runner.invoke(cli, ["trace", "--json", "--iterations", "170", str(ROOT / "scenarios" / "lr-too-large.toml")])
    assert r.exit_code == 0
    events = [strict_loads(line) for line in r.stdout.splitlines()]
    its = [e for e in events if e["event"] == "iteration"]
    assert len(its) == 170
    assert its[-1]["loss"] in ("nan", "inf")
    assert {"nan", "inf", "-inf"} & set(leaves(its[-1]["params"]))
    assert all(isinstance(x, (float, int, str)) for x in leaves(its[0]["params"]))


def test_train_json_is_strict():
    r = runner.invoke(cli, ["train", "--json", "--epochs", "200", str(ROOT / "scenarios" / "lr-too-large.toml")])
    assert r.exit_code == 1                           # stopped at the first Inf
    lines = r.stdout.splitlines()
    assert len(lines) >= 100
    for line in lines:
        ev = strict_loads(line)
        assert ev["event"] == "epoch"


def _tuinn(*args):
    env = dict(os.environ, COLUMNS="120")
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "tuinn", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("args,code", [(["check"], 0), (["trace"], 0), (["trace", "--json"], 0),
                                       (["gradcheck"], 1)])
def test_no_numpy_warnings_on_stderr(log_zero, args, code):
    r = _tuinn(*args, str(log_zero))
    assert r.returncode == code, r.stderr
    assert r.stderr == "", r.stderr
    assert args == ["check"] or "nan" in r.stdout


def test_no_numpy_warnings_when_training_diverges():
    r = _tuinn("train", "--epochs", "200", "lr-too-large")
    assert r.returncode == 1
    assert "Warning" not in r.stderr and "encountered" not in r.stderr, r.stderr
    assert "stopped:" in r.stderr


@pytest.mark.filterwarnings("error::RuntimeWarning")   # NaN and Inf are values, not warnings
def test_exported_trace_file_is_strict(tmp_path, log_zero):
    """The app's trace export (`O`) writes the same strict JSON Lines."""
    from tuinn.engine.build import open_session
    from tuinn.engine.export import save_events
    from tuinn.engine.trace import pass_events
    _, session = open_session(str(log_zero))
    path = save_events(pass_events(session), str(tmp_path / "t.jsonl"))
    with open(path, encoding="utf-8") as f:
        events = [strict_loads(line) for line in f]
    assert events[-1]["values"]["a"] == "-inf" and events[-1]["output"] == "nan"
