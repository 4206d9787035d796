"""`tuinn import` and `tuinn export` on bad input: one message naming what and where, exit 2, no traceback.

Unsupported operators (named with the node's name and index), graphs that branch, a
Softmax in the middle, a missing optional package (the extra to install), hostile files
(not a model, oversized, external data, absurd shapes, control characters in names),
state dicts that do not fit the scenario.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from interop_helpers import FIXTURES, cli

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def save(tmp_path, nodes, inits, name="m.onnx", in_shape=(2, 3), out_name="y"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k)
                     for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def failed(argv) -> str:
    code, out, err = cli(argv)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and err.startswith("error:")
    return err


W = {"W": np.ones((2, 3)), "b": np.zeros(2)}


def test_unsupported_operator_is_named_with_its_node(tmp_path):
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["h"], name="fc", transB=1),
                           helper.make_node("Cos", ["h"], ["y"], name="my_cos")], W)
    err = failed(["import", path, "--out", tmp_path / "o.toml"])
    assert "node 1 'my_cos' (Cos)" in err and "maps to no tuinn layer" in err
    assert not (tmp_path / "o.toml").exists()


def test_a_custom_domain_operator_is_named(tmp_path):
    path = save(tmp_path, [helper.make_node("Fancy", ["x"], ["y"], name="f", domain="com.x")], {})
    assert "com.x.Fancy" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_a_branching_graph_is_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["h"], name="r"),
                           helper.make_node("Sigmoid", ["x"], ["s"], name="side"),
                           helper.make_node("Mul", ["h", "s"], ["y"], name="m")], {})
    err = failed(["import", path, "--out", tmp_path / "o.toml"])
    assert "node 1 'side' (Sigmoid)" in err and "chain of layers" in err


def test_an_add_of_a_block_input_and_output_is_a_residual_block(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["h"], name="r"),
                           helper.make_node("Add", ["x", "h"], ["y"], name="skip")], {})
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 0, err
    assert 'type = "residual"\nlayers = [{ type = "relu" }]' in (tmp_path / "o.toml").read_text()


def test_an_add_across_a_reshape_is_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["h"], name="r"),
                           helper.make_node("Transpose", ["x"], ["t"], name="t", perm=[1, 0]),
                           helper.make_node("Add", ["h", "t"], ["y"], name="skip")], {})
    assert "node 2 'skip' (Add)" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_softmax_only_at_the_end(tmp_path):
    path = save(tmp_path, [helper.make_node("Softmax", ["x"], ["s"], name="sm"),
                           helper.make_node("Relu", ["s"], ["y"], name="r")], {})
    assert "Softmax" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_a_final_softmax_is_dropped_for_softmax_ce(tmp_path):
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["h"], name="fc", transB=1),
                           helper.make_node("Softmax", ["h"], ["y"], name="sm")], W)
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 0, err
    text = (tmp_path / "o.toml").read_text()
    assert 'type = "softmax_ce"' in text and "Softmax is dropped" in text
    assert cli(["check", tmp_path / "o.toml"])[0] == 0


def test_uneven_padding_is_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Conv", ["x", "K"], ["y"], name="c",
                                            pads=[0, 0, 1, 1])],
                {"K": np.ones((1, 1, 2, 2))}, in_shape=(1, 1, 4, 4))
    assert "pads [0, 0, 1, 1]" in failed(["import", path, "--out", tmp_path / "o.toml"])


@pytest.mark.parametrize("package,model", [("onnx", "mlp.onnx"), ("torch", "x.pt")])
def test_missing_extra_names_it(package, model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)      # `import package` fails
    path = FIXTURES / model if model.endswith(".onnx") else tmp_path / model
    if not path.exists():
        path.write_bytes(b"PK\x03\x04")
    err = failed(["import", path, "--out", tmp_path / "o.toml"])
    assert f"pip install 'tuinn[{package}]'" in err


def test_export_without_onnx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    err = failed(["export", "xor", "--onnx", tmp_path / "m.onnx"])
    assert "pip install 'tuinn[onnx]'" in err


def test_not_a_model(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\xff\xff\xff\xff\x0f garbage \x1b[31m")
    assert "not a readable ONNX file" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_oversized_file_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setenv("TUINN_MEMORY_LIMIT", "1kB")
    err = failed(["import", FIXTURES / "rnn.onnx", "--out", tmp_path / "o.toml"])
    assert "over the limit" in err


def test_external_data_is_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc",
                                            transB=1)], W)
    model = onnx.load(str(path))
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    path.write_bytes(model.SerializeToString())
    err = failed(["import", path, "--out", tmp_path / "o.toml"])
    assert "outside the model's folder" in err


def test_external_data_beside_the_model_is_read(tmp_path):
    """torch.onnx.export keeps weights in model.onnx.data: read from the model's folder,
    the bytes checked against the shape."""
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc",
                                            transB=1)], W)
    model = onnx.load(str(path))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.onnx.data", size_threshold=0)
    assert (tmp_path / "m.onnx.data").exists()
    code, _, err = cli(["import", path, "--out", tmp_path / "o.toml"])
    assert code == 0, err
    with np.load(tmp_path / "o.npz") as z:
        assert np.array_equal(z["dense1.W"], np.ones((3, 2)))
    (tmp_path / "m.onnx.data").write_bytes(b"\0" * 8)     # shorter than the shapes need
    assert "does not match its shape" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_absurd_declared_shape_is_refused_before_allocating(tmp_path, monkeypatch):
    monkeypatch.setenv("TUINN_MEMORY_LIMIT", "1MB")
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc")],
                {"W": np.ones((3, 2)), "b": np.zeros(2)})
    model = onnx.load(str(path))
    w = model.graph.initializer[0]
    del w.dims[:]
    w.dims.extend([10 ** 6, 10 ** 6])
    path.write_bytes(model.SerializeToString())
    assert "the limit is" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_control_characters_in_names_are_escaped(tmp_path):
    path = save(tmp_path, [helper.make_node("Cos", ["x"], ["y"], name="evil\x1b[2J\x07")], {})
    err = failed(["import", path, "--out", tmp_path / "o.toml"])
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err


def test_unknown_kind_of_file(tmp_path):
    path = tmp_path / "m.h5"
    path.write_bytes(b"x")
    assert ".onnx, .pt" in failed(["import", path, "--out", tmp_path / "o.toml"])


def test_state_dict_needs_a_scenario(tmp_path):
    assert "--scenario" in failed(["import", FIXTURES / "mlp.state.safetensors",
                                   "--out", tmp_path / "o.toml"])


def base_with(tmp_path, units: list[int]):
    base = tmp_path / "base.toml"
    layers = ", ".join(f'{{type = "dense", units = {u}}}' for u in units)
    base.write_text('[scenario]\nname = "b"\nkind = "network"\n[data]\ngenerator = "xor"\n'
                    f'[model]\ninput = [2]\nlayers = [{layers}]\n')
    return base


def test_state_dict_that_does_not_fit(tmp_path):
    err = failed(["import", FIXTURES / "mlp.state.safetensors", "--scenario",
                  base_with(tmp_path, [6, 5, 3]), "--out", tmp_path / "o.toml"])
    assert "dense1.W would be (4, 6) but the scenario's layer needs (2, 6)" in err
    err = failed(["import", FIXTURES / "mlp.state.safetensors", "--scenario",
                  base_with(tmp_path, [6, 3]), "--out", tmp_path / "o.toml"])
    assert "3 modules with parameters but the scenario 2 layers" in err


def test_data_of_the_wrong_shape(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 5)), y=np.zeros((3, 3)))
    err = failed(["import", FIXTURES / "mlp.onnx", "--out", tmp_path / "o.toml",
                  "--data", tmp_path / "d.npz"])
    assert "[5]" in err and "[4]" in err


def test_without_data_a_placeholder_batch_runs(tmp_path):
    code, out, err = cli(["import", FIXTURES / "cnn.onnx", "--out", tmp_path / "o.toml"])
    assert code == 0, err
    assert (tmp_path / "o.data.npz").exists() and "placeholder" in (tmp_path / "o.toml").read_text()
    assert cli(["trace", tmp_path / "o.toml", "--json"])[0] == 0


def test_a_malformed_node_is_an_error_not_a_crash(tmp_path):
    """Found by fuzzing: an attribute of the wrong kind (alpha as a string)."""
    path = save(tmp_path, [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc",
                                            transB=1, alpha="one")], W)
    assert "node 0 'fc' (Gemm): a malformed node" in failed(
        ["import", path, "--out", tmp_path / "o.toml"])


def test_a_constant_too_large_to_make_is_refused(tmp_path, monkeypatch):
    """Found by fuzzing: ConstantOfShape (or Expand) can ask for any size."""
    monkeypatch.setenv("TUINN_MEMORY_LIMIT", "1MB")
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [10 ** 6, 10 ** 6])
    path = save(tmp_path, [helper.make_node("Constant", [], ["s"], name="c", value=shape),
                           helper.make_node("ConstantOfShape", ["s"], ["z"], name="big"),
                           helper.make_node("Relu", ["x"], ["y"], name="r")], {})
    assert "node 1 'big' (ConstantOfShape): would make a constant" in failed(
        ["import", path, "--out", tmp_path / "o.toml"])


def test_a_huge_input_without_data_is_refused(tmp_path):
    """Found by fuzzing: the placeholder batch is sized before it is made."""
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"], name="r")], {},
                in_shape=(2, 10 ** 12))
    assert "placeholder batch" in failed(["import", path, "--out", tmp_path / "o.toml"])
