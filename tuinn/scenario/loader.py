"""Provides `load_scenario` and `load_text`: a TOML scenario file -> a validated Spec.

Strict: unknown tables and keys, wrong types, values out of range and unknown names
are TuinnErrors naming the file, the line and the dotted key (lines come from
`locate`, since tomllib reports none). Nothing in a scenario is ever run as code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario import limits as L
from tuinn.scenario import schema as S
from tuinn.scenario.expr import FUNCTIONS, build_graph, infer_shapes, valid_name
from tuinn.scenario.expr import RESERVED as EXPR_RESERVED
from tuinn.scenario.locate import Located, Where, locate
from tuinn.scenario.files import check_params_file, file_samples, resolve_file, set_by
from tuinn.scenario.memory import check_graph, check_network
from tuinn.scenario.spec import (DataSpec, DebugSpec, GraphSpec, LayerSpec, LossSpec,
                                 NetworkSpec, OptimizerSpec, ScenarioInfo, Spec, TrainSpec)

_DATA_OWN = ("generator", "x", "y", "file", "validation", "preprocess")   # not generator options
#: names the trace and the debugger use for themselves: no layer may take them
RESERVED = {"input": "the debugger and the trace call the data fed to the network 'input'",
            "loss": "the debugger and the trace call the loss step 'loss'",
            "grad": "'.grad' names gradients in watches and breakpoints"}
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
        spec.network, samples, data_key = _network(raw, where, info.dtype, base)
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


def _missing(where: Where, table: str, message: str) -> TuinnError:
    """A table the kind needs is absent: point at the `kind` line."""
    return TuinnError(message, file=where.file, line=where.line("scenario.kind"), key=table)


# ------------------------------------------------------------------ kind = "graph"
def _graph(raw: dict, located: Located, where: Where, dtype: str) -> GraphSpec:
    if "graph" not in raw:
        raise _missing(where, "graph", "kind = 'graph' needs a [graph] table (inputs and expr)")
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


# ------------------------------------------------------------------ kind = "network"
def _network(raw: dict, where: Where, dtype: str,
             base: Path) -> tuple[NetworkSpec, int, str]:
    if "model" not in raw:
        raise _missing(where, "model", "kind = 'network' needs a [model] table (input, layers)")
    model = S.check_table(raw["model"], S.MODEL, "model", where)
    shape = tuple(model["input"])
    layers = _layers(model["layers"], "model.layers", where, {}, {})
    if "data" not in raw:
        raise _missing(where, "data", "kind = 'network' needs a [data] table")
    data, samples, data_key = _data(raw["data"], where, dtype, base, shape)
    loss = LossSpec(**S.check_table(raw.get("loss", {}), S.LOSS, "loss", where))
    optimizer = OptimizerSpec(**S.check_table(raw.get("optimizer", {}), S.OPTIMIZER,
                                              "optimizer", where))
    train = TrainSpec(**S.check_table(raw.get("train", {}), S.TRAIN, "train", where))
    params, params_file = _params(raw.get("params", {}), layers, where, dtype, base)
    return NetworkSpec(input=shape, layers=layers, data=data, loss=loss,
                       optimizer=optimizer, train=train, params=params,
                       params_file=params_file), samples, data_key


def _layers(tables: list[dict], prefix: str, where: Where, counts: dict[str, int],
            seen: dict[str, str]) -> list[LayerSpec]:
    """Validate layer tables (residual blocks recursively); name them <type><n>."""
    out = []
    for i, table in enumerate(tables):
        key = f"{prefix}.{i}"
        if "type" not in table:
            raise where.error("layer without a type", key, S.suggest("", S.LAYERS))
        kind = S.check_value(table["type"], S.Field("str", choices=tuple(S.LAYERS)),
                             f"{key}.type", where)
        counts[kind] = counts.get(kind, 0) + 1
        vals = S.check_table(table, {**S.LAYER_COMMON, **S.LAYERS[kind]}, key, where)
        name = vals.pop("name") or f"{kind}{counts[kind]}"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise where.error(f"layer name {S.show(name)}: use letters, digits, _ and -",
                              f"{key}.name")
        if name in RESERVED:
            raise where.error(f"layer name {name!r} is reserved: {RESERVED[name]}",
                              f"{key}.name", "pick another name")
        if name in seen:
            raise where.error(f"duplicate layer name {name!r} (also {seen[name]})",
                              f"{key}.name" if "name" in table else key,
                              "give each layer its own name")
        seen[name] = key
        if len(seen) > L.MAX_LAYERS:
            raise where.error(f"more than {L.MAX_LAYERS:,} layers", key,
                              "a network this deep would take forever to step through")
        del vals["type"]
        trainable = vals.pop("trainable")
        if vals.get("stride", 0) is None:
            vals["stride"] = vals["size"]
        sub = []
        if kind == "residual":
            sub = _layers(vals.pop("layers"), f"{key}.layers", where, counts, seen)
        out.append(LayerSpec(type=kind, name=name, options=vals, layers=sub,
                             line=where.line(key) or 0, trainable=trainable))
    return out


def _generator_defaults() -> dict[str, dict[str, Any]]:
    """Each registered generator's options with their defaults (tuinn.scenario.data and
    its plugins own them; a generator applies its defaults to the options not given)."""
    from tuinn.scenario import data as sources
    found = {name: {} for name in sources.generator_names()}
    for module in ("tuinn.scenario.data", *getattr(sources, "PLUGINS", ())):
        found.update(getattr(sys.modules.get(module), "DEFAULTS", None) or {})
    return found


def _extra_field(default: Any) -> S.Field:
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(default), "array")
    return S.Field(kind, None)


def _data(table: Any, where: Where, dtype: str, base: Path,
          shape: tuple[int, ...]) -> tuple[DataSpec, int, str]:
    """The DataSpec, the number of samples it will have, and the key that sets it."""
    fields = dict(S.DATA)
    known: dict[str, dict[str, Any]] = {}
    generator = table.get("generator") if isinstance(table, dict) else None
    if isinstance(generator, str):
        known = _generator_defaults()
        fields["generator"] = S.Field("str", None, choices=tuple(
            dict.fromkeys(S.GENERATORS + tuple(known))))
        for name, default in known.get(generator, {}).items():
            fields.setdefault(name, _extra_field(default))
    vals = S.check_table(table, fields, "data", where)
    given = [k for k in ("generator", "x", "y", "file") if vals[k] is not None]
    if ("x" in given) != ("y" in given):
        have, need = ("x", "y") if "x" in given else ("y", "x")
        raise where.error(f"inline data needs both x and y: {need} is missing",
                          f"data.{have}")
    sources = [k for k in given if k != "y"]
    if not sources:
        raise where.error("no data: give a generator, inline x and y, or a file", "data")
    if len(sources) > 1:
        raise where.error(f"give only one data source, not {' and '.join(sources)}",
                          f"data.{sources[1]}", "generator | x and y | file")
    options = {k: vals[k] for k in fields if k in table and k not in _DATA_OWN}
    spec = DataSpec(generator=vals["generator"], validation=vals["validation"],
                    options=options, line=where.line("data") or 0,
                    preprocess=_preprocess(vals["preprocess"], where))
    spec.path = where.file
    if spec.generator and options.get("corpus_file"):     # skipgram's text, beside the file
        options["corpus_file"] = resolve_file(options["corpus_file"], "data.corpus_file",
                                              where, base, (".txt", ".text", ".md"))
    if spec.generator:
        samples = options.get("samples", known.get(spec.generator, {}).get("samples", 200))
        return spec, samples, "data.samples" if "samples" in table else "data.generator"
    if vals["file"] is not None:
        spec.file = resolve_file(vals["file"], "data.file", where, base, (".npz", ".csv"))
        try:
            return spec, file_samples(spec.file, shape), "data.file"
        except TuinnError as err:
            raise set_by(err, where, "data.file") from None
    else:
        spec.x = S.to_array(vals["x"], dtype, "data.x", where)
        spec.y = S.to_array(vals["y"], dtype, "data.y", where, keep_int=True)
        for k, arr in (("x", spec.x), ("y", spec.y)):
            if arr.ndim == 0:
                raise where.error(f"{k} must be an array with one row per sample", f"data.{k}")
        if spec.x.shape[0] != spec.y.shape[0]:
            raise where.error(f"x has {spec.x.shape[0]} rows but y has {spec.y.shape[0]}",
                              "data.y", "one row of x and one of y per sample")
        if spec.x.shape[1:] != shape:
            raise where.error(f"each row of x has shape {spec.x.shape[1:]}, but [model] "
                              f"input = {list(shape)}", "data.x")
    return spec, len(spec.x), "data.x"


def _preprocess(steps: list[str], where: Where) -> list[str]:
    """[data] preprocess: known steps in a sensible order (see scenario.preprocess)."""
    from tuinn.scenario.preprocess import STEPS, order_problem
    for i, step in enumerate(steps):
        if step not in STEPS:
            raise where.error(f"unknown preprocess step {S.show(step)}",
                              f"data.preprocess.{i}", S.suggest(step, STEPS))
    bad = order_problem(steps)
    if bad:
        raise where.error(f"preprocess: {bad[0]}", "data.preprocess", bad[1])
    return list(steps)


def _all_layers(layers: list[LayerSpec]):
    for layer in layers:
        yield layer
        yield from _all_layers(layer.layers)


def _params(table: Any, layers: list[LayerSpec], where: Where, dtype: str,
            base: Path) -> tuple[dict[str, np.ndarray], str | None]:
    if not isinstance(table, dict):
        raise where.error(f"expected a table, got {S.type_name(table)}", "params")
    kinds = {layer.name: layer.type for layer in _all_layers(layers)}
    params_file = None
    items = []
    for name, value in table.items():
        if name == "file":
            if not isinstance(value, str):
                raise where.error(f"expected a string, got {S.type_name(value)}", "params.file")
            params_file = resolve_file(value, "params.file", where, base,
                                       (".npz", ".safetensors"))
            try:
                check_params_file(params_file, kinds, dtype)
            except TuinnError as err:
                raise set_by(err, where, "params.file") from None
        elif isinstance(value, dict):   # [params.dense1] W = ... or dense1.W = ...
            items += [(f"{name}.{k}", v) for k, v in value.items()]
        else:
            items.append((name, value))
    params = {}
    for name, value in items:
        key = f"params.{name}"
        layer, _, pname = name.rpartition(".")
        if not layer:
            raise where.error(f"parameter {S.show(name)}: write '<layer>.<param>', e.g. 'dense1.W'",
                              key)
        if layer not in kinds:
            raise where.error(f"no layer named {S.show(layer)}", key, S.suggest(layer, kinds))
        allowed = S.LAYER_PARAMS.get(kinds[layer], ())
        if pname not in allowed:
            if not allowed:
                raise where.error(f"layer {layer!r} ({kinds[layer]}) has no parameters", key)
            raise where.error(f"{kinds[layer]} layer {layer!r} has no parameter {S.show(pname)}",
                              key, S.suggest(pname, allowed))
        params[name] = S.to_array(value, dtype, key, where)
    return params, params_file
