"""Provides the comparison of `tuinn trace --json` output with a contract case's expected JSON.

A port of the contract checker (the project keeps its own copy, so that the tests need
nothing outside the repository). Plain cases (tests/contract/v1) hold the graph's output
and grads, or each iteration's loss and parameter values and grads; cases with a "kind"
(tests/contract/v2) are "network" (frozen parameters, batchnorm buffers), "knn" (query
events) or "import" (`tuinn import`, then a trace). Each check returns a list of
mismatches: empty means the case matches. Tolerances: rtol 1e-6, atol 1e-9 unless the
case states its own.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

RTOL, ATOL = 1e-6, 1e-9
PARAM_TYPES = {"dense", "conv2d", "rnn", "lstm", "gru", "embedding", "position", "layernorm",
               "batchnorm", "attention", "skipgram"}
LOSS_OPS = {"softmax_ce", "hinge", "mse", "bce", "loss"}

#: runs the CLI: (argv) -> (exit code, stdout, stderr)
Cli = Callable[[list], tuple]


def events_of(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict):
                out.append(ev)
    return out


def trace(cli: Cli, toml: Path, iterations: int | None = None) -> list[dict]:
    argv = ["trace", str(toml), "--json"]
    if iterations is not None:
        argv += ["--iterations", str(iterations)]
    code, out, err = cli(argv)
    assert code == 0, f"trace {toml.name} exit {code}: {err.strip()[-400:]}"
    return events_of(out)


def arr(v):
    try:
        return np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return None


def close(a, b, rtol=RTOL, atol=ATOL) -> bool:
    a, b = arr(a), arr(b)
    if a is None or b is None:
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def worst(a, b) -> str:
    a, b = arr(a), arr(b)
    if a is None or b is None:
        return "missing or not numeric"
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    return f"max|diff| {np.max(np.abs(a - b)) if a.size else 0:.3g}"


# ------------------------------------------------------------------ plain (v1) cases
def check_plain(cli: Cli, toml: Path, exp: dict) -> list[str]:
    events = trace(cli, toml, exp.get("iterations", 1))
    bad = []
    if "output" in exp:
        graphs = [e for e in events if e.get("event") == "graph"]
        if not graphs:
            return ["no graph event"]
        g = graphs[-1]
        if not close(g.get("output"), exp["output"]):
            bad.append(f"output {g.get('output')} != {exp['output']}")
        for k, v in exp["grads"].items():
            if not close(g.get("grads", {}).get(k, np.nan), v):
                bad.append(f"grad {k} {g.get('grads', {}).get(k)} != {v}")
        return bad
    its = [e for e in events if e.get("event") == "iteration"]
    if len(its) < len(exp["history"]):
        return [f"{len(its)} iteration events, want {len(exp['history'])}"]
    for h, e in zip(exp["history"], its):
        i = h["iteration"]
        if not close(e.get("loss", np.nan), h["loss"]):
            bad.append(f"it{i} loss {e.get('loss')} != {h['loss']}")
        for k, pv in h["params"].items():
            got = e.get("params", {}).get(k)
            if got is None:
                bad.append(f"it{i} missing {k}")
                continue
            if not close(got.get("value", np.nan), pv["value"]):
                bad.append(f"it{i} {k}.value ({worst(got.get('value'), pv['value'])})")
            if not close(got.get("grad", np.nan), pv["grad"]):
                bad.append(f"it{i} {k}.grad ({worst(got.get('grad'), pv['grad'])})")
    return bad


# ------------------------------------------------------------------ kind = "network"
def check_network(cli: Cli, toml: Path, exp: dict) -> list[str]:
    rtol, atol = exp.get("rtol", RTOL), exp.get("atol", ATOL)
    its = [e for e in trace(cli, toml, exp.get("iterations", 1))
           if e.get("event") == "iteration"]
    if len(its) < len(exp["history"]):
        return [f"{len(its)} iteration events, want {len(exp['history'])}"]
    bad, first_values = [], {}
    for h, e in zip(exp["history"], its):
        i = h["iteration"]
        if "epoch" in h and e.get("epoch") != h["epoch"]:
            bad.append(f"it{i} epoch {e.get('epoch')} != {h['epoch']}")
        if not close(e.get("loss"), h["loss"], rtol, atol):
            bad.append(f"it{i} loss {e.get('loss')} != {h['loss']}")
        gp = e.get("params") if isinstance(e.get("params"), dict) else {}
        for k, pv in h["params"].items():
            got = gp.get(k)
            if not isinstance(got, dict):
                bad.append(f"it{i} missing {k}")
                continue
            if not close(got.get("value"), pv["value"], rtol, atol):
                bad.append(f"it{i} {k}.value ({worst(got.get('value'), pv['value'])})")
            if pv.get("frozen"):
                if got.get("frozen") is not True:
                    bad.append(f'it{i} {k} not reported "frozen": true')
                if got.get("grad") is not None:
                    bad.append(f"it{i} frozen {k} has a grad")
                first_values.setdefault(k, got.get("value"))
                if not close(got.get("value"), first_values[k], 0, 0):
                    bad.append(f"it{i} frozen {k} changed")
            else:
                if got.get("frozen"):
                    bad.append(f"it{i} {k} reported frozen")
                if not close(got.get("grad"), pv["grad"], rtol, atol):
                    bad.append(f"it{i} {k}.grad ({worst(got.get('grad'), pv['grad'])})")
        extra = set(gp) - set(h["params"])
        if extra:
            bad.append(f"it{i} unexpected params {sorted(extra)}")
        gb = e.get("buffers") if isinstance(e.get("buffers"), dict) else {}
        for k, v in h.get("buffers", {}).items():
            if k not in gb:
                bad.append(f"it{i} missing buffer {k}")
            elif not close(gb[k], v, rtol, atol):
                bad.append(f"it{i} buffer {k} ({worst(gb[k], v)})")
    return bad


# ------------------------------------------------------------------ kind = "knn"
def _votes(v) -> dict | None:
    if not isinstance(v, dict):
        return None
    out = {}
    for k, w in v.items():
        try:
            c, w = int(float(k)), float(w)
        except (TypeError, ValueError):
            return None
        if w != 0.0:
            out[c] = w
    return out


def _query(e: dict, r: dict, tag: str) -> list[str]:
    bad = []
    try:
        nn = [int(i) for i in e.get("neighbors", [])]
    except (TypeError, ValueError):
        nn = None
    if nn != r["neighbors"]:
        bad.append(f"{tag} neighbors {e.get('neighbors')} != {r['neighbors']}")
    if not close(e.get("distances"), r["distances"], 1e-9, 1e-12):
        bad.append(f"{tag} distances {e.get('distances')} != {r['distances']}")
    if r.get("votes") is not None:
        got, want = _votes(e.get("votes")), {int(k): v for k, v in r["votes"].items()}
        if got is None or set(got) != set(want) or not all(
                math.isclose(got[c], want[c], rel_tol=1e-9, abs_tol=1e-12) for c in want):
            bad.append(f"{tag} votes {e.get('votes')} != {r['votes']}")
    try:
        pred = int(float(e.get("prediction")))
    except (TypeError, ValueError):
        pred = None
    if pred not in r.get("acceptable", [r["prediction"]]):
        bad.append(f"{tag} prediction {e.get('prediction')} != {r['prediction']}")
    return bad


def check_knn(cli: Cli, toml: Path, exp: dict) -> list[str]:
    assert exp.get("queries") is not None, "knn cases need explicit [knn] queries"
    qs = sorted([e for e in trace(cli, toml) if e.get("event") == "query"],
                key=lambda e: e.get("index") if isinstance(e.get("index"), int) else 10 ** 9)
    want = exp["expected"]
    if len(qs) != len(want):
        return [f"{len(qs)} query events, want {len(want)}"]
    bad = []
    for e, r in zip(qs, want):
        tag = f"q{r['index']}"
        if e.get("index") != r["index"]:
            bad.append(f"{tag} index {e.get('index')}")
        if not close(e.get("query"), r["query"], 0, 1e-12):
            bad.append(f"{tag} query {e.get('query')} != {r['query']}")
        bad += _query(e, r, tag)
    return bad


# ------------------------------------------------------------------ kind = "import"
HEADER = re.compile(r'^\s*\[\[?\s*([A-Za-z_"][A-Za-z0-9_.\-" ]*?)\s*\]\]?\s*(#.*)?$')


def patch_scenario(text: str, loss_type: str) -> str:
    """Drop [loss], [train] and data.validation; append the case's loss and one full
    batch in data order."""
    out, section = [], None
    for ln in text.splitlines():
        m = HEADER.match(ln)
        if m:
            section = m.group(1).strip().strip('"')
        top = (section or "").split(".")[0]
        if top in ("loss", "train") or (top == "data" and re.match(r"^\s*validation\s*=", ln)):
            continue
        out.append(ln)
    out += ["", "[loss]", f'type = "{loss_type}"', "", "[train]", "epochs = 1",
            "shuffle = false", ""]
    return "\n".join(out)


def default_names(layers: list, counts: dict | None = None, out: list | None = None) -> list:
    """[(type, name)] in order of appearance, residual blocks' layers included."""
    counts = {} if counts is None else counts
    out = [] if out is None else out
    for lay in layers:
        t = lay.get("type")
        counts[t] = counts.get(t, 0) + 1
        out.append((t, lay.get("name") or f"{t}{counts[t]}"))
        if t == "residual":
            default_names(lay.get("layers", []), counts, out)
    return out


def check_import(cli: Cli, case_dir: Path, exp: dict, tmp: Path) -> list[str]:
    out = tmp / "imported.toml"
    code, _, err = cli(["import", str(case_dir / exp["model"]), "--out", str(out),
                        "--data", str(case_dir / exp["data"])])
    assert code == 0, f"import exit {code}: {err.strip()[-400:]}"
    text = out.read_text()
    cfg = tomllib.loads(text)
    out.write_text(patch_scenario(text, exp["loss"]["type"]))
    dtype = (cfg.get("scenario") or {}).get("dtype", "float64")
    rtol, atol = ((exp["rtol_float32"], exp["atol_float32"]) if dtype == "float32"
                  else (exp["rtol"], exp["atol"]))
    events = trace(cli, out, 1)
    fwd = [e for e in events if e.get("event") == "step" and e.get("phase") == "forward"
           and e.get("iteration", 0) == 0]
    while fwd and (np.ndim(fwd[-1].get("value")) == 0 or fwd[-1].get("node") == "loss"
                   or fwd[-1].get("op") in LOSS_OPS):
        fwd.pop()
    bad = []
    if not fwd:
        bad.append("no forward step before the loss")
    elif not close(fwd[-1].get("value"), exp["output"], rtol, atol):
        bad.append(f"output of {fwd[-1].get('node')} "
                   f"({worst(fwd[-1].get('value'), exp['output'])})")
    its = [e for e in events if e.get("event") == "iteration"]
    if not its:
        return bad + ["no iteration event"]
    it = its[0]
    if not close(it.get("loss"), exp["loss_value"], rtol, atol):
        bad.append(f"loss {it.get('loss')} != {exp['loss_value']}")
    layers = (cfg.get("model") or {}).get("layers") or []
    got_layers = [(t, n) for t, n in default_names(layers) if t in PARAM_TYPES]
    want = [(L["type"], L["name"]) for L in exp["layers"]]
    if [t for t, _ in got_layers] != [t for t, _ in want]:
        return bad + [f"imported parameter layers {got_layers} != {want}"]
    gp = it.get("params") if isinstance(it.get("params"), dict) else {}
    seen = set()
    for (_, gname), L in zip(got_layers, exp["layers"]):
        for k, pv in L["params"].items():
            full = f"{gname}.{k}"
            seen.add(full)
            got = gp.get(full)
            if not isinstance(got, dict):
                bad.append(f"missing {full}")
                continue
            if not close(got.get("value"), pv["value"], rtol, atol):
                bad.append(f"{full}.value ({worst(got.get('value'), pv['value'])})")
            if not close(got.get("grad"), pv["grad"], rtol, atol):
                bad.append(f"{full}.grad ({worst(got.get('grad'), pv['grad'])})")
    extra = set(gp) - seen
    if extra:
        bad.append(f"unexpected params {sorted(extra)}")
    return bad
