"""Parameter files: `tuinn train --save` (.npz, .safetensors) and `[params] file` reading them
back exactly; hostile .safetensors files are refused before their data is read; the
saved names and layouts load into PyTorch (skipped without torch)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine.network import NetworkProgram
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_scenario
from tuinn.scenario.params_io import (check_writable, read_params, safetensors_headers,
                                      write_params)

MLP = """[scenario]
name = "save me"
kind = "network"
seed = 2
dtype = "{dtype}"
[data]
generator = "spiral"
samples = 60
classes = 3
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 8
[[model.layers]]
type = "tanh"
[[model.layers]]
type = "residual"
layers = [{{ type = "dense", units = 8 }}, {{ type = "relu" }}]
[[model.layers]]
type = "dense"
units = 3
{params}
[optimizer]
type = "adam"
lr = 0.05
[train]
epochs = 3
batch_size = 20
"""


def cli(*argv):
    r = CliRunner().invoke(app, [str(a) for a in argv])
    return r.exit_code, r.stdout, r.stderr


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def trained(path, epochs=3) -> NetworkProgram:
    """The program after `tuinn train` would have trained it (same arithmetic)."""
    prog = NetworkProgram(load_scenario(path))
    for _ in range(epochs * prog.per_epoch):
        prog.train_iteration()
    return prog


# ------------------------------------------------------------------ the round trip
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_train_save_then_params_file_reproduces_them_exactly(tmp_path, suffix, dtype):
    src = write(tmp_path, "net.toml", MLP.format(dtype=dtype, params=""))
    out = tmp_path / f"weights{suffix}"
    code, stdout, stderr = cli("train", src, "--save", out, "--json")
    assert code == 0, stderr
    assert f"saved 6 parameters to {out}" in stderr
    assert all(line.startswith("{") for line in stdout.splitlines())   # JSON stays clean
    saved = read_params(str(out))
    want = trained(src).params()
    assert sorted(saved) == sorted(want) == ["dense1.W", "dense1.b", "dense2.W", "dense2.b",
                                             "dense3.W", "dense3.b"]
    for k, v in want.items():
        assert saved[k].dtype == np.dtype(dtype) and saved[k].shape == v.shape
        assert saved[k].tobytes() == v.tobytes(), k                     # bit for bit
    back = write(tmp_path, "back.toml", MLP.format(
        dtype=dtype, params=f'[params]\nfile = "weights{suffix}"'))
    loaded = NetworkProgram(load_scenario(back)).params()
    for k, v in want.items():
        assert np.array_equal(loaded[k], v), k


def test_save_is_checked_before_training(tmp_path):
    src = write(tmp_path, "net.toml", MLP.format(dtype="float64", params=""))
    (tmp_path / "d.npz").mkdir()
    for bad, words in (("w.pt", "must end in .npz or .safetensors"),
                       (tmp_path / "no" / "w.npz", "no folder"),
                       (tmp_path / "d.npz", "directory")):
        code, stdout, stderr = cli("train", src, "--save", bad)
        assert code == 2 and words in stderr and "Traceback" not in stderr
        assert "epoch" not in stdout                 # refused before any training


def test_training_that_stops_on_a_nan_saves_nothing(tmp_path):
    code, _, stderr = cli("train", "lr-too-large", "--save", tmp_path / "w.npz", "--json")
    assert code == 1 and "not saved to" in stderr and "training stopped" in stderr
    assert list(tmp_path.iterdir()) == []


def test_save_of_a_scenario_without_parameters_is_an_error(tmp_path):
    code, _, stderr = cli("train", "knn-blobs", "--save", tmp_path / "k.npz")
    assert code == 2 and "no parameters to save" in stderr
    assert not (tmp_path / "k.npz").exists()


def test_write_params_replaces_a_file_atomically(tmp_path):
    p = tmp_path / "w.safetensors"
    write_params(p, {"dense1.W": np.ones((2, 3))})
    write_params(p, {"dense1.W": np.zeros((2, 3))})
    assert [f.name for f in tmp_path.iterdir()] == ["w.safetensors"]   # no temporary left
    assert not read_params(str(p))["dense1.W"].any()
    with pytest.raises(TuinnError, match="must end in"):
        check_writable(tmp_path / "w.json")


# ------------------------------------------------------------------ hostile files
def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def params_scenario(tmp_path, blob: bytes) -> str:
    (tmp_path / "w.safetensors").write_bytes(blob)
    return str(write(tmp_path, "s.toml", MLP.format(
        dtype="float64", params='[params]\nfile = "w.safetensors"')))


@pytest.mark.parametrize("blob,words", [
    (b"\x01\x02", "shorter than its header"),
    (struct.pack("<Q", 10 ** 12) + b"{}", "its header claims"),
    (struct.pack("<Q", 3) + b"{x]", "not JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (safetensors_bytes({"dense1.W": {"dtype": "BF16", "shape": [2, 8],
                                     "data_offsets": [0, 32]}}, bytes(32)), "BF16"),
    (safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [2, 8],
                                     "data_offsets": [0, 64]}}, bytes(64)), "do not match"),
    (safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [2, -8],
                                     "data_offsets": [0, 128]}}, bytes(128)), "valid shape"),
    (safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [2, 8],
                                     "data_offsets": [0, 128]}}, bytes(64)), "outside the file"),
    (safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [100000, 100000],
                                     "data_offsets": [0, 8 * 10 ** 10]}}), "outside the file"),
    (safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [2, 8],
                                     "data_offsets": [0, 128]}},
                       np.full(16, np.nan).tobytes()), "NaN or Inf"),
    (safetensors_bytes({"dense1.Ww": {"dtype": "F64", "shape": [2, 8],
                                     "data_offsets": [0, 128]}}, bytes(128)),
     "did you mean 'dense1.W'"),
], ids=["short", "huge-header", "not-json", "not-object", "nested-100000-deep", "bf16", "size-mismatch",
        "negative-shape", "past-the-end", "declares-80GB", "nan", "unknown-name"])
def test_a_bad_safetensors_file_is_an_error_naming_it(tmp_path, blob, words):
    path = params_scenario(tmp_path, blob)
    code, _, stderr = cli("check", path)
    assert code == 2 and words in stderr and "Traceback" not in stderr, stderr
    assert "w.safetensors" in stderr and "params.file" in stderr


def test_a_safetensors_file_over_the_memory_limit_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setenv("TUINN_MEMORY_LIMIT", "1kB")
    blob = safetensors_bytes({"dense1.W": {"dtype": "F64", "shape": [2, 100],
                                           "data_offsets": [0, 1600]}}, bytes(1600))
    (tmp_path / "w.safetensors").write_bytes(blob)
    with pytest.raises(TuinnError, match="the limit is 1 kB"):
        read_params(str(tmp_path / "w.safetensors"))
    assert safetensors_headers(str(tmp_path / "w.safetensors"))["dense1.W"][0] == (2, 100)


def test_a_safetensors_file_of_the_wrong_shape_names_the_parameter(tmp_path):
    write_params(tmp_path / "w.safetensors", {"dense1.W": np.zeros((3, 8))})
    path = write(tmp_path, "s.toml", MLP.format(dtype="float64",
                                                params='[params]\nfile = "w.safetensors"'))
    code, _, stderr = cli("check", path)
    assert code == 2 and "dense1.W has shape (3, 8), expected (2, 8)" in stderr


# ------------------------------------------------------------------ into PyTorch
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_saved_parameters_load_into_pytorch(tmp_path, suffix):
    torch = pytest.importorskip("torch")
    src = write(tmp_path, "net.toml", MLP.format(dtype="float64", params=""))
    out = tmp_path / f"w{suffix}"
    assert cli("train", src, "--save", out)[0] == 0
    if suffix == ".npz":
        with np.load(out, allow_pickle=False) as z:
            sd = {k: torch.from_numpy(z[k]) for k in z.files}
    else:
        from safetensors.torch import load_file
        sd = load_file(str(out))

    class Residual(torch.nn.Module):
        def __init__(self, f):
            super().__init__()
            self.f = f

        def forward(self, x):
            return x + self.f(x)

    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                              Residual(torch.nn.Sequential(torch.nn.Linear(8, 8),
                                                           torch.nn.ReLU())),
                              torch.nn.Linear(8, 3)).double()
    linears = [net[0], net[2].f[0], net[3]]
    with torch.no_grad():
        for i, lin in enumerate(linears, 1):
            lin.weight.copy_(sd[f"dense{i}.W"].T)       # tuinn (in, out), torch (out, in)
            lin.bias.copy_(sd[f"dense{i}.b"])
    prog = trained(src)
    x = prog.x[:25]
    want = prog.predict(x)
    got = net(torch.from_numpy(np.ascontiguousarray(x))).detach().numpy()
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_save_says_it_wrote_the_running_statistics_too(tmp_path):
    out = tmp_path / "bn.npz"
    code, _, stderr = cli("train", SCENARIOS / "batchnorm-deep-sigmoid.toml",
                          "--epochs", "1", "--save", out, "--json")
    assert code == 0, stderr
    saved = read_params(str(out))
    stats = [k for k in saved if k.endswith((".running_mean", ".running_var"))]
    assert stats and f"parameters and {len(stats)} running statistics to {out}" in stderr
