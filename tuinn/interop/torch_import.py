"""Provides `import_torch` and `load_torch`: PyTorch files read with weights_only, never a free unpickle.

`torch.load(weights_only=True)` rebuilds only tensors, plain containers and the classes
allowed here: the torch.nn modules that map to tuinn layers. So a file may hold a
state_dict (a dict of tensors; it fills a scenario's layers: statedict.py), a checkpoint
dict holding one under "state_dict" or "model_state_dict", or a whole `nn.Sequential`
of the modules in MODULES (torch.save(model, path)); any other class in the file is an
error naming it, and nothing of it runs. Recurrent modules return tuples, so they never
sit in a runnable nn.Sequential: import those through ONNX, or as a state_dict with a
scenario that lays out the layers.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.interop import model as M
from tuinn.interop.extras import need
from tuinn.interop.model import Imported, Layer
from tuinn.scenario import limits as L

#: torch.nn class name -> tuinn layer type (None: handled by its own converter)
MODULES = {"Linear": "dense", "ReLU": "relu", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid",
           "Tanh": "tanh", "GELU": "gelu", "Dropout": "dropout", "Conv2d": "conv2d",
           "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "Flatten": "flatten",
           "LayerNorm": "layernorm", "BatchNorm1d": "batchnorm", "BatchNorm2d": "batchnorm",
           "Identity": None, "Softmax": None, "Sequential": None}


def load_torch(path: str):
    """The object in a PyTorch file: a dict of arrays (a state_dict) or an nn.Module."""
    torch = need("torch", "reading a PyTorch file", path)
    size = os.path.getsize(path)
    limit = L.memory_limit()
    if limit is not None and size > limit:
        raise TuinnError(f"the file holds {L.fmt_bytes(size)}, over the limit of "
                         f"{L.fmt_bytes(limit)}", file=path,
                         hint=f"set {L.MEMORY_VARIABLE} (e.g. 8GB) to allow more")
    _check_zip(path, limit)
    allowed = [getattr(torch.nn, n) for n in MODULES]
    try:
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:      # UnpicklingError, zip and format errors: untrusted bytes
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise TuinnError(f"the file holds an object of class {safe(found.group(1), limit=60)}, "
                             "which tuinn does not load (weights_only)", file=path,
                             hint="save model.state_dict() and give --scenario with its "
                                  "layers, or export to ONNX") from None
        raise TuinnError("not a readable PyTorch file", file=path,
                         hint="save it with torch.save") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
        return {str(k): _array(v, path, str(k)) for k, v in obj.items()
                if not str(k).endswith("num_batches_tracked")}
    if isinstance(obj, torch.nn.Module):
        return obj
    raise TuinnError(f"the file holds a {safe(type(obj).__name__, limit=40)}, not a model "
                     "or a state_dict", file=path)


def _check_zip(path: str, limit: int | None) -> None:
    """torch.save writes a zip: what its members unpack to is checked before torch
    reads them (a small compressed member could unpack to any size)."""
    import zipfile
    if limit is None or not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TuinnError("not a readable PyTorch file", file=path) from None
    if total > limit:
        raise TuinnError(f"the file unpacks to {L.fmt_bytes(total)}, over the limit of "
                         f"{L.fmt_bytes(limit)}", file=path,
                         hint=f"set {L.MEMORY_VARIABLE} (e.g. 8GB) to allow more")


def _array(v, path: str, name: str) -> np.ndarray:
    import torch
    if not isinstance(v, torch.Tensor) or v.is_complex() or not v.dtype.is_floating_point \
            and v.dtype not in (torch.int64, torch.int32):
        raise TuinnError(f"'{safe(name, limit=40)}' is not a tensor of numbers", file=path)
    a = v.detach().to(torch.float64).numpy()
    if not np.isfinite(a).all():
        raise TuinnError(f"'{safe(name, limit=40)}' holds NaN or Inf values", file=path)
    return a


def import_torch(path: str, sample_shape: tuple[int, ...] | None = None) -> Imported:
    obj = load_torch(path)
    if isinstance(obj, dict):
        raise TuinnError("the file holds a state_dict: parameters, not layers", file=path,
                         hint=f"tuinn import {safe(os.path.basename(path))} --scenario "
                              "base.toml --out new.toml")
    import torch
    mods = list(obj) if type(obj).__name__ == "Sequential" else [obj]
    shape = _input_shape(path, mods, sample_shape)
    limit = L.memory_limit()
    if limit is not None and math.prod(shape) * 8 > limit:
        raise TuinnError(f"one sample of shape {list(shape)} is over the memory limit",
                         file=path)
    x = torch.zeros((1,) + shape, dtype=torch.float64)
    layers, ops, softmax, notes = [], [], False, []
    for j, m in enumerate(mods):
        try:
            x, softmax = _module(j, m, x, path, layers, ops, notes, softmax)
        except (RuntimeError, ValueError, TypeError, AttributeError, IndexError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TuinnError(f"module {j} ({safe(type(m).__name__, limit=40)}) does not run on "
                             f"samples of shape {list(x.shape[1:])}: {safe(why, limit=120)}",
                             file=path) from None
    return Imported(source=path, fmt="PyTorch", input=shape, layers=layers, ops=ops,
                    softmax=softmax, output=tuple(x.shape[1:]), notes=notes)


def _module(j: int, m, x, path: str, layers: list, ops: list, notes: list, softmax: bool):
    """One module of the Sequential: its layer appended; (its output, softmax seen)."""
    import torch
    kind = type(m).__name__
    where = f"module {j} ({safe(kind, limit=40)})"
    if kind not in MODULES or kind == "Sequential":
        raise TuinnError(f"{where} maps to no tuinn layer", file=path)
    if softmax:
        raise TuinnError(f"{where} follows a Softmax: Softmax maps only at the end",
                         file=path)
    if kind == "Softmax":
        if m.dim not in (-1, x.dim() - 1):
            raise TuinnError(f"{where}: softmax over dim {m.dim}, not the last", file=path)
        ops.append(kind)
        return x, True
    hooks = [k for k, v in vars(m).items() if "hook" in k and v]
    if hooks or "forward" in vars(m):
        raise TuinnError(f"{where} carries hooks or its own forward: tuinn runs only "
                         "torch.nn's own modules", file=path)
    if kind != "Identity":
        M.need_layer(MODULES[kind], where, path)
        layers.append(_layer(m, kind, x.shape[1:], where, path, notes))
    with torch.no_grad():
        x = m.double().eval()(x)
    ops.append(kind)
    return x, softmax


def _input_shape(path, mods, sample_shape) -> tuple[int, ...]:
    first = next((m for m in mods if type(m).__name__ not in ("Identity", "Dropout")), None)
    name = type(first).__name__ if first is not None else ""
    if name == "Linear" and (sample_shape is None or sample_shape[-1:] == (first.in_features,)):
        return tuple(sample_shape or (first.in_features,))
    if sample_shape is None:
        raise TuinnError(f"a model that starts with {safe(name or 'no layer', limit=30)} does not "
                         "say its input's shape", file=path,
                         hint="give --data with samples of the input's shape")
    return tuple(sample_shape)


def _layer(m, kind: str, in_shape, where: str, path: str, notes: list) -> Layer:
    t = MODULES[kind]

    def refuse(what: str):
        raise TuinnError(f"{where}: {what}", file=path)

    p = {k: v.detach().to("cpu").double().numpy() for k, v in m.named_parameters()}
    if kind == "Linear":
        return M.dense(p["weight"], p.get("bias"))
    if kind == "Conv2d":
        k, s, pad = m.kernel_size, m.stride, m.padding
        if isinstance(pad, str) or len(set(k)) != 1 or len(set(s)) != 1 or len(set(pad)) != 1 \
                or m.groups != 1 or set(m.dilation) != {1} or m.padding_mode != "zeros":
            refuse("a tuinn conv2d has a square kernel, one stride and padding, no groups, "
                   "no dilation, zero padding")
        return M.conv2d(p["weight"], p.get("bias"), s[0], pad[0])
    if kind in ("MaxPool2d", "AvgPool2d"):
        k, s = m.kernel_size, m.stride
        k = k if isinstance(k, int) else (k[0] if len(set(k)) == 1 else refuse("a non-square window"))
        s = s if isinstance(s, int) else (s[0] if len(set(s)) == 1 else refuse("uneven strides"))
        if m.padding not in (0, (0, 0)) or m.ceil_mode or getattr(m, "dilation", 1) not in (1, (1, 1)):
            refuse("padding, dilation or ceil_mode: tuinn's pooling has none")
        return Layer(t, {"size": int(k), "stride": int(s)})
    if kind == "LeakyReLU":
        return Layer(t, {"slope": float(m.negative_slope)})
    if kind == "GELU":
        if m.approximate != "none":
            refuse("GELU(approximate='tanh'): tuinn's gelu is the exact erf form")
        return Layer(t)
    if kind == "Dropout":
        return Layer(t, {"p": float(m.p)})
    if kind == "Flatten":
        if m.start_dim != 1 or m.end_dim != -1:
            refuse("a Flatten other than Flatten(1, -1)")
        return Layer(t)
    if kind == "LayerNorm":
        if len(m.normalized_shape) != 1:
            refuse("a LayerNorm over more than the last axis")
        d = m.normalized_shape[0]
        return Layer(t, {"eps": float(m.eps)}, {"gamma": p.get("weight", np.ones(d)),
                                                "beta": p.get("bias", np.zeros(d))})
    if kind.startswith("BatchNorm"):
        c = m.num_features
        stats = [None if v is None else v.detach().double().numpy()      # (C,) each
                 for v in (m.running_mean, m.running_var)]
        buffers = M.batchnorm_buffers(*stats, c, where, path)
        if not buffers:
            note = ("Its BatchNorm has no running statistics (track_running_stats=False): "
                    "tuinn's start at 0 and 1.")
            if note not in notes:
                notes.append(note)
        return Layer(t, {"eps": float(m.eps), "momentum": float(m.momentum or 0.1)},
                     {"gamma": p.get("weight", np.ones(c)), "beta": p.get("bias", np.zeros(c))},
                     buffers=buffers)
    if p:
        refuse("has parameters tuinn does not map")
    return Layer(t)
