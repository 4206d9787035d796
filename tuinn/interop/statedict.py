"""Provides `import_state_dict`: a state dict's arrays fill the layers of a given scenario.

The arrays come from a .safetensors or .npz file, or a PyTorch state_dict (.pt, .pth,
read with weights_only). Under tuinn's names ("dense1.W") they fill the parameters of
those names; under PyTorch's ("0.weight", "lstm.weight_ih_l0") they are grouped by
module, in the file's order, and each group fills the next layer with parameters of the
scenario, converted per the contract (model.py). A BatchNorm's running_mean and
running_var fill the batchnorm's buffers of those names (num_batches_tracked is
ignored), so that eval mode matches. Shapes must match exactly. The result is the
scenario rewritten (comments dropped) with `[params] file` naming an .npz of all its
parameters and buffers: those filled, and the rest as the scenario sets them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.interop import model as M
from tuinn.interop.toml_out import dump
from tuinn.scenario.params_io import read_params, write_params


def read_arrays(path: str) -> dict[str, np.ndarray]:
    if path.lower().endswith((".pt", ".pth")):
        from tuinn.interop.torch_import import load_torch
        obj = load_torch(path)
        if not isinstance(obj, dict):
            raise TuinnError("the file holds a whole model, not a state_dict", file=path,
                             hint="import it without --scenario")
        return obj
    return {k: np.asarray(v, dtype=np.float64) for k, v in read_params(path, "MODEL").items()}


def convert(kind: str, group: dict[str, np.ndarray], where: str, path: str) -> dict:
    """A PyTorch module's parameters as the tuinn layer `kind`'s."""
    def get(k, optional=False):
        if k not in group:
            if optional:
                return None
            raise TuinnError(f"{where}: no '{k}' for a {kind} layer (found: "
                             f"{', '.join(safe(g, limit=30) for g in group)})", file=path)
        return group[k]
    if kind == "dense":
        return M.dense(get("weight"), get("bias", True)).params
    if kind == "conv2d":
        return {"W": get("weight"), "b": group.get("bias", np.zeros(len(get("weight"))))}
    if kind in ("lstm", "gru", "rnn"):
        if any(k.endswith("_l1") or "_l1_" in k for k in group):
            raise TuinnError(f"{where}: a stacked (num_layers > 1) {kind}: tuinn's "
                             f"{kind} layers are one each", file=path)
        dirs = [("", )] + ([("_reverse",)] if "weight_ih_l0_reverse" in group else [])
        hidden = get("weight_hh_l0").shape[1]
        return M.recurrent(kind, hidden, [
            (get(f"weight_ih_l0{s}"), get(f"weight_hh_l0{s}"), get(f"bias_ih_l0{s}", True),
             get(f"bias_hh_l0{s}", True)) for (s,) in dirs]).params
    if kind == "layernorm":
        return {"gamma": get("weight"), "beta": get("bias")}
    if kind == "batchnorm":        # affine=False: no weight, bias; running statistics
        mean, var = get("running_mean", True), get("running_var", True)
        known = [v for v in (group.get("weight"), group.get("bias"), mean) if v is not None]
        c = len(known[0] if known else get("weight"))      # none: an error naming them
        return {"gamma": group.get("weight", np.ones(c)), "beta": group.get("bias", np.zeros(c)),
                **M.batchnorm_buffers(mean, var, c, where, path)}
    if kind == "embedding":
        return {"W": get("weight")}
    if kind == "attention":        # in_proj = concat(Wq^T, Wk^T, Wv^T), out_proj = Wo^T
        w_in, b_in = get("in_proj_weight"), get("in_proj_bias", True)
        d = w_in.shape[1]
        b_in = np.zeros(3 * d) if b_in is None else b_in
        w_out, b_out = get("out_proj.weight"), get("out_proj.bias", True)
        out = {f"W{q}": w_in[j * d:(j + 1) * d].T.copy() for j, q in enumerate("qkv")}
        out.update({f"b{q}": b_in[j * d:(j + 1) * d].copy() for j, q in enumerate("qkv")})
        out["Wo"] = w_out.T.copy()
        out["bo"] = np.zeros(d) if b_out is None else b_out
        return out
    raise TuinnError(f"{where}: no conversion from PyTorch's names for a {kind} layer",
                     file=path, hint="save the arrays under tuinn's names (e.g. dense1.W)")


def _slots(layer) -> dict[str, np.ndarray]:
    """What a file may fill of an engine layer: its parameters, then its buffers."""
    return {**layer.params, **getattr(layer, "running", {})}


def fill(arrays: dict, targets: list, path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """name -> array for the parameters (and buffers: batchnorm's running statistics)
    the file fills; notes for what it leaves."""
    own = {f"{name}.{k}": (layer, k) for name, layer in targets for k in _slots(layer)}
    if all(k in own or k.endswith(".num_batches_tracked") for k in arrays):
        out = {}
        for k, a in arrays.items():
            if k in own:
                layer, p = own[k]
                _same_shape(a, _slots(layer)[p], k, k, path)
                out[k] = a
        _check_buffers(out, path)
        return out, []
    groups: dict[str, dict] = {}
    for k, a in arrays.items():
        prefix, _, leaf = k.rpartition(".")
        parent, _, sub = prefix.rpartition(".")
        if sub == "out_proj" and parent in groups:      # nn.MultiheadAttention's own Linear
            prefix, leaf = parent, f"out_proj.{leaf}"
        if leaf != "num_batches_tracked":
            groups.setdefault(prefix, {})[leaf] = a
    if len(groups) > len(targets):
        extra = ", ".join(safe(g or "(top)", limit=30) for g in list(groups)[len(targets):])
        raise TuinnError(f"the file has {len(groups)} modules with parameters but the "
                         f"scenario {len(targets)} layers with parameters (left over: {extra})",
                         file=path)
    out = {}
    for (prefix, group), (name, layer) in zip(groups.items(), targets):
        where = f"module '{safe(prefix or '(top)', limit=30)}' -> {name} ({layer.type})"
        for k, a in convert(layer.type, group, where, path).items():
            if k not in _slots(layer):
                raise TuinnError(f"{where}: the layer has no parameter {k}", file=path)
            _same_shape(a, _slots(layer)[k], f"{name}.{k}", where, path)
            out[f"{name}.{k}"] = np.asarray(a, dtype=np.float64)
    left = [name for name, _ in targets[len(groups):]]
    return out, [f"{', '.join(left)} keep the scenario's initial values."] if left else []


def _check_buffers(arrays: dict, path: str) -> None:
    """Buffers under tuinn's names: a running variance is never negative."""
    from tuinn.scenario.files import buffer_problem
    for k, a in arrays.items():
        problem = buffer_problem(k, a)
        if problem:
            raise TuinnError(problem, file=path)


def _same_shape(a, target, name: str, where: str, path: str) -> None:
    if tuple(np.shape(a)) != tuple(target.shape):
        raise TuinnError(f"{where}: {name} would be {tuple(np.shape(a))} but the scenario's "
                         f"layer needs {tuple(target.shape)}", file=path)


def import_state_dict(model: str, scenario: str, out: str, data: str | None = None,
                      loss: str | None = None, batch_size: int | None = None) -> list[str]:
    import tomllib

    from tuinn.engine.network import NetworkProgram
    from tuinn.interop.scenario_writer import LOSSES, check_data
    from tuinn.scenario.bundled import resolve
    from tuinn.scenario.loader import load_scenario
    target = Path(out)
    if target.suffix.lower() != ".toml" or target.is_dir():
        raise TuinnError("--out must name a .toml file", key="--out", file=out)
    arrays = read_arrays(model)
    base = resolve(scenario)
    spec = load_scenario(base)
    if spec.info.kind != "network":
        raise TuinnError(f"--scenario must be a network scenario, not a {spec.info.kind}",
                         file=scenario, key="--scenario")
    program = NetworkProgram(spec)
    targets = [(layer.name, layer) for layer in program._all_layers() if layer.params]
    filled, notes = fill(arrays, targets, model)
    params = {name: np.array(layer.params[k]) for name, (layer, k) in program.param_layers.items()}
    params.update(program.buffers())                # batchnorm's running statistics
    params.update(filled)
    doc = tomllib.loads(Path(base).read_text(encoding="utf-8"))
    doc.pop("params", None)
    folder = target.resolve().parent
    if data:
        check_data(data, program.input_shape)
        doc["data"] = {"file": _relative(data, folder)}
    elif spec.network.data.file:
        doc["data"]["file"] = _relative(spec.network.data.file, folder)
    if loss:
        if loss not in LOSSES:
            raise TuinnError(f"unknown loss {loss!r}", key="--loss",
                             hint="expected one of: " + ", ".join(LOSSES))
        doc.setdefault("loss", {})["type"] = loss
    if batch_size:
        doc.setdefault("train", {})["batch_size"] = batch_size
    params_path = target.with_suffix(".npz")
    for other, what in ((model, "MODEL"), (data, "--data")):
        if other and Path(other).resolve() == params_path.resolve():
            raise TuinnError(f"the parameters would overwrite {what} ({params_path.name})",
                             key="--out", file=out, hint="choose another --out name")
    doc["params"] = {"file": params_path.name}
    write_params(params_path, params, key="--out")
    header = (f"Written by `tuinn import` from {safe(os.path.basename(model), limit=60)} and "
              f"{safe(os.path.basename(base), limit=60)}: {_counted(filled, program)} filled. "
              + " ".join(notes)).replace("\n", " ")
    try:
        target.write_text(dump(doc, header), encoding="utf-8")
    except OSError as exc:
        raise TuinnError(f"cannot write the scenario: {exc.strerror}", key="--out",
                         file=out) from None
    return [str(target), str(params_path)]


def _counted(filled: dict, program) -> str:
    """"6 parameters" or "6 parameters and 2 buffers": what the file filled."""
    n = sum(k in program.param_layers for k in filled)
    b = len(filled) - n
    return f"{n} parameters" + (f" and {b} buffers" if b else "")


def _relative(path: str, folder: Path) -> str:
    rel = os.path.relpath(Path(path).resolve(), folder)
    return str(Path(path).resolve()) if rel.startswith("..") else rel
