"""Batchnorm's running statistics travel with the parameters: `tuinn train --save` writes
them ("batchnorm1.running_mean", "batchnorm1.running_var"), `[params] file` and inline
`[params]` read them back with a parameter's checks (and a variance >= 0), `tuinn import`
carries them from ONNX initializers and PyTorch state dicts (num_batches_tracked
ignored), so that eval mode (validation loss, predictions) matches; GAN snapshots keep
them. The committed bn-eval fixture (tests/fixtures/interop/make_bn_fixtures.py) checks
the imported values without torch; the tests against PyTorch itself skip without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_params_io import cli
from tuinn.engine.network import NetworkProgram
from tuinn.engine.run.training import validate
from tuinn.scenario.loader import load_scenario, load_text
from tuinn.scenario.params_io import read_params, write_params

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
BUFFERS = ["batchnorm1.running_mean", "batchnorm1.running_var"]

BN = """[scenario]
name = "bn"
kind = "network"
seed = 3
dtype = "{dtype}"
[data]
generator = "moons"
samples = 120
noise = 0.1
validation = 0.25
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 8
[[model.layers]]
type = "batchnorm"
[[model.layers]]
type = "tanh"
[[model.layers]]
type = "dense"
units = 2
{params}
[optimizer]
type = "adam"
lr = 0.05
[train]
epochs = 3
batch_size = 30
"""


def scenario(tmp_path, params="", dtype="float64", name="bn.toml"):
    path = tmp_path / name
    path.write_text(BN.format(dtype=dtype, params=params))
    return path


def trained(path) -> NetworkProgram:
    prog = NetworkProgram(load_scenario(path))
    for _ in range(prog.epochs * prog.per_epoch):
        prog.train_iteration()
    return prog


# ------------------------------------------------------------------ --save and [params] file
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_train_save_then_load_gives_the_same_validation_and_predictions(tmp_path, suffix,
                                                                        dtype):
    src = scenario(tmp_path, dtype=dtype)
    out = tmp_path / f"w{suffix}"
    code, _, err = cli("train", src, "--save", out, "--json")
    assert code == 0, err
    want = trained(src)
    saved = read_params(str(out))
    assert set(BUFFERS) <= set(saved)
    for k, v in want.buffers().items():
        assert saved[k].dtype == np.dtype(dtype) and saved[k].tobytes() == v.tobytes(), k
    assert not np.array_equal(saved["batchnorm1.running_var"], np.ones(8))   # trained
    back = NetworkProgram(load_scenario(scenario(
        tmp_path, f'[params]\nfile = "w{suffix}"', dtype, "back.toml")))
    for k, v in want.buffers().items():
        assert np.array_equal(back.buffers()[k], v), k
    assert validate(back) == validate(want)
    assert np.array_equal(back.predict(back.x_val), want.predict(want.x_val))
    fresh = NetworkProgram(load_scenario(scenario(
        tmp_path, f'[params]\nfile = "w{suffix}"\nbatchnorm1.running_var = [1.0, 1.0, 1.0, '
        '1.0, 1.0, 1.0, 1.0, 1.0]', dtype, "inline.toml")))      # inline wins over the file
    assert np.array_equal(fresh.buffers()["batchnorm1.running_var"], np.ones(8))
    assert validate(fresh) != validate(want)


def test_the_start_snapshot_holds_the_loaded_statistics(tmp_path):
    mean = [0.5, -0.25] + [0.0] * 6
    prog = NetworkProgram(load_scenario(scenario(
        tmp_path, f"[params.batchnorm1]\nrunning_mean = {mean}\nrunning_var = "
                  "[2.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]")))
    assert prog.start.buffers["batchnorm1.running_mean"].tolist() == mean
    assert prog.buffers()["batchnorm1.running_var"][-1] == 0.0       # >= 0 is allowed
    prog.train_iteration()
    assert prog.buffers()["batchnorm1.running_mean"].tolist() != mean
    prog.restore(list(prog.history)[0])              # stepping back to iteration 0
    assert prog.buffers()["batchnorm1.running_mean"].tolist() == mean


# ------------------------------------------------------------------ bad buffers: exit 2
def _file_error(tmp_path, arrays, suffix=".npz"):
    write_params(tmp_path / f"w{suffix}", arrays)
    src = scenario(tmp_path, f'[params]\nfile = "w{suffix}"')
    code, stdout, stderr = cli("check", src)
    assert code == 2 and "Traceback" not in stderr, stderr
    assert f"w{suffix}" in stderr and "params.file" in stderr
    return stderr


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_negative_running_variance_in_a_file_is_an_error(tmp_path, suffix):
    var = np.ones(8)
    var[3] = -0.5
    err = _file_error(tmp_path, {"batchnorm1.running_var": var}, suffix)
    assert "batchnorm1.running_var holds a negative value (-0.5)" in err
    assert "must be >= 0" in err


def test_a_running_statistic_of_the_wrong_shape_in_a_file_names_it(tmp_path):
    err = _file_error(tmp_path, {"batchnorm1.running_mean": np.zeros(3)})
    assert "batchnorm1.running_mean has shape (3,), expected (8,)" in err
    assert "line" in err                         # where the scenario names the file


def test_an_unknown_buffer_name_in_a_file_gets_did_you_mean(tmp_path):
    err = _file_error(tmp_path, {"batchnorm1.running_men": np.zeros(8)})
    assert "did you mean 'batchnorm1.running_mean'" in err


def test_non_finite_statistics_in_a_file_are_refused(tmp_path):
    err = _file_error(tmp_path, {"batchnorm1.running_mean": np.full(8, np.nan)})
    assert "NaN or Inf" in err


@pytest.mark.parametrize("params,key,words", [
    ("batchnorm1.running_var = [1, 1, 1, -1, 1, 1, 1, 1]", "params.batchnorm1.running_var",
     "holds a negative value"),
    ("batchnorm1.running_mean = [0.0, 1.0]", "params.batchnorm1.running_mean",
     "has shape (2,), expected (8,)"),
    ("batchnorm1.running_mea = [0.0]", "params.batchnorm1.running_mea",
     "did you mean 'running_mean'"),
    ("dense1.running_mean = [0.0]", "params.dense1.running_mean", "has no parameter"),
], ids=["negative-var", "shape", "typo", "not-a-batchnorm"])
def test_inline_statistics_get_the_same_checks(tmp_path, params, key, words):
    src = scenario(tmp_path, f"[params]\n{params}")
    code, _, stderr = cli("check", src)
    assert code == 2 and words in stderr and key in stderr, stderr
    assert "bn.toml:" in stderr                  # the scenario and its line


# ------------------------------------------------------------------ tuinn import, no torch
BASE = """[scenario]
name = "base"
kind = "network"
[data]
file = "{data}"
[model]
input = [4]
layers = [{{type="dense", units=6}}, {{type="tanh"}}, {{type="batchnorm"}},
          {{type="dense", units=2}}]
[loss]
type = "mse"
[train]
shuffle = false
"""


def _expected():
    with np.load(FIXTURES / "bn-eval.expected.npz") as z, \
            np.load(FIXTURES / "bn-eval.data.npz") as d:
        return {k: z[k] for k in z.files}, d["x"].astype(np.float64)


def _eval_matches(toml) -> None:
    exp, x = _expected()
    prog = NetworkProgram(load_scenario(toml))
    for k in BUFFERS:
        np.testing.assert_allclose(prog.buffers()[k], exp[k], rtol=1e-12, err_msg=k)
    np.testing.assert_allclose(prog.predict(x), exp["eval_output"], rtol=1e-9, atol=1e-12)


def test_state_dict_fixture_carries_the_running_statistics(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text(BASE.format(data=FIXTURES / "bn-eval.data.npz"))
    out = tmp_path / "s.toml"
    code, _, err = cli("import", FIXTURES / "bn-eval.state.safetensors", "--scenario", base,
                       "--out", out)
    assert code == 0, err
    assert "6 parameters and 2 buffers filled" in out.read_text()
    _eval_matches(out)


def test_onnx_fixture_carries_the_running_statistics(tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "o.toml"
    code, _, err = cli("import", FIXTURES / "bn-eval.onnx", "--out", out,
                       "--data", FIXTURES / "bn-eval.data.npz")
    assert code == 0, err
    assert "not imported" not in out.read_text()
    _eval_matches(out)


def test_a_saved_file_fills_a_scenario_under_tuinn_names(tmp_path):
    """`tuinn import w.npz --scenario`: tuinn's own names, buffers included."""
    src = scenario(tmp_path)
    assert cli("train", src, "--save", tmp_path / "w.npz")[0] == 0
    out = tmp_path / "filled.toml"
    code, _, err = cli("import", tmp_path / "w.npz", "--scenario", src, "--out", out)
    assert code == 0, err
    want = trained(src)
    back = NetworkProgram(load_scenario(out))
    assert validate(back) == validate(want)
    bad = read_params(str(tmp_path / "w.npz"))
    bad["batchnorm1.running_var"][0] = -1.0
    write_params(tmp_path / "bad.npz", bad)
    code, _, err = cli("import", tmp_path / "bad.npz", "--scenario", src, "--out", out)
    assert code == 2 and "must be >= 0" in err and "bad.npz" in err


def test_onnx_export_then_import_keeps_trained_statistics(tmp_path):
    pytest.importorskip("onnx")
    from tuinn.interop.onnx_export import export_onnx
    src = scenario(tmp_path)
    prog = trained(src)
    export_onnx(prog.spec, prog, str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "d.npz", x=prog.x, y=prog.y)
    out = tmp_path / "m.toml"
    code, _, err = cli("import", tmp_path / "m.onnx", "--out", out, "--data", tmp_path / "d.npz",
                       "--loss", "softmax_ce")
    assert code == 0, err
    back = NetworkProgram(load_scenario(out))
    for k, v in prog.buffers().items():
        assert np.array_equal(back.buffers()[k], v), k
    np.testing.assert_allclose(back.predict(prog.x_val), prog.predict(prog.x_val),
                               rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ GAN snapshots
GAN = """
[scenario]
name = "bn gan"
kind = "gan"
seed = 3
[data]
generator = "ring"
samples = 40
[gan]
latent = 3
[generator]
input = [3]
layers = [{type = "dense", units = 5}, {type = "batchnorm"}, {type = "tanh"},
          {type = "dense", units = 2}]
[discriminator]
input = [2]
layers = [{type = "dense", units = 6}, {type = "batchnorm"}, {type = "relu"},
          {type = "dense", units = 1}]
[optimizer]
type = "adam"
lr = 0.01
[train]
batch_size = 16
"""


def test_gan_snapshots_keep_the_running_statistics():
    from tuinn.engine.gan import GanProgram
    prog = GanProgram(load_text(GAN, "gan.toml"))
    names = sorted(prog.buffers())
    assert names == ["discriminator.batchnorm1.running_mean",
                     "discriminator.batchnorm1.running_var",
                     "generator.batchnorm1.running_mean", "generator.batchnorm1.running_var"]
    start = prog.buffers()
    prog.train_iteration()
    after_one = prog.buffers()
    assert not np.array_equal(after_one["discriminator.batchnorm1.running_var"],
                              start["discriminator.batchnorm1.running_var"])
    # the twins share the statistics: the views evaluate with the trained ones
    bn = prog.D.layers[1]
    assert prog.d_twin[1].running is bn.running and prog.eval_d[1].running is bn.running
    assert prog.eval_g[1].running is prog.G.layers[1].running
    prog.train_iteration()
    prog.restore(list(prog.history)[-1])           # back to the start of iteration 1
    for k, v in after_one.items():
        assert np.array_equal(prog.buffers()[k], v), k
    prog.train_iteration()                         # replayed: the same statistics again
    again = prog.buffers()
    prog.restore(list(prog.history)[-1])
    prog.train_iteration()
    for k, v in again.items():
        assert np.array_equal(prog.buffers()[k], v), k


# ------------------------------------------------------------------ against PyTorch itself
def _torch_model(torch, conv=False):
    from torch import nn
    torch.manual_seed(4)
    if conv:
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.BatchNorm2d(2),
                              nn.Flatten(), nn.Linear(2 * 4 * 4, 2))
        shape = (10, 1, 4, 4)
    else:
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.BatchNorm1d(5, momentum=0.2),
                              nn.Linear(5, 2))
        shape = (10, 3)
    g = torch.Generator().manual_seed(9)
    x = 1.5 * torch.randn(*shape, generator=g) + 0.7
    y = torch.randn(shape[0], 2, generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(4):                             # training steps: statistics move
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return model.eval(), x, y


@pytest.mark.parametrize("conv", [False, True], ids=["BatchNorm1d", "BatchNorm2d"])
@pytest.mark.parametrize("how", ["sequential", "state_dict"])
def test_pytorch_batchnorm_after_training_gives_the_same_eval_output(tmp_path, conv, how):
    torch = pytest.importorskip("torch")
    import copy
    model, x, y = _torch_model(torch, conv)
    bn = model[2]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    assert int(bn.num_batches_tracked) == 4
    np.savez(tmp_path / "d.npz", x=x.numpy(), y=y.numpy())
    out = tmp_path / "m.toml"
    if how == "sequential":
        torch.save(model, tmp_path / "m.pt")
        args = ["--data", tmp_path / "d.npz"]
    else:
        torch.save(model.state_dict(), tmp_path / "m.pt")
        layers = ('{type="conv2d", filters=2, kernel=3, padding=1}, {type="tanh"}, '
                  '{type="batchnorm"}, {type="flatten"}, {type="dense", units=2}' if conv else
                  '{type="dense", units=5}, {type="tanh"}, {type="batchnorm"}, '
                  '{type="dense", units=2}')
        base = tmp_path / "base.toml"
        base.write_text(f'[scenario]\nname = "b"\nkind = "network"\n[data]\nfile = "d.npz"\n'
                        f'[model]\ninput = {list(x.shape[1:])}\nlayers = [{layers}]\n'
                        '[loss]\ntype = "mse"\n')
        args = ["--scenario", base]
    code, _, err = cli("import", tmp_path / "m.pt", "--out", out, *args)
    assert code == 0, err
    assert "not imported" not in out.read_text()
    prog = NetworkProgram(load_scenario(out))
    np.testing.assert_array_equal(prog.buffers()["batchnorm1.running_mean"],
                                  bn.running_mean.double().numpy())
    np.testing.assert_array_equal(prog.buffers()["batchnorm1.running_var"],
                                  bn.running_var.double().numpy())
    with torch.no_grad():
        want = copy.deepcopy(model).double().eval()(x.double()).numpy()
    np.testing.assert_allclose(prog.predict(x.double().numpy()), want, rtol=1e-9, atol=1e-12)


def test_pytorch_through_onnx_gives_the_same_eval_output(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    import copy
    model, x, y = _torch_model(torch)
    torch.onnx.export(model, (x,), str(tmp_path / "m.onnx"), input_names=["x"],
                      output_names=["y"], dynamo=True, external_data=False)
    np.savez(tmp_path / "d.npz", x=x.numpy(), y=y.numpy())
    out = tmp_path / "m.toml"
    code, _, err = cli("import", tmp_path / "m.onnx", "--out", out, "--data", tmp_path / "d.npz")
    assert code == 0, err
    prog = NetworkProgram(load_scenario(out))
    with torch.no_grad():
        want = copy.deepcopy(model).double().eval()(x.double()).numpy()
    np.testing.assert_allclose(prog.predict(x.double().numpy()), want, rtol=1e-9, atol=1e-12)
