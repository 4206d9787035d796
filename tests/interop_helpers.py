"""Provides the interop tests' shared steps: run the CLI, trace an imported scenario, compare with expectations.

An expectation (a fixture's NAME.expected.npz, or one computed by PyTorch in a test) holds
"output", "loss", and "value/<param>" and "grad/<param>" under tuinn's names; `mismatches`
lists what a `tuinn trace --json` of the imported scenario gets wrong (rtol 1e-6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import contract_compare as C
from tuinn.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
RTOL, ATOL = 1e-6, 1e-9


def cli(argv: list) -> tuple:
    r = CliRunner().invoke(app, [str(a) for a in argv])
    return r.exit_code, r.stdout, r.stderr


def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.expected.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def import_ok(argv: list) -> str:
    code, out, err = cli(["import", *argv])
    assert code == 0, f"import exit {code}: {err.strip()[-600:]}"
    return out


def traced(toml: Path) -> tuple[np.ndarray, dict, float]:
    """The imported scenario's output, its first iteration's params and its loss."""
    events = C.trace(cli, toml, 1)
    fwd = [e for e in events if e.get("event") == "step" and e.get("phase") == "forward"
           and e.get("node") != "loss" and e.get("op") not in C.LOSS_OPS]
    it = [e for e in events if e.get("event") == "iteration"][0]
    return np.asarray(fwd[-1]["value"], dtype=float), it["params"], float(it["loss"])


def mismatches(toml: Path, exp: dict) -> list[str]:
    out, params, loss = traced(toml)
    bad = []
    if not C.close(out, exp["output"], RTOL, ATOL):
        bad.append(f"output ({C.worst(out, exp['output'])})")
    if not C.close(loss, exp["loss"], RTOL, ATOL):
        bad.append(f"loss {loss} != {float(exp['loss'])}")
    names = {k.split("/", 1)[1] for k in exp if k.startswith("value/")}
    if set(params) != names:
        bad.append(f"parameters {sorted(params)} != {sorted(names)}")
    for name in sorted(names & set(params)):
        for part in ("value", "grad"):
            got, want = params[name].get(part), exp[f"{part}/{name}"]
            if not C.close(got, want, RTOL, ATOL):
                bad.append(f"{name}.{part} ({C.worst(got, want)})")
    return bad


def layer_types(toml: Path) -> list[str]:
    import tomllib
    return [layer["type"] for layer in tomllib.loads(toml.read_text())["model"]["layers"]]
