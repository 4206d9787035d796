"""Provides `load_network`: the tables of a kind = "network" scenario -> a NetworkSpec.

[model] input and layers (residual blocks nest to any depth; unnamed layers are named
<type><n>), [data] (tuinn.scenario.data_load), [loss], [optimizer], [train], and
[params]: values written inline or a `file`, each checked against its layer's parameters
and buffers (batchnorm's "bn1.running_mean", "bn1.running_var").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario import limits as L
from tuinn.scenario import schema as S
from tuinn.scenario.data_load import load_data
from tuinn.scenario.files import (buffer_problem, check_params_file, layer_names,
                                  resolve_file, set_by)
from tuinn.scenario.locate import Where
from tuinn.scenario.spec import LayerSpec, LossSpec, NetworkSpec, OptimizerSpec, TrainSpec

#: names the trace and the debugger use for themselves: no layer may take them
RESERVED = {"input": "the debugger and the trace call the data fed to the network 'input'",
            "loss": "the debugger and the trace call the loss step 'loss'",
            "grad": "'.grad' names gradients in watches and breakpoints"}


def load_network(raw: dict, where: Where, dtype: str,
                 base: Path) -> tuple[NetworkSpec, int, str]:
    """The NetworkSpec, the number of samples, and the key that sets it (for check_network)."""
    if "model" not in raw:
        raise where.missing("model", "kind = 'network' needs a [model] table (input, layers)")
    model = S.check_table(raw["model"], S.MODEL, "model", where)
    shape = tuple(model["input"])
    layers = load_layers(model["layers"], "model.layers", where, {}, {})
    if "data" not in raw:
        raise where.missing("data", "kind = 'network' needs a [data] table")
    data, samples, data_key = load_data(raw["data"], where, dtype, base, shape)
    loss = LossSpec(**S.check_table(raw.get("loss", {}), S.LOSS, "loss", where))
    optimizer = OptimizerSpec(**S.check_table(raw.get("optimizer", {}), S.OPTIMIZER,
                                              "optimizer", where))
    train = TrainSpec(**S.check_table(raw.get("train", {}), S.TRAIN, "train", where))
    params, params_file = _params(raw.get("params", {}), layers, where, dtype, base)
    return NetworkSpec(input=shape, layers=layers, data=data, loss=loss,
                       optimizer=optimizer, train=train, params=params,
                       params_file=params_file), samples, data_key


def load_layers(tables: list[dict], prefix: str, where: Where, counts: dict[str, int],
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
            sub = load_layers(vals.pop("layers"), f"{key}.layers", where, counts, seen)
        out.append(LayerSpec(type=kind, name=name, options=vals, layers=sub,
                             line=where.line(key) or 0, trainable=trainable))
    return out


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
        allowed = layer_names(kinds[layer])
        if pname not in allowed:
            if not allowed:
                raise where.error(f"layer {layer!r} ({kinds[layer]}) has no parameters", key)
            raise where.error(f"{kinds[layer]} layer {layer!r} has no parameter {S.show(pname)}",
                              key, S.suggest(pname, allowed))
        params[name] = S.to_array(value, dtype, key, where)
        problem = buffer_problem(name, params[name])
        if problem:
            raise where.error(problem, key)
    return params, params_file
