"""Provides `load_scenario` and `load_text`: a TOML scenario file -> a validated Spec.

Strict: unknown tables and keys, wrong types, values out of range and unknown names
are TuinnErrors naming the file, the line and the dotted key (lines come from
`locate`, since tomllib reports none). Nothing in a scenario is ever run as code.
"""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario import limits as L
from tuinn.scenario import schema as S
from tuinn.scenario.expr import FUNCTIONS, valid_name
from tuinn.scenario.expr import RESERVED as EXPR_RESERVED
from tuinn.scenario.expr_build import build_graph
from tuinn.scenario.expr_shapes import infer_shapes
from tuinn.scenario.locate import Located, Where, locate
from tuinn.scenario.memory import check_graph, check_network
from tuinn.scenario.network_load import load_network
from tuinn.scenario.spec import DebugSpec, GraphSpec, ScenarioInfo, Spec

_TOML_POS = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def load_scenario(path: str | Path) -> Spec:
    """Read, parse and validate the scenario file at `path`."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        near = []
        if p.parent.is_dir():
            near = [f.name for f in p.parent.glob("*.toml")]
        hint = S.suggest(p.name, near) if near else None
        raise TuinnError("no such scenario file", file=name,
                         hint=hint if hint and hint.startswith("did") else None)
    if p.is_dir():
        raise TuinnError("is a directory, not a scenario file", file=name,
                         hint="give a .toml file")
    if not p.is_file():
        raise TuinnError("not a regular file (a device or a pipe?)", file=name,
                         hint="give a .toml file")
    try:
        with open(p, "rb") as fh:
            data = fh.read(L.MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise TuinnError(f"cannot read the scenario file: {exc.strerror}", file=name) from None
    if len(data) > L.MAX_SCENARIO_BYTES:
        raise TuinnError(f"the file is larger than {L.fmt_bytes(L.MAX_SCENARIO_BYTES)}: too "
                         "large for a scenario", file=name,
                         hint="put large arrays in an .npz file: [data] file = ...")
    return load_text(_decode(data, name), name)


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise TuinnError("binary file, not a TOML scenario", file=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TuinnError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}): is this a binary "
                         "file?", file=name, line=line, hint="save the scenario as UTF-8") from None


def load_text(text: str, path: str) -> Spec:
    """Parse and validate scenario `text`; `path` names it in errors and anchors
    relative data/params files."""
    path = str(path)
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise TuinnError("binary file, not a TOML scenario", file=path)
    if not text.strip():
        raise TuinnError("empty scenario file", file=path,
                         hint="start with [scenario] name = ... kind = ...")
    raw = _parse_toml(text, path)
    if not raw:
        raise TuinnError("empty scenario file: only comments, no [scenario] table", file=path)
    located = locate(text)
    return _build(raw, located, Where(path, located.lines), Path(path).parent)


def _parse_toml(text: str, path: str) -> dict:
    """tomllib's parse, its recursion and integer limits turned into TuinnErrors."""
    line = L.deep_toml(text) or L.deep_keys(text)
    if line is not None:
        raise _too_deep(path, line)
    try:
        raw = tomllib.loads(text)
        if L.value_depth(raw):
            raise RecursionError
        return raw
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(str(exc), text, path) from None
    except RecursionError:
        raise _too_deep(path, None) from None
    except (ValueError, OverflowError) as exc:   # an integer of more than 4300 digits
        line = L.long_number_line(text)
        message = ("a number with thousands of digits is too large" if line else
                   f"cannot read this TOML: {safe(exc, limit=60)}")
        raise TuinnError(message, file=path, line=line, title="TOML syntax error") from None


def _too_deep(path: str, line: int | None) -> TuinnError:
    return TuinnError(f"arrays or tables nested too deeply (more than {L.MAX_TOML_DEPTH} "
                      "levels)", file=path, line=line, title="TOML syntax error")


def _syntax_error(message: str, text: str, path: str) -> TuinnError:
    m = _TOML_POS.search(message)
    line, col = None, None
    if m:
        message = message[:m.start()]
        if m.group(1):
            line, col = int(m.group(1)), int(m.group(2))
        else:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
    where = f" (column {col})" if col else ""
    return TuinnError(f"TOML syntax error: {message}{where}", file=path, line=line,
                      title="TOML syntax error")


# ------------------------------------------------------------------ top level
def _build(raw: dict, located: Located, where: Where, base: Path) -> Spec:
    for key, value in raw.items():
        if key not in S.TOP_LEVEL:
            what = (f"table [{safe(key, limit=40)}]" if isinstance(value, dict)
                    else f"top-level key {S.show(key)}")
            raise where.error(f"unknown {what}", key, _top_hint(key))
        if not isinstance(value, dict):
            raise where.error(f"expected a table [{key}], got {S.type_name(value)}", key)
    if "scenario" not in raw:
        raise where.error("missing the [scenario] table (with name and kind)", "scenario")
    vals = S.check_table(raw["scenario"], S.SCENARIO, "scenario", where)
    if not vals["name"].strip():
        raise where.error("must not be empty", "scenario.name")
    info = ScenarioInfo(path=where.file, **vals)
    for table, kind in S.ONLY_FOR.items():
        kinds = (kind,) if isinstance(kind, str) else kind
        if table in raw and info.kind not in kinds:
            raise where.error(f"[{table}] is only for kind = "
                              f"{' or '.join(repr(k) for k in kinds)}", table,
                              f"this scenario has kind = {info.kind!r}")
    debug = DebugSpec(**S.check_table(raw.get("debug", {}), S.DEBUG, "debug", where))
    spec = Spec(info=info, debug=debug, lines=dict(located.lines))
    if info.kind == "graph":
        spec.graph = _graph(raw, located, where, info.dtype)
    elif info.kind == "knn":
        from tuinn.scenario.knn_load import load_knn
        spec.knn = load_knn(raw, where, info.dtype, base)
    elif info.kind == "gan":
        from tuinn.scenario.gan_load import load_gan
        spec.gan = load_gan(raw, where, info.dtype, base)
    else:
        spec.network, samples, data_key = load_network(raw, where, info.dtype, base)
        check_network(spec, spec.network, where, samples, data_key)
    return spec


def _top_hint(key: str) -> str | None:
    """A table name close to `key`, or the table a misplaced key belongs in."""
    hint = S.suggest(key, S.TOP_LEVEL)
    if hint and hint.startswith("did"):
        return hint
    tables = {"scenario": S.SCENARIO, "graph": S.GRAPH, "data": S.DATA, "model": S.MODEL,
              "loss": S.LOSS, "optimizer": S.OPTIMIZER, "train": S.TRAIN, "debug": S.DEBUG}
    homes = [t for t, fields in tables.items() if key in fields]
    if homes:
        return f"did you mean to put it under [{homes[0]}]?"
    return hint


# ------------------------------------------------------------------ kind = "graph"
def _graph(raw: dict, located: Located, where: Where, dtype: str) -> GraphSpec:
    if "graph" not in raw:
        raise where.missing("graph", "kind = 'graph' needs a [graph] table (inputs and expr)")
    vals = S.check_table(raw["graph"], S.GRAPH, "graph", where)
    if not vals["inputs"]:
        raise where.error("needs at least one input, e.g. { x = 1.0 }", "graph.inputs")
    if len(vals["inputs"]) > L.MAX_INPUTS:
        raise where.error(f"{len(vals['inputs']):,} inputs: at most {L.MAX_INPUTS:,}",
                          "graph.inputs", "give a tensor as one input: x = [[...], ...]")
    inputs = {}
    for name, value in vals["inputs"].items():
        key = f"graph.inputs.{name}"
        if not valid_name(name):
            why = ("is a function name" if name in FUNCTIONS else
                   f"is reserved: {EXPR_RESERVED[name]}" if name in EXPR_RESERVED else
                   "is not a valid name (letters, digits and _, not starting with a digit)")
            raise where.error(f"input {S.show(name)} {why}", key)
        if isinstance(value, (str, bool)) or not isinstance(value, (int, float, list)):
            raise where.error(f"input {S.show(name)}: expected a number or a nested list of "
                              f"numbers, got {S.type_name(value)}", key)
        inputs[name] = S.to_array(value, dtype, key, where)
    graph = build_graph(vals["expr"], inputs, vals["output"], file=where.file,
                        line_map=located.strings.get("graph.expr") or _fallback(where),
                        output_line=where.line("graph.output"))
    check_graph(graph, infer_shapes(graph, file=where.file), dtype, where.file)
    return graph


def _fallback(where: Where) -> list[int] | None:
    line = where.line("graph.expr")
    return [line] if line else None


