"""Hostile files: every class refused by check, trace --json and train --json with exit 2,
a short message naming the file, the line and the key, no traceback, no raw control
characters, quickly (the corpus is tests/fixtures/hostile/, written by make_corpus.py)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tuinn.cli import app
from tuinn.errors import TuinnError
from tuinn.scenario import limits as L
from tuinn.scenario import load_scenario, load_text
from tuinn.scenario.data import load_csv
from tuinn.scenario.expr import MAX_NESTING
from tuinn.scenario.schema import in_range

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
CORPUS = sorted(p for p in HOSTILE.glob("*.toml")
                if p.read_bytes().startswith(b"# expect:"))
COMMANDS = (["check"], ["trace", "--json"], ["train", "--json"])
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
runner = CliRunner()


def expectation(path: Path) -> dict:
    head = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    fields = dict(part.strip().split("=", 1) for part in head[len("# expect:"):].split("; "))
    if "line" not in fields and "file" not in fields:
        marked = [i for i, text in enumerate(path.read_bytes().split(b"\n"), start=1)
                  if text.rstrip().endswith(b"# <-")]
        fields["line"] = str(marked[0])
    return fields


@contextmanager
def deadline(seconds: int):
    """Fail, instead of hanging, when the block runs longer than `seconds`."""
    def stop(*_):
        raise TimeoutError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def invoke(args: list[str], seconds: int = 30):
    with deadline(seconds):
        return runner.invoke(app, args)


def assert_refused(result, path: Path, fields: dict) -> str:
    """Exit 2, one short message on stderr, nothing on stdout, no traceback or controls."""
    err = result.stderr
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.stdout == "", result.stdout[:300]
    assert "Traceback" not in err
    assert not CONTROL.search(err), repr(err[:300])
    assert len(err) < 600 and len(err.strip().splitlines()) <= 3, err
    culprit = fields.get("file") or path.name
    line = fields.get("line")
    where = f"{culprit}:{line}:" if line else f"{culprit}:"
    assert where in err, err
    if fields["key"]:
        assert f": {fields['key']}: " in err, err
    assert fields["says"] in err, err
    return err


# ------------------------------------------------------------------ the corpus
def test_the_corpus_covers_every_class():
    classes = {p.name.split("_")[0] for p in CORPUS}
    assert classes == {"depth", "num", "size", "files", "names"}
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_hostile_file_is_refused(path, command, monkeypatch):
    monkeypatch.chdir(HOSTILE)
    assert_refused(invoke([*command, path.name]), path, expectation(path))


@pytest.mark.parametrize("name", ["depth_parens", "num_nan_lr", "size_dense",
                                  "files_params_object", "names_loss", "num_nan_csv",
                                  "depth_toml_array", "files_escapes_key"])
def test_hostile_file_through_the_real_entry_point(name):
    """A separate process: the exit code, stderr and the time as a user gets them."""
    path = HOSTILE / f"{name}.toml"
    proc = subprocess.run([sys.executable, "-m", "tuinn", "check", path.name], cwd=HOSTILE,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and not CONTROL.search(proc.stderr)
    assert len(proc.stderr.strip().splitlines()) <= 6, proc.stderr
    fields = expectation(path)
    assert (fields.get("file") or path.name) in proc.stderr


# ------------------------------------------------------------------ depth
def _graph(expr: str, inputs: str = "{ a = 1.0 }") -> str:
    return (f'[scenario]\nname = "g"\nkind = "graph"\n[graph]\ninputs = {inputs}\n'
            f'expr = """\n{expr}\n"""\n')


def test_a_long_flat_sum_builds_traces_and_differentiates(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text(_graph("f = " + " + ".join(["a"] * 5000) + "\ng = f * 2"))
    r = invoke(["check", str(path)], 60)
    assert r.exit_code == 0, r.output
    r = invoke(["trace", "--json", str(path)], 120)
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert sum(ev.get("phase") == "backward" for ev in events) == 5000
    last = events[-1]
    assert last["event"] == "graph" and last["values"]["g"] == 10000.0
    assert last["grads"]["a"] == 10000.0      # d(2 * 5000 a)/da


def test_nesting_limit_is_exact():
    ok = "f = " + "(" * MAX_NESTING + "a * 2" + ")" * MAX_NESTING
    assert load_text(_graph(ok), "t.toml").graph.gates
    for deep in ("(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1),
                 "-" * (MAX_NESTING + 1) + "a",
                 "exp(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1)):
        with pytest.raises(TuinnError, match="nested too deeply") as err:
            load_text(_graph("f = " + deep), "t.toml")
        assert (err.value.line, err.value.key) == (7, "graph.expr")
        assert len(str(err.value)) < 400


def test_nested_calls_within_the_limit_compute():
    expr = "f = " + "tanh(" * 33 + "-(-(a))" + ")" * 33     # 99 levels
    graph = load_text(_graph(expr), "t.toml").graph
    assert [g.op for g in graph.gates] == ["neg", "neg"] + ["tanh"] * 33


def test_deep_toml_is_refused_even_without_the_prescan(monkeypatch):
    monkeypatch.setattr(L, "deep_toml", lambda text: None)
    text = _graph("f = sum(a)", "{ a = " + "[" * 5000 + "1" + "]" * 5000 + " }")
    with pytest.raises(TuinnError, match="nested too deeply"):
        load_text(text, "t.toml")


def test_toml_nesting_at_the_limit_is_fine():
    n = L.MAX_TOML_DEPTH
    assert L.deep_toml("a = " + "[" * n + "1" + "]" * n) is None
    assert L.deep_toml("x = 1\na = " + "[" * (n + 1) + "1" + "]" * (n + 1)) == 2
    assert L.deep_keys("x = 1\n[[" + ".".join(["a"] * (n + 1)) + "]]\n") == 2
    assert L.deep_keys(".".join(["a"] * n) + " = 1\n") is None
    assert L.deep_toml('a = "' + "[" * 100 + '"\nb = \'\'\'\n' + "{" * 100 + "\n'''\n"
                       "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n") is None


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize("value, ok", [(1.0, True), (float("nan"), False), (math.inf, False),
                                       (-math.inf, False), (2 ** 63, False), (True, False),
                                       ("1", False), (np.float64("nan"), False)])
def test_in_range_rejects_what_is_not_a_finite_number(value, ok):
    assert in_range(value) is ok
    assert in_range(value, 0, 2, lo_open=True) is ok


def test_nan_is_out_of_every_range():
    for lo, hi in ((0, None), (None, 1), (0, 1)):
        assert not in_range(float("nan"), lo, hi)
        assert not in_range(float("nan"), lo, hi, True, True)


def test_a_bom_csv_is_read_as_utf8(monkeypatch):
    x, y = load_csv(str(HOSTILE / "bom.csv"))
    np.testing.assert_array_equal(x, [[0.5, 1.0], [-1, 2.5], [3, 4], [-2, -1]])
    np.testing.assert_array_equal(y, [0, 1, 0, 1])
    monkeypatch.chdir(HOSTILE)
    r = invoke(["train", "--json", "bom.toml"], 60)
    assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ size
def _net(units: int, samples: int = 20) -> str:
    return ('[scenario]\nname = "n"\nkind = "network"\n[data]\ngenerator = "blobs"\n'
            f'samples = {samples}\n[model]\ninput = [100]\n[[model.layers]]\ntype = "dense"\n'
            f'units = {units}\n[debug]\nhistory = 10\n')


def test_the_memory_limit_can_be_raised_on_purpose(monkeypatch):
    text = _net(2000)                    # 200k parameters kept ~15 times: about 25 MB
    load_text(text, "n.toml")
    monkeypatch.setenv(L.MEMORY_VARIABLE, "10MB")
    with pytest.raises(TuinnError, match="the limit is 10 MB") as err:
        load_text(text, "n.toml")
    assert (err.value.key, err.value.line) == ("model.layers.0.units", 11)
    monkeypatch.setenv(L.MEMORY_VARIABLE, "1GB")
    load_text(text, "n.toml")
    monkeypatch.setenv(L.MEMORY_VARIABLE, "0")
    assert L.memory_limit() is None


def test_the_product_of_sizes_counts_not_each_size():
    load_text(_net(100_000, samples=2), "n.toml")           # wide, on a small input: fine
    with pytest.raises(TuinnError, match="layer dense1 is too large"):
        load_text(_net(100_000).replace("input = [100]", "input = [100000]"), "n.toml")


@pytest.mark.parametrize("value", ["lots", "12 parsecs", "-1GB", "1e999GB" * 10])
def test_a_bad_memory_limit_is_an_error(monkeypatch, value):
    monkeypatch.setenv(L.MEMORY_VARIABLE, value)
    with pytest.raises(TuinnError, match="not an amount of memory") as err:
        L.memory_limit()
    assert err.value.key == L.MEMORY_VARIABLE


def test_npz_headers_are_checked_before_the_data_is_read(monkeypatch):
    calls = []
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(TuinnError, match="declares shape"):
        load_scenario(HOSTILE / "size_npz_header.toml")
    assert calls == []


# ------------------------------------------------------------------ files
def _scenario_with_data(tmp_path: Path, target: Path) -> Path:
    (tmp_path / "data.csv").symlink_to(target)
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\nname = "s"\nkind = "network"\n[data]\nfile = "data.csv"\n'
                    '[model]\ninput = [2]\n[[model.layers]]\ntype = "dense"\nunits = 2\n')
    return path


def test_a_symlink_to_a_text_file_does_not_print_its_lines(tmp_path):
    secret = tmp_path / "secret.txt"
    lines = ["root:x:0:0:SECRET-ONE-SECRET-ONE:/root:/bin/bash",
             "alice:x:1000:1000:TOPSECRET-PASSWORD-LINE:/home/alice:/bin/sh"]
    secret.write_text("\n".join(lines) + "\n")
    path = _scenario_with_data(tmp_path, secret)
    for command in COMMANDS:
        r = invoke([*command, str(path)])
        assert r.exit_code == 2 and "Traceback" not in r.output
        assert "SECRET" not in r.stderr and "/home/alice" not in r.stderr, r.stderr
        assert "data.csv:" in r.stderr and "data.file" in r.stderr


def test_scenario_files_that_are_not_scenarios(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text('[scenario]\nname = "big"\n' + "# padding\n" * 900_000)
    cases = {str(big): "too large for a scenario", str(tmp_path): "is a directory",
             str(tmp_path / "nope.toml"): "no such scenario file"}
    if hasattr(os, "mkfifo"):                 # a pipe: reading it would block for ever
        os.mkfifo(tmp_path / "pipe.toml")
        cases[str(tmp_path / "pipe.toml")] = "not a regular file"
    for name, says in cases.items():
        r = invoke(["check", name], 20)
        assert r.exit_code == 2 and says in r.stderr, r.stderr
        assert "Traceback" not in r.output


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name", ["loss", "input", "grad"])
def test_reserved_layer_names(name):
    text = ('[scenario]\nname = "n"\nkind = "network"\n[data]\ngenerator = "xor"\n'
            f'[model]\ninput = [2]\nlayers = [{{ type = "dense", units = 2, name = "{name}" }}]\n')
    with pytest.raises(TuinnError, match="reserved") as err:
        load_text(text, "n.toml")
    assert (err.value.line, err.value.key) == (8, "model.layers.0.name")


def test_generators_refuse_options_that_are_not_finite():
    from tuinn.scenario.data import load_data
    from tuinn.scenario.spec import DataSpec
    cases = [("xor", {"noise": float("nan")}, (2,)), ("spiral", {"noise": math.inf}, (2,)),
             ("xor", {"samples": 10 ** 30}, (2,)), ("bars", {"noise": math.inf}, (1, 4, 4)),
             ("copy", {"noise": float("nan")}, (4, 3)), ("circles", {"factor": math.inf}, (2,))]
    for name, options, shape in cases:
        with pytest.raises(TuinnError, match="noise|samples|factor"):
            load_data(DataSpec(generator=name, options=options), shape,
                      np.random.default_rng(0))


def test_debug_lists_and_entries_are_bounded():
    from tuinn.engine.breakpoints import Breakpoints, parse_breakpoint
    from tuinn.engine.debug import MAX_ENTRIES, MAX_TEXT
    with pytest.raises(TuinnError, match=f"at most {MAX_ENTRIES}") as err:
        Breakpoints.from_spec(["nan"] * (MAX_ENTRIES + 1), None, file="f.toml", line=3)
    assert (err.value.file, err.value.line, err.value.key) == ("f.toml", 3, "debug.breakpoints")
    with pytest.raises(TuinnError, match="too long") as err:
        parse_breakpoint("loss < " + "1" * MAX_TEXT)
    assert len(str(err.value)) < 300
    for text in ("loss < 1e999", "iteration == 1e400", "grad_norm > -1e999"):
        with pytest.raises(TuinnError, match="too large"):
            parse_breakpoint(text)


def test_the_estimate_walks_every_layer_shape():
    from tuinn.scenario.memory import layer_parts
    from tuinn.scenario.spec import LayerSpec as Ls
    parts = layer_parts([Ls("conv2d", "c", {"filters": 4, "kernel": 3, "stride": 1,
                                             "padding": 1}),
                         Ls("maxpool", "m", {"size": 2, "stride": 2}), Ls("flatten", "f"),
                         Ls("dense", "d", {"units": 5})], (3, 8, 8))
    assert [p.params for p in parts] == [4 * 3 * 9 + 4, 0, 0, 4 * 4 * 4 * 5 + 5]
    parts = layer_parts([Ls("lstm", "l", {"hidden": 8, "return_sequences": True}),
                         Ls("residual", "r", layers=[Ls("dense", "d2", {"units": 8})]),
                         Ls("gru", "g", {"hidden": 2})], (5, 3))
    assert [p.params for p in parts] == [3 * 32 + 8 * 32 + 32, 0, 8 * 8 + 8,
                                         8 * 6 + 2 * 6 + 2 * 6]
    assert [p.key for p in parts] == ["model.layers.0.hidden", "model.layers.1",
                                      "model.layers.1.layers.0.units", "model.layers.2.hidden"]
    parts = layer_parts([Ls("embedding", "e", {"vocab": 10 ** 8, "dim": 1000})], (16,))
    assert parts[0].params == 10 ** 11 and parts[0].key == "model.layers.0.vocab"
