"""The sequence and normalisation layers against PyTorch: `tuinn trace --json` on each
case in tests/fixtures/seqtorch (made by its make_cases.py with PyTorch autograd and
torch.optim in float64) matches the loss, every parameter's value and gradient, and
batchnorm's buffers, iteration by iteration, in float64 and in float32."""

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
    assert len(EXPECTED) == 10
    text = "".join(p.with_name(stem(p) + ".toml").read_text() for p in EXPECTED)
    for kind in ("gelu", "embedding", "position", "layernorm", "batchnorm", "seq_pool",
                 "skipgram"):
        assert f'type = "{kind}"' in text, kind
    for mode in ("mean", "max", "last"):
        assert f'mode = "{mode}"' in text
    assert 'dtype = "float32"' in text and 'dtype = "float64"' in text


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
