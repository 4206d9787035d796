"""`tuinn import` against PyTorch itself (skipped without torch): an MLP, a small CNN and an LSTM.

Each model is built in PyTorch (float32 weights, as people train them), imported through
ONNX and through the PyTorch path (a whole nn.Sequential, or a state_dict with a scenario
for the LSTM, which no runnable nn.Sequential holds), and the imported scenario's output
and gradients must equal autograd's on the same float32 numbers in float64 (rtol 1e-6).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from fixtures.interop.make_fixtures import Last, expectation  # noqa: E402
from interop_helpers import cli, import_ok, layer_types, mismatches  # noqa: E402


class Block(nn.Module):
    """y = x + f(x)"""

    def __init__(self, *layers):
        super().__init__()
        self.f = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.f(x)


def models():
    torch.manual_seed(3)
    return {
        "residual": (nn.Sequential(nn.Linear(3, 4), Block(nn.Linear(4, 4), nn.Tanh()),
                                   nn.ReLU(), nn.Linear(4, 2)), (5, 3),
                     ["dense", "residual", "relu", "dense"]),
        "mlp": (nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.ReLU(),
                              nn.Linear(4, 2)), (6, 3),
                ["dense", "sigmoid", "dense", "relu", "dense"]),
        "cnn": (nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Tanh(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2)), (2, 2, 8, 8),
                ["conv2d", "tanh", "maxpool", "flatten", "dense"]),
        "lstm": (nn.Sequential(Last(nn.LSTM(2, 3, batch_first=True)), nn.Linear(3, 2)),
                 (4, 5, 2), ["lstm", "dense"]),
    }


def data(tmp_path, name, model, shape):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(*shape, generator=g)
    with torch.no_grad():
        y = torch.randn(*model(x).shape, generator=g)
    path = tmp_path / f"{name}.data.npz"
    np.savez(path, x=x.numpy(), y=y.numpy())
    return path, expectation(model, x, y, "mse")


def export_onnx(model, shape, path):
    pytest.importorskip("onnx")
    dynamo = importlib.util.find_spec("onnxscript") is not None
    torch.onnx.export(model, (torch.zeros(*shape),), str(path), input_names=["x"],
                      output_names=["y"], dynamo=dynamo)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "residual"])
def test_through_onnx(name, tmp_path):
    model, shape, types = models()[name]
    model.eval()
    data_path, exp = data(tmp_path, name, model, shape)
    export_onnx(model, shape, tmp_path / f"{name}.onnx")
    out = tmp_path / f"{name}.toml"
    import_ok([tmp_path / f"{name}.onnx", "--out", out, "--data", data_path])
    assert layer_types(out) == types
    bad = mismatches(out, exp)
    assert not bad, bad[:6]


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_whole_sequential(name, tmp_path):
    model, shape, types = models()[name]
    data_path, exp = data(tmp_path, name, model, shape)
    torch.save(model, tmp_path / f"{name}.pt")
    out = tmp_path / f"{name}.toml"
    import_ok([tmp_path / f"{name}.pt", "--out", out, "--data", data_path])
    assert layer_types(out) == types
    bad = mismatches(out, exp)
    assert not bad, bad[:6]


def test_lstm_state_dict_with_a_scenario(tmp_path):
    model, shape, types = models()["lstm"]
    data_path, exp = data(tmp_path, "lstm", model, shape)
    torch.save(model.state_dict(), tmp_path / "lstm.pt")
    base = tmp_path / "base.toml"
    base.write_text('[scenario]\nname = "b"\nkind = "network"\n[data]\nfile = "lstm.data.npz"\n'
                    '[model]\ninput = [5, 2]\nlayers = [{type = "lstm", hidden = 3}, '
                    '{type = "dense", units = 2}]\n[loss]\ntype = "mse"\n[train]\nshuffle = false\n')
    out = tmp_path / "sub" / "lstm.toml"
    out.parent.mkdir()
    import_ok([tmp_path / "lstm.pt", "--scenario", base, "--out", out])
    assert layer_types(out) == types
    bad = mismatches(out, exp)
    assert not bad, bad[:6]


def test_a_whole_model_of_another_class_is_refused_unrun(tmp_path):
    """weights_only: a pickled object of any class but the allowed torch.nn modules is
    an error naming the class, and none of its code runs."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "obj": Boom(str(marker))}, path)
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 2 and "io.open" in err and "Traceback" not in err   # the global it names
    assert not marker.exists()


class Boom:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_state_dict_alone_asks_for_the_layers(tmp_path):
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "sd.pt")
    code, _, err = cli(["import", tmp_path / "sd.pt", "--out", tmp_path / "o.toml"])
    assert code == 2 and "--scenario" in err


def test_data_that_does_not_fit_the_model(tmp_path):
    torch.save(nn.Sequential(nn.Linear(3, 2)), tmp_path / "m.pt")
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 5)), y=np.zeros((4, 2)))
    code, _, err = cli(["import", tmp_path / "m.pt", "--out", tmp_path / "o.toml",
                        "--data", tmp_path / "d.npz"])
    assert code == 2 and "module 0 (Linear) does not run on samples of shape [5]" in err


def test_a_module_without_a_layer_is_named(tmp_path):
    torch.save(nn.Sequential(nn.Linear(3, 2), nn.Identity(), nn.ReLU6()), tmp_path / "m.pt")
    code, _, err = cli(["import", tmp_path / "m.pt", "--out", tmp_path / "o.toml"])
    assert code == 2 and "ReLU6" in err and "Traceback" not in err


def test_a_module_with_hooks_is_not_run(tmp_path):
    """weights_only lets a file set a module's attributes: hooks would run on forward."""
    model = nn.Sequential(nn.Linear(3, 2))
    model[0].register_forward_hook(nn.ReLU())          # an allowed class, as a hook
    torch.save(model, tmp_path / "m.pt")
    code, _, err = cli(["import", tmp_path / "m.pt", "--out", tmp_path / "o.toml"])
    assert code == 2 and "hooks" in err


class TinyLM(nn.Module):
    """Embedding, self-attention (2 heads), mean over time, a Linear: the contract's
    embedding, attention, seq_pool and dense layers."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.fc = nn.Linear(4, 3)

    def forward(self, ids):
        x = self.emb(ids)
        return self.fc(self.attn(x, x, x, need_weights=False)[0].mean(dim=1))


def test_attention_state_dict_fills_a_scenario(tmp_path):
    """MultiheadAttention's in_proj/out_proj split per the contract; checked against
    autograd in float64."""
    from tuinn.scenario import schema as S
    if not {"embedding", "attention", "seq_pool"} <= set(S.LAYERS):
        pytest.skip("no embedding, attention or seq_pool layer here")
    torch.manual_seed(5)
    model = TinyLM()
    ids = torch.randint(0, 7, (4, 5))
    y = torch.randn(4, 3)
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    np.savez(tmp_path / "d.npz", x=ids.numpy().astype(np.float64), y=y.numpy())
    (tmp_path / "base.toml").write_text(
        '[scenario]\nname = "lm"\nkind = "network"\n[data]\nfile = "d.npz"\n[model]\n'
        'input = [5]\nlayers = [{type = "embedding", vocab = 7, dim = 4}, {type = "attention",'
        ' heads = 2}, {type = "seq_pool", mode = "mean"}, {type = "dense", units = 3}]\n'
        '[loss]\ntype = "mse"\n[train]\nshuffle = false\n')
    import_ok([tmp_path / "lm.pt", "--scenario", tmp_path / "base.toml", "--out",
               tmp_path / "lm.toml"])
    twin = TinyLM().double()
    twin.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    out = twin(ids)
    loss = nn.functional.mse_loss(out, y.double())
    loss.backward()
    d, a = 4, twin.attn
    exp = {"output": out.detach().numpy(), "loss": loss.detach().numpy()}
    pairs = {"embedding1.W": (twin.emb.weight, twin.emb.weight.grad),
             "dense1.W": (twin.fc.weight.T, twin.fc.weight.grad.T),
             "dense1.b": (twin.fc.bias, twin.fc.bias.grad),
             "attention1.Wo": (a.out_proj.weight.T, a.out_proj.weight.grad.T),
             "attention1.bo": (a.out_proj.bias, a.out_proj.bias.grad)}
    for j, q in enumerate("qkv"):
        rows = slice(j * d, (j + 1) * d)
        pairs[f"attention1.W{q}"] = (a.in_proj_weight[rows].T, a.in_proj_weight.grad[rows].T)
        pairs[f"attention1.b{q}"] = (a.in_proj_bias[rows], a.in_proj_bias.grad[rows])
    for k, (v, g) in pairs.items():
        exp[f"value/{k}"], exp[f"grad/{k}"] = v.detach().numpy(), g.detach().numpy()
    bad = mismatches(tmp_path / "lm.toml", exp)
    assert not bad, bad[:6]


def test_a_zip_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    """A small file whose compressed members unpack to more than the memory limit."""
    import zipfile
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data/0", b"\0" * 5_000_000)
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("TUINN_MEMORY_LIMIT", "1MB")
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 2 and "unpacks to 5 MB, over the limit" in err


def test_garbage_is_not_a_pytorch_file(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x80\x02garbage")
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 2 and "not a readable PyTorch file" in err
