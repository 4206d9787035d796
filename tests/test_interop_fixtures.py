"""`tuinn import` of the committed fixtures (ONNX files and state dicts made by PyTorch), always run.

tests/fixtures/interop/make_fixtures.py made each fixture from a PyTorch model: the ONNX
export, the data, the state_dict as .safetensors, and the output, loss and gradients
PyTorch computes in float64 (autograd; batchnorm with the batch's statistics, as
in tuinn's training step). The imported scenario's trace must match them
(rtol 1e-6): output, loss, and every parameter's value and gradient. Needs the onnx
package (the test extra installs it); the state-dict imports need nothing extra.
"""

from __future__ import annotations

import pytest

from interop_helpers import FIXTURES, cli, expected, import_ok, layer_types, mismatches

LAYERS = {
    "mlp": ["dense", "relu", "dense", "tanh", "dense"],
    "cnn": ["conv2d", "relu", "maxpool", "conv2d", "sigmoid", "avgpool", "flatten", "dense"],
    "lstm": ["lstm", "dense"],
    "gru-seq": ["gru", "dense"],
    "rnn": ["rnn", "leaky_relu", "dense"],
    "lstm-legacy": ["lstm", "dense"],
    "norms": ["dense", "layernorm", "gelu", "dense", "tanh", "batchnorm", "dense"],
    "bilstm-seq": ["lstm", "dense"],
    "bigru-final": ["gru", "dense"],
    "lstm-hn": ["lstm", "dense"],
    "bilstm-cat": ["lstm", "dense"],
}
#: a scenario with the layers of each model, for the state dicts to fill
BASE = {
    "mlp": ("[4]", '{type="dense", units=6}, {type="relu"}, {type="dense", units=5}, '
            '{type="tanh"}, {type="dense", units=3}', "softmax_ce"),
    "cnn": ("[1, 6, 6]", '{type="conv2d", filters=2, kernel=3, padding=1}, {type="relu"}, '
            '{type="maxpool", size=2}, {type="conv2d", filters=3, kernel=2}, '
            '{type="sigmoid"}, {type="avgpool", size=2}, {type="flatten"}, '
            '{type="dense", units=2}', "mse"),
    "lstm": ("[5, 3]", '{type="lstm", hidden=4}, {type="dense", units=2}', "mse"),
    "gru-seq": ("[4, 3]", '{type="gru", hidden=4, return_sequences=true}, '
                '{type="dense", units=2}', "mse"),
    "bilstm-seq": ("[4, 3]", '{type="lstm", hidden=2, bidirectional=true, '
                   'return_sequences=true}, {type="dense", units=2}', "mse"),
    "bigru-final": ("[4, 2]", '{type="gru", hidden=3, bidirectional=true}, '
                    '{type="dense", units=2}', "mse"),
    "norms": ("[4]", '{type="dense", units=6}, {type="layernorm"}, {type="gelu"}, '
              '{type="dense", units=5}, {type="tanh"}, {type="batchnorm"}, '
              '{type="dense", units=2}', "mse"),
}


def needs_layers(name: str) -> None:
    """A fixture whose layers this tuinn lacks is skipped, naming them."""
    from tuinn.scenario import schema as S
    missing = sorted(set(LAYERS[name]) - set(S.LAYERS))
    if name.startswith("bi") and "bidirectional" not in S.LAYERS[LAYERS[name][0]]:
        missing.append(f"bidirectional {LAYERS[name][0]}")
    if missing:
        pytest.skip(f"no {', '.join(missing)} layer here")


@pytest.mark.parametrize("name", list(LAYERS))
def test_onnx_fixture_matches_pytorch(name, tmp_path):
    pytest.importorskip("onnx")
    needs_layers(name)
    out = tmp_path / f"{name}.toml"
    import_ok([FIXTURES / f"{name}.onnx", "--out", out, "--data", FIXTURES / f"{name}.data.npz"])
    assert layer_types(out) == LAYERS[name]
    bad = mismatches(out, expected(name))
    assert not bad, f"{name}: {bad[:6]}"


def base_scenario(tmp_path, name: str):
    shape, layers, loss = BASE[name]
    data = FIXTURES / f"{name}.data.npz"
    path = tmp_path / f"{name}-base.toml"
    path.write_text(f'[scenario]\nname = "base"\nkind = "network"\n\n[data]\nfile = "{data}"\n\n'
                    f'[model]\ninput = {shape}\nlayers = [{layers}]\n\n[loss]\ntype = "{loss}"\n\n'
                    '[train]\nshuffle = false\n')
    return path


@pytest.mark.parametrize("name", list(BASE))
def test_state_dict_fills_a_scenario(name, tmp_path):
    """PyTorch's names (0.weight, rnn.weight_ih_l0, ...) in a .safetensors file, matched
    in order to the scenario's layers, converted per the contract."""
    needs_layers(name)
    base = base_scenario(tmp_path, name)
    out = tmp_path / f"{name}-filled.toml"
    import_ok([FIXTURES / f"{name}.state.safetensors", "--scenario", base, "--out", out])
    assert layer_types(out) == LAYERS[name]
    bad = mismatches(out, expected(name))
    assert not bad, f"{name}: {bad[:6]}"


@pytest.mark.parametrize("name", ["cnn", "lstm", "norms"])
def test_imported_scenario_passes_gradcheck(name, tmp_path):
    """The imported gradients also agree with centred differences (float64)."""
    pytest.importorskip("onnx")
    needs_layers(name)
    out = tmp_path / f"{name}.toml"
    import_ok([FIXTURES / f"{name}.onnx", "--out", out, "--data", FIXTURES / f"{name}.data.npz"])
    code, stdout, err = cli(["gradcheck", out])
    assert code == 0, stdout + err
