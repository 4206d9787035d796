"""The command line: exit codes and messages (CliRunner), trace output, listing."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CONTRACT, ROOT, SCENARIOS
from tuinn.cli import app

runner = CliRunner()
BAD = sorted((ROOT / "tests" / "fixtures" / "bad").glob("*.toml"))
# engine-level errors found only when the program is built (shapes, parameters)
ENGINE_BAD = {
    "params_wrong_shape.toml": """[scenario]\nname = "x"\nkind = "network"\n[data]\nx = [[1.0, 2.0]]\ny = [0]\n[model]\ninput = [2]\n[[model.layers]]\ntype = "dense"\nunits = 2\n[loss]\ntype = "softmax_ce"\n[optimizer]\ntype = "sgd"\nlr = 0.1\n[params]\n"dense1.W" = [[1.0, 2.0, 3.0]]\n""",
    "params_unknown_name.toml": """[scenario]\nname = "x"\nkind = "network"\n[data]\nx = [[1.0, 2.0]]\ny = [0]\n[model]\ninput = [2]\n[[model.layers]]\ntype = "dense"\nunits = 2\n[loss]\ntype = "softmax_ce"\n[optimizer]\ntype = "sgd"\nlr = 0.1\n[params]\n"dense1.w" = [[1.0, 2.0], [3.0, 4.0]]\n""",
    "label_out_of_range.toml": """[scenario]\nname = "x"\nkind = "network"\n[data]\nx = [[1.0, 2.0], [0.0, 1.0]]\ny = [0, 5]\n[model]\ninput = [2]\n[[model.layers]]\ntype = "dense"\nunits = 3\n[loss]\ntype = "softmax_ce"\n[optimizer]\ntype = "sgd"\nlr = 0.1\n""",
    "shapes_do_not_chain.toml": """[scenario]\nname = "x"\nkind = "network"\n[data]\nx = [[1.0, 2.0]]\ny = [0]\n[model]\ninput = [2]\n[[model.layers]]\ntype = "lstm"\nhidden = 4\n[loss]\ntype = "softmax_ce"\n[optimizer]\ntype = "sgd"\nlr = 0.1\n""",
}


def test_enough_malformed_fixtures():
    assert len(BAD) + len(ENGINE_BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", ["check", "trace", "run"])
def test_malformed_exit_2_with_file_and_line(path, command):
    r = runner.invoke(app, [command, str(path)])
    assert r.exit_code == 2, r.output
    out = r.output
    assert "Traceback" not in out
    assert "error:" in out
    assert path.name in out
    if path.stem not in ("empty", "binary", "non_utf8", "missing_data_file"):
        assert re.search(re.escape(path.name) + r":\d+", out), out
    assert len(out.strip().splitlines()) <= 4, out


@pytest.mark.parametrize("name", sorted(ENGINE_BAD))
def test_engine_errors_exit_2(tmp_path, name):
    path = tmp_path / name
    path.write_text(ENGINE_BAD[name])
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and name in r.output


def test_params_errors_name_the_line_and_suggest(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(ENGINE_BAD["params_unknown_name.toml"])
    r = runner.invoke(app, ["check", str(path)])
    assert "p.toml:18" in r.output and "W, b" in r.output


def test_missing_file_suggests_bundled():
    r = runner.invoke(app, ["check", "sigmoid-nueron"])
    assert r.exit_code == 2 and "sigmoid-neuron" in r.output


def test_trace_sigmoid_numbers():
    r = runner.invoke(app, ["trace", str(SCENARIOS / "sigmoid-neuron.toml")])
    assert r.exit_code == 0, r.output
    for text in ("0.7311", "-0.1966", "0.3932", "-0.3932", "-0.5898", "0.1966"):
        assert text in r.output


def test_trace_json_follows_contract():
    r = runner.invoke(app, ["trace", str(SCENARIOS / "sigmoid-neuron.toml"), "--json"])
    assert r.exit_code == 0
    events = [json.loads(line) for line in r.stdout.splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == 16
    assert [e["phase"] for e in steps] == ["forward"] * 8 + ["backward"] * 8
    assert all(set(e) >= {"event", "iteration", "phase", "node", "op"} for e in steps)
    assert all("value" in e for e in steps[:8]) and all("grad" in e and "local_grads" in e for e in steps[8:])
    graph = events[-1]
    assert graph["event"] == "graph"
    assert graph["output"] == pytest.approx(0.7310585786300049, rel=1e-12)
    expected = json.loads((CONTRACT / "sigmoid-neuron.expected.json").read_text())
    for k, v in expected["grads"].items():
        assert graph["grads"][k] == pytest.approx(v, rel=1e-9)
    assert set(graph["values"]) == {"w0", "x0", "w1", "x1", "w2", "f"}


def test_trace_network_iterations():
    r = runner.invoke(app, ["trace", str(CONTRACT / "mlp-softmax-l2-sgd.toml"), "--json",
                            "--iterations", "2"])
    assert r.exit_code == 0
    events = [json.loads(line) for line in r.stdout.splitlines()]
    its = [e for e in events if e["event"] == "iteration"]
    assert [e["iteration"] for e in its] == [0, 1]
    expected = json.loads((CONTRACT / "mlp-softmax-l2-sgd.expected.json").read_text())
    for got, want in zip(its, expected["history"]):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-9)
    phases = [e["phase"] for e in events if e["event"] == "step"]
    assert phases.count("update") == 8


def test_check_summaries():
    r = runner.invoke(app, ["check", str(SCENARIOS / "sigmoid-neuron.toml")])
    assert r.exit_code == 0 and "8 gates" in r.output and "valid" in r.output
    r = runner.invoke(app, ["check", str(SCENARIOS / "spiral.toml")])
    assert r.exit_code == 0 and "dense1" in r.output and "parameters" in r.output


def test_gradcheck_and_train():
    r = runner.invoke(app, ["gradcheck", str(CONTRACT / "mlp-softmax-l2-sgd.toml")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", str(CONTRACT / "mlp-softmax-l2-sgd.toml"), "--epochs", "3", "--json"])
    assert r.exit_code == 0
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["epoch"] for x in lines] == [0, 1, 2]
    r = runner.invoke(app, ["gradcheck", str(SCENARIOS / "sigmoid-neuron.toml")])
    assert r.exit_code == 0 and "all 5 inputs pass" in r.output         # graphs too


def test_train_says_it_is_compiling_beside_its_progress_bar(monkeypatch):
    """While a kernel compiles (or loads from the cache), `tuinn train`'s progress bar
    says so (jit.compiling's callback); the note goes when an epoch is done."""
    from contextlib import contextmanager

    from rich.progress import Progress

    from tuinn import cli_print
    from tuinn.engine import jit
    notes, update = [], Progress.update

    def recording(self, task, **kw):
        notes.append(kw.get("note"))
        return update(self, task, **kw)

    @contextmanager
    def compiling(before_compile):          # as if the first kernel compiled now
        before_compile()
        yield
    monkeypatch.setattr(Progress, "update", recording)
    monkeypatch.setattr(jit, "compiling", compiling)
    r = runner.invoke(app, ["train", str(SCENARIOS / "xor.toml"), "--epochs", "2"])
    assert r.exit_code == 0, r.output
    assert notes[0] == cli_print.COMPILING_NOTE and notes[-1] == ""


def test_train_stops_on_nan():
    r = runner.invoke(app, ["train", str(SCENARIOS / "lr-too-large.toml")])
    assert r.exit_code == 1
    assert "NaN" in r.output or "Inf" in r.output


def test_scenarios_and_version():
    r = runner.invoke(app, ["scenarios"])
    assert r.exit_code == 0 and "sigmoid-neuron" in r.output
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("tuinn ")


@pytest.mark.parametrize("entry, key, words", [
    ('breakpoints = ["grad_norm >"]', "debug.breakpoints", "expected a number"),
    ('breakpoints = ["los < 1"]', "debug.breakpoints", "loss"),
    ('watch = ["dense1.W.grad.grad"]', "debug.watch", "dense1.W.grad"),
    ('watch = ["__import__(\'os\')"]', "debug.watch", "__import__"),
])
def test_malformed_debug_entries_exit_2(tmp_path, entry, key, words):
    text = (SCENARIOS / "xor.toml").read_text().replace("[debug]\n", f"[debug]\n{entry}\n")
    path = tmp_path / "dbg.toml"
    path.write_text(text)
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 2, r.output
    line = text.splitlines().index(entry) + 1
    assert f"dbg.toml:{line}" in r.output and key in r.output and words in r.output
    assert "Traceback" not in r.output


def test_check_of_a_long_graph_lists_its_first_and_last_gates(tmp_path):
    lines = ["s0 = x * 1.0"] + [f"s{i} = s{i - 1} * 0.5 + x" for i in range(1, 200)]
    path = tmp_path / "long.toml"
    path.write_text('[scenario]\nname = "long"\nkind = "graph"\n[graph]\n'
                    'inputs = { x = 0.5 }\nexpr = """\n' + "\n".join(lines) + '\n"""\n'
                    'output = "s199"\n')
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 0, r.output
    assert "399 gates" in r.output and "349 more gates" in r.output
    assert " s199 " in r.output and " mulc1 " in r.output and " s100 " not in r.output
    assert len(r.output.splitlines()) < 80
