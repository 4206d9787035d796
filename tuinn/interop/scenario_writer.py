"""Provides `write_scenario`: an imported model as a network scenario, its parameters in an .npz beside it.

The scenario names its parameters with `[params] file` (the .npz, float64, under the
contract's names) and its data with `[data] file`: the user's --data (a path relative to
the scenario), or, without it, a small batch written beside the scenario (x drawn from a
normal distribution, y a placeholder: zeros, or classes 0, 1, 2... for softmax_ce) so
that the scenario runs at once. Text from the model's file (its name) is written as
TOML basic strings, escaped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from tuinn.errors import TuinnError
from tuinn.interop.model import Imported, Layer, flat_params
from tuinn.scenario import limits as L
from tuinn.scenario.npz import check_header, npz_headers
from tuinn.scenario.params_io import write_params

LOSSES = ("mse", "softmax_ce", "bce", "hinge")


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)            # a TOML basic string: quotes and controls escaped
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def _keys(layer: Layer) -> list[str]:
    """`key = value` for the layer's type and options; a block's layers inline."""
    out = [f"type = {toml_value(layer.type)}"]
    out += [f"{k} = {toml_value(v)}" for k, v in layer.options.items()
            if not (k == "return_sequences" and not v)]
    if layer.layers:
        out.append("layers = [" + ", ".join("{ " + ", ".join(_keys(x)) + " }"
                                            for x in layer.layers) + "]")
    return out


def layer_lines(layer: Layer) -> list[str]:
    return ["[[model.layers]]"] + _keys(layer) + [""]


def check_data(path: str, shape: tuple[int, ...]) -> int:
    """The data file's samples; its x must hold samples of the model's input shape."""
    if not path.lower().endswith(".npz"):
        raise TuinnError("--data must be an .npz file with arrays x and y", file=path,
                         key="--data")
    headers = npz_headers(path, "--data")
    for name in ("x", "y"):
        if name not in headers:
            raise TuinnError(f"no array named {name!r} in the data file", file=path,
                             key="--data", hint="save it with numpy.savez(path, x=..., y=...)")
        check_header(path, "--data", name, *headers[name])
    x_shape = headers["x"][0]
    if tuple(x_shape[1:]) != tuple(shape):
        raise TuinnError(f"its samples have shape {list(x_shape[1:])}, but the model takes "
                         f"{list(shape)}", file=path, key="--data")
    return int(x_shape[0]) if x_shape else 0


def sample_data(imported: Imported, loss: str, seed: int = 0) -> dict[str, np.ndarray]:
    """A small batch to run the scenario on: x ~ N(0, 1), y a placeholder."""
    n = min(imported.batch, 64) if imported.batch and imported.batch > 1 else 4
    size = n * (math.prod(imported.input) + math.prod(imported.output)) * 8
    limit = L.memory_limit()
    if limit is not None and size > limit:
        raise TuinnError(f"a placeholder batch of {n} samples of shape {list(imported.input)} "
                         f"would need {L.fmt_bytes(size)}, over the limit of "
                         f"{L.fmt_bytes(limit)}", file=imported.source,
                         hint="give --data with your own samples")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + tuple(imported.input))
    out = tuple(imported.output)
    if loss in ("softmax_ce", "hinge"):
        classes = out[-1] if out else 2
        y = (np.arange(n * int(np.prod(out[:-1] or (1,)))) % classes).reshape((n,) + out[:-1])
    else:
        y = np.zeros((n,) + out)
    return {"x": x, "y": y}


def write_scenario(imported: Imported, out: str, data: str | None = None,
                   loss: str | None = None, batch_size: int | None = None) -> list[str]:
    """Write the scenario and its files; returns the paths written."""
    target = Path(out)
    if target.suffix.lower() != ".toml":
        raise TuinnError("--out must name a .toml file", key="--out", file=out)
    if target.is_dir() or not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise TuinnError("--out must be a file in an existing folder", key="--out", file=out)
    loss = loss or ("softmax_ce" if imported.softmax else "mse")
    if loss not in LOSSES:
        import difflib
        close = difflib.get_close_matches(loss, LOSSES, n=1)
        raise TuinnError(f"unknown loss {loss!r}", key="--loss",
                         hint=f"did you mean {close[0]!r}?" if close else
                         "expected one of: " + ", ".join(LOSSES))
    folder = target.parent.resolve()
    params_path = target.with_suffix(".npz")
    written = []
    if data:
        if Path(data).resolve() == params_path.resolve():
            raise TuinnError("the data file would be overwritten by the parameters",
                             key="--data", file=data, hint="choose another --out")
        check_data(data, imported.input)
        data_ref = os.path.relpath(Path(data).resolve(), folder)
        if data_ref.startswith(".."):          # outside the scenario's folder: say where
            data_ref = str(Path(data).resolve())
    else:
        data_path = target.with_name(target.stem + ".data.npz")
        write_params(data_path, sample_data(imported, loss), key="--out")
        written.append(str(data_path))
        data_ref = data_path.name
    write_params(params_path, flat_params(imported.layers), key="--out")
    written.append(str(params_path))
    name = Path(imported.source).name
    ops = " ".join(imported.ops)
    about = f"Imported by `tuinn import` from {name} ({imported.fmt}"
    about += f": {ops})." if ops else ")."
    if imported.softmax:
        about += " Its final Softmax is dropped: softmax_ce applies it inside the loss."
    if not data:
        about += " The data is a random placeholder batch: give --data to use your own."
    about += "".join(" " + n for n in imported.notes)
    lines = ["# Written by `tuinn import`; edit freely.", "",
             "[scenario]", f"name = {toml_value(Path(name).stem[:60] + ' (imported)')}",
             'kind = "network"', f"description = {toml_value(about)}", "",
             "[data]", f"file = {toml_value(data_ref)}", "",
             "[model]", f"input = {toml_value(list(imported.input))}", ""]
    for layer in imported.layers:
        lines += layer_lines(layer)
    lines += ["[params]", f"file = {toml_value(params_path.name)}", "",
              "[loss]", f"type = {toml_value(loss)}", "",
              "[optimizer]", 'type = "sgd"', "lr = 0.01", "",
              "[train]", "epochs = 100", f"batch_size = {int(batch_size or 0)}",
              f"shuffle = {toml_value(bool(batch_size and data))}", ""]
    try:
        target.write_text("\n".join(lines), encoding="utf-8")
    except OSError as exc:
        raise TuinnError(f"cannot write the scenario: {exc.strerror}", key="--out",
                         file=out) from None
    return [str(target)] + written
