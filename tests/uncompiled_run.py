"""Provides `record`: every bundled scenario's first iteration, step by step, then one
run-mode iteration, as arrays; run as a script (`python tests/uncompiled_run.py OUT`),
it records them with every kernel uncompiled (tuinn/engine/jit.py), compiling none."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def bundled() -> list[str]:
    """Every bundled scenario with kernels (knn is plain NumPy)."""
    from tuinn.scenario.loader import load_scenario
    return [p.stem for p in sorted(SCENARIOS.glob("*.toml"))
            if load_scenario(str(p)).info.kind != "knn"]


def _put(out: dict, key: str, value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _put(out, f"{key}/{k}", v)
    elif isinstance(value, (np.ndarray, np.floating, float, int)) and not isinstance(value, bool):
        out[key] = np.array(value, copy=True)


def record(name: str) -> dict[str, np.ndarray]:
    """name/step index/what -> array: each step's record, the loss, and the parameters
    after one run-mode iteration (networks and GANs)."""
    from tuinn.engine.build import build_session
    from tuinn.scenario.loader import load_scenario
    s = build_session(load_scenario(str(SCENARIOS / f"{name}.toml")))
    out: dict[str, np.ndarray] = {}
    i = 0
    while not s.at_end:
        s.step_over()
        _put(out, f"{name}/{i}/{s.current.title}", s.program.step_record(s.tape, s.current))
        i += 1
    if s.iterative:
        prog = s.program
        s.restart()
        out[f"{name}/run/loss"] = np.array(prog.train_iteration())
        out[f"{name}/run/finite"] = np.array(prog.params_finite())
        for key, (layer, k) in prog.param_layers.items():
            out[f"{name}/run/{key}"] = np.array(layer.params[k], copy=True)
    return out


def main(path: str) -> None:
    import json

    from tuinn.engine import jit
    out: dict[str, np.ndarray] = {}
    with jit.uncompiled():
        for name in bundled():
            out.update(record(name))
    compiled = sorted(d.py_func.__qualname__ for d in jit.KERNELS if d.signatures)
    np.savez(path, **out)
    Path(path + ".json").write_text(json.dumps({"compiled": compiled,
                                                "uncompiled": jit.UNCOMPILED_CALLS}))


if __name__ == "__main__":
    main(sys.argv[1])
