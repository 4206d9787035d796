"""Provides `run_import`: `tuinn import MODEL --out FILE`, dispatched on the model file's kind.

.onnx: the ONNX graph (onnx_import). .pt / .pth: a PyTorch file read with weights_only
(torch_import): a whole nn.Sequential, or, with --scenario, a state_dict. .safetensors /
.npz: a state dict that fills the layers of --scenario (statedict).
"""

from __future__ import annotations

import os

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.npz import npz_headers

KINDS = {".onnx": "onnx", ".pt": "torch", ".pth": "torch", ".safetensors": "state dict",
         ".npz": "state dict"}


def _sample_shape(data: str | None) -> tuple[int, ...] | None:
    if not data:
        return None
    if not os.path.isfile(data):
        raise TuinnError("file not found", file=data, key="--data")
    if not data.lower().endswith(".npz"):
        raise TuinnError("--data must be an .npz file with arrays x and y", file=data,
                         key="--data")
    headers = npz_headers(data, "--data")
    if "x" not in headers:
        raise TuinnError("no array named 'x' in the data file", file=data, key="--data")
    return tuple(headers["x"][0][1:])


def run_import(model: str, out: str, data: str | None = None, loss: str | None = None,
               batch_size: int | None = None, scenario: str | None = None) -> list[str]:
    """Import `model`; returns the files written."""
    suffix = os.path.splitext(model)[1].lower()
    kind = KINDS.get(suffix)
    if kind is None:
        raise TuinnError(f"cannot tell what kind of model {safe(suffix or 'a file without a suffix')} "
                         "is", file=model,
                         hint="expected .onnx, .pt, .pth, .safetensors or .npz")
    if not os.path.exists(model):
        raise TuinnError("file not found", file=model)
    if not os.path.isfile(model):
        raise TuinnError("not a regular file", file=model)
    if batch_size and not data:
        raise TuinnError("--batch-size needs --data", key="--batch-size")
    if scenario is not None or kind == "state dict":
        from tuinn.interop.statedict import import_state_dict
        if scenario is None:
            raise TuinnError("a state dict holds parameters, not layers: give the scenario "
                             "whose layers it fills", file=model,
                             hint=f"tuinn import {safe(os.path.basename(model))} --scenario "
                                  "base.toml --out new.toml")
        return import_state_dict(model, scenario, out, data=data, loss=loss,
                                 batch_size=batch_size)
    from tuinn.interop.scenario_writer import write_scenario
    shape = _sample_shape(data)
    if kind == "onnx":
        from tuinn.interop.onnx_import import import_onnx
        imported = import_onnx(model, sample_shape=shape)
    else:
        from tuinn.interop.torch_import import import_torch
        imported = import_torch(model, sample_shape=shape)
    return write_scenario(imported, out, data=data, loss=loss, batch_size=batch_size)
