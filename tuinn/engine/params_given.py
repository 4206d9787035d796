"""Provides set_given_params: a network's `[params]` (inline values, then `[params] file`)
put in place of the initial parameters and running statistics, each checked (a known
name, its exact shape, finite; a running variance >= 0) and reported where it was set."""

from __future__ import annotations

import difflib

import numpy as np

from tuinn.errors import TuinnError


def set_given_params(prog, net) -> None:
    """[params]: inline values, then the file's; each a parameter or a buffer
    (batchnorm's running statistics) of its exact shape, reported where it was set."""
    given = {k: (v, None) for k, v in net.params.items()}
    if net.params_file:
        from tuinn.scenario.params_io import read_params
        for k, v in read_params(net.params_file).items():
            given.setdefault(k, (v, net.params_file))
    names = {**prog.param_layers, **prog.buffer_layers}
    line = prog.spec.lines.get("params.file")
    for key, (value, source) in given.items():
        where = (dict(file=source, key="params.file", hint=line and
                      f"params.file is set on line {line} of the scenario") if source
                 else dict(file=prog.file, line=prog.spec.lines.get(f"params.{key}"),
                           key=f"params.{key}"))
        if key not in names:
            close = difflib.get_close_matches(key, list(names), n=1)
            where["hint"] = (f"did you mean {close[0]!r}?" if close else
                             "parameters: " + ", ".join(names))
            raise TuinnError(f"no parameter named {key!r}", **where)
        layer, k = names[key]
        target = layer.params[k] if key in prog.param_layers else layer.running[k]
        value = np.asarray(value, dtype=prog.dtype)
        if value.shape != target.shape:
            raise TuinnError(f"{key} has shape {value.shape}, expected {target.shape}",
                             **where)
        from tuinn.scenario.files import buffer_problem
        if key in prog.buffer_layers and buffer_problem(key, value):
            raise TuinnError(buffer_problem(key, value), **where)
        target[...] = value
