"""The sequence, normalisation, attention and bidirectional recurrent layers against
PyTorch: `tuinn trace --json` on each case in tests/fixtures/seqtorch (made by its
make_cases.py with PyTorch autograd and torch.optim in float64) matches the loss, every
parameter's value and gradient, and batchnorm's buffers, iteration by iteration, in
float64 and in float32. Runs without torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import contract_compare as C
from tuinn.cli import app

CASES = Path(__file__).parent / "fixtures" / "seqtorch"
EXPECTED = sorted(CASES.glob("*.expected.json"))


def cli(argv: list) -> tuple:
    r = CliRunner().invoke(app, [str(a) for a in argv])
    return r.exit_code, r.stdout, r.stderr


def stem(path: Path) -> str:
    return path.name[:-len(".expected.json")]


def test_every_layer_and_both_dtypes_are_covered():
    assert len(EXPECTED) == 30
    text = "".join(p.with_name(stem(p) + ".toml").read_text() for p in EXPECTED)
    for kind in ("gelu", "embedding", "position", "layernorm", "batchnorm", "seq_pool",
                 "skipgram", "attention", "residual", "rnn", "lstm", "gru"):
        assert f'type = "{kind}"' in text, kind
    for mode in ("mean", "max", "last"):
        assert f'mode = "{mode}"' in text
    assert 'dtype = "float32"' in text and 'dtype = "float64"' in text
    for dtype in ("float64", "float32"):           # each new layer's case in both dtypes
        tomls = [p.with_name(stem(p) + ".toml").read_text() for p in EXPECTED]
        tomls = [t for t in tomls if f'dtype = "{dtype}"' in t]
        for heads, causal in ((1, True), (1, False), (2, True), (2, False)):
            assert any(f"heads = {heads}" in t and ("causal = true" in t) == causal
                       for t in tomls), (dtype, heads, causal)
        for cell in ("rnn", "lstm", "gru"):
            for seq in ("true", "false"):
                assert any(f'type = "{cell}"' in t and "bidirectional = true" in t
                           and f"return_sequences = {seq}" in t for t in tomls), (cell, seq)


@pytest.mark.parametrize("case", EXPECTED, ids=stem)
def test_case_matches_pytorch(case):
    expected = json.loads(case.read_text())
    bad = C.check_network(cli, case.with_name(stem(case) + ".toml"), expected)
    assert not bad, f"{stem(case)}: {bad[:6]}"


def test_a_wrong_buffer_is_caught():
    case = CASES / "seq-bn-last-axis-meanpool.expected.json"
    expected = json.loads(case.read_text())
    buf = expected["history"][1]["buffers"]["bn.running_var"]
    buf[0] *= 1 + 1e-4
    bad = C.check_network(cli, case.with_name(stem(case) + ".toml"), expected)
    assert len(bad) == 1 and bad[0].startswith("it1 buffer bn.running_var"), bad


def test_the_attention_cases_see_the_mask(tmp_path):
    """Dropping the causal mask changes the numbers: the case pools every step, not only
    the last one (which sees every key either way)."""
    name = "attn2-causal-residual-ln"
    text = (CASES / f"{name}.toml").read_text()
    assert text.count("causal = true") == 1
    toml = tmp_path / f"{name}.toml"
    toml.write_text(text.replace("causal = true", "causal = false"), encoding="utf-8")
    expected = json.loads((CASES / f"{name}.expected.json").read_text())
    bad = C.check_network(cli, toml, expected)
    assert bad and bad[0].startswith("it0 loss"), bad


@pytest.mark.parametrize("name", ["bigru-last", "bilstm-seq-meanpool", "birnn-last"])
def test_the_recurrent_cases_tell_the_directions_apart(name, tmp_path):
    """Swapping the forward and reverse directions' parameters changes the numbers."""
    text = (CASES / f"{name}.toml").read_text()
    prefix = f'"{name[2:].split("-")[0]}1.'
    lines = []
    for line in text.splitlines():                # "gru1.Wx" <-> "gru1.Wx_r", ...
        if line.startswith(prefix):
            key, _, rest = line.partition('" =')
            key = key[:-2] if key.endswith("_r") else key + "_r"
            line = f'{key}" ={rest}'
        lines.append(line)
    toml = tmp_path / f"{name}.toml"
    toml.write_text("\n".join(lines), encoding="utf-8")
    assert toml.read_text().count('_r" =') == text.count('_r" =') > 0
    expected = json.loads((CASES / f"{name}.expected.json").read_text())
    bad = C.check_network(cli, toml, expected)
    assert bad and bad[0].startswith("it0 loss"), bad
