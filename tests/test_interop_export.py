"""`tuinn export --onnx`, then `tuinn import`: the same layers, exactly the same parameters, the same output.

Layers come back with the default names (dense1, ...), as the contract says of imports.

Run on bundled scenarios that cover every exported form: dense (Gemm, and MatMul + Add
on sequences), elementwise layers, dropout, conv2d with stride and padding, both
poolings, flatten, LSTM, GRU and RNN with and without return_sequences; and residual
blocks, nested (an Add of a block's input and output); bidirectional LSTM and GRU,
layernorm, gelu and batchnorm.
"""

from __future__ import annotations

import numpy as np
import pytest

from interop_helpers import cli, import_ok
from tuinn.engine.build import open_session

pytest.importorskip("onnx")

SCENARIOS = ["xor", "spiral", "cnn-bars", "conv-stride-padding", "pool-avg", "dropout",
             "lstm", "gru", "rnn-long-delay", "chars"]
IGNORED = {"init", "init_std"}          # how parameters start: the file sets them all


def shape_of(layer) -> tuple:
    opts = {k: v for k, v in layer.options.items() if k not in IGNORED | {"layers"}}
    if layer.type in ("maxpool", "avgpool") and opts.get("stride") is None:
        opts["stride"] = opts["size"]
    return layer.type, opts, [shape_of(inner) for inner in layer.layers]


RESIDUAL = """
[scenario]
name = "blocks"
kind = "network"
seed = 3
[data]
generator = "spiral"
samples = 60
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 6
[[model.layers]]
type = "residual"
layers = [{ type = "dense", units = 6 }, { type = "tanh" },
          { type = "residual", layers = [{ type = "dense", units = 6 }, { type = "relu" }] }]
[[model.layers]]
type = "residual"
layers = [{ type = "dense", units = 6 }]
[[model.layers]]
type = "dense"
units = 3
"""


SEQUENCES = """
[scenario]
name = "both ways"
kind = "network"
[data]
file = "seq.npz"
[model]
input = [6, 4]
[[model.layers]]
type = "lstm"
hidden = 3
bidirectional = true
return_sequences = true
[[model.layers]]
type = "layernorm"
[[model.layers]]
type = "gelu"
[[model.layers]]
type = "gru"
hidden = 2
bidirectional = true
[[model.layers]]
type = "dense"
units = 5
[[model.layers]]
type = "batchnorm"
[[model.layers]]
type = "dense"
units = 4
[loss]
type = "mse"
"""
INLINE = {"nested residual blocks": RESIDUAL, "bidirectional, norms, gelu": SEQUENCES}


@pytest.mark.parametrize("name", SCENARIOS + list(INLINE))
def test_export_then_import_round_trips(name, tmp_path):
    if name in INLINE:
        (tmp_path / "inline.toml").write_text(INLINE[name])
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "seq.npz", x=rng.normal(size=(12, 6, 4)), y=rng.normal(size=(12, 4)))
        name = str(tmp_path / "inline.toml")
    spec, session = open_session(name)
    prog = session.program
    code, _, err = cli(["export", name, "--onnx", tmp_path / "m.onnx"])
    assert code == 0, err
    np.savez(tmp_path / "d.npz", x=prog.x, y=prog.y)
    import_ok([tmp_path / "m.onnx", "--out", tmp_path / "m.toml", "--data", tmp_path / "d.npz",
               "--loss", spec.network.loss.type])
    spec2, session2 = open_session(str(tmp_path / "m.toml"))
    back = session2.program
    assert [shape_of(la) for la in spec2.network.layers] == \
        [shape_of(la) for la in spec.network.layers]
    want, got = prog.params(), back.params()        # in layer order; default names back
    assert [k.rpartition(".")[2] for k in got] == [k.rpartition(".")[2] for k in want]
    for (k, a), b in zip(got.items(), want.values()):
        assert a.dtype == np.float64 and np.array_equal(a, b), k
    if "dropout" not in [la.type for la in spec.network.layers]:
        np.testing.assert_allclose(back.predict(prog.x), prog.predict(prog.x),
                                   rtol=1e-12, atol=0)


def test_exported_file_is_a_valid_onnx_model(tmp_path):
    import onnx
    assert cli(["export", "lstm", "--onnx", tmp_path / "m.onnx"])[0] == 0
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "LSTM" in ops and model.graph.input[0].type.tensor_type.elem_type == \
        onnx.TensorProto.DOUBLE


def test_export_of_a_graph_scenario_is_refused(tmp_path):
    code, _, err = cli(["export", "sigmoid-neuron", "--onnx", tmp_path / "m.onnx"])
    assert code == 2 and "network" in err and not (tmp_path / "m.onnx").exists()
