"""Provides `load_data`: the [data] table of network, knn and gan scenarios -> a DataSpec.

One data source (a generator, inline x and y, or an .npz/.csv file), the generator's
options checked against the defaults each generator declares, the validation split and
the preprocess steps; the number of samples is known before anything is generated.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tuinn.errors import TuinnError
from tuinn.scenario import schema as S
from tuinn.scenario.files import file_samples, resolve_file, set_by
from tuinn.scenario.locate import Where
from tuinn.scenario.spec import DataSpec

_DATA_OWN = ("generator", "x", "y", "file", "validation", "preprocess")   # not generator options


def generator_defaults() -> dict[str, dict[str, Any]]:
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


def load_data(table: Any, where: Where, dtype: str, base: Path,
              shape: tuple[int, ...]) -> tuple[DataSpec, int, str]:
    """The DataSpec, the number of samples it will have, and the key that sets it."""
    fields = dict(S.DATA)
    known: dict[str, dict[str, Any]] = {}
    generator = table.get("generator") if isinstance(table, dict) else None
    if isinstance(generator, str):
        known = generator_defaults()
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
