"""Tests for scenario loading: contract files, defaults, lines of keys, and every bad fixture."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tuinn.errors import TuinnError
from tuinn.scenario import load_scenario, load_text
from tuinn.scenario.locate import line_of, locate

HERE = Path(__file__).parent
CONTRACT = sorted((HERE / "contract" / "v1").glob("*.toml"))
BAD = HERE / "fixtures" / "bad"
GOOD = HERE / "fixtures" / "good"

GRAPH_HEAD = '[scenario]\nname = "t"\nkind = "graph"\n'
NET_HEAD = '[scenario]\nname = "t"\nkind = "network"\n[data]\ngenerator = "xor"\n'


def load_error(text: str, path: str = "t.toml") -> TuinnError:
    with pytest.raises(TuinnError) as err:
        load_text(text, path)
    return err.value


# ------------------------------------------------------------------ good files
@pytest.mark.parametrize("path", CONTRACT, ids=lambda p: p.stem)
def test_contract_files_load(path):
    spec = load_scenario(path)
    assert spec.info.name == path.stem
    assert (spec.graph is None) != (spec.network is None)
    assert spec.lines["scenario.kind"] == 3


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.toml"))
                         + sorted((HERE.parent / "tuinn" / "scenarios").glob("*.toml")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_good_fixtures_and_bundled_scenarios_load(path):
    load_scenario(path)


def test_circuit_add_mul():
    spec = load_scenario(CONTRACT[0].parent / "circuit-add-mul.toml")
    graph = spec.graph
    assert list(graph.inputs) == ["x", "y", "z"]
    assert all(v.shape == () and v.dtype == np.float64 for v in graph.inputs.values())
    assert float(graph.inputs["z"]) == -4.0
    assert [(g.id, g.op, g.args, g.line) for g in graph.gates] == [
        ("q", "add", ("x", "y"), 8), ("f", "mul", ("q", "z"), 9)]
    assert graph.output == "f" and graph.names == {"q": "q", "f": "f"}
    assert spec.lines["graph.expr"] == 7 and spec.lines["graph.output"] == 11


def test_conv_contract_layers_and_params():
    net = load_scenario(CONTRACT[0].parent / "conv-mse-sgd.toml").network
    assert net.input == (1, 4, 4)
    assert [(l.name, l.type) for l in net.layers] == [
        ("conv2d1", "conv2d"), ("relu1", "relu"), ("flatten1", "flatten"), ("dense1", "dense")]
    assert net.layers[0].options == {"filters": 2, "kernel": 2, "stride": 1, "padding": 0,
                                     "init": "he", "init_std": 0.01}
    assert net.params["conv2d1.W"].shape == (2, 1, 2, 2)
    assert net.params["dense1.W"].dtype == np.float64
    assert net.data.x.shape == (2, 1, 4, 4) and net.data.y.shape == (2, 1)
    assert (net.loss.type, net.optimizer.type, net.optimizer.lr) == ("mse", "sgd", 0.1)
    assert (net.train.epochs, net.train.batch_size, net.train.shuffle) == (2, 0, False)


def test_class_labels_stay_integers():
    net = load_scenario(CONTRACT[0].parent / "mlp-softmax-l2-sgd.toml").network
    assert net.data.y.dtype == np.int64 and net.data.y.tolist() == [0, 1, 1, 0]
    assert net.loss.l2 == 0.001


def test_everything_fixture_values():
    spec = load_scenario(GOOD / "everything.toml")
    info, net = spec.info, spec.network
    assert (info.seed, info.dtype) == (7, "float32")
    assert info.description == "A *markdown* description\nover two lines."
    names = [(l.name, l.type, [s.name for s in l.layers]) for l in net.layers]
    assert names == [("hidden", "dense", []), ("leaky_relu1", "leaky_relu", []),
                     ("residual1", "residual", ["dense2", "tanh1", "dropout1"]),
                     ("dense3", "dense", [])]
    assert net.layers[0].options == {"units": 16, "init": "normal", "init_std": 0.05}
    assert net.layers[1].options == {"slope": 0.1}
    assert net.layers[2].layers[2].options == {"p": 0.25}
    assert net.params["dense2.b"].dtype == np.float32        # written as a dotted key
    assert net.params["hidden.b"].shape == (16,)
    assert net.data.generator == "spiral" and net.data.validation == 0.2
    assert net.data.options == {"samples": 120, "classes": 3, "noise": 0.25}
    assert (net.loss.type, net.loss.margin) == ("hinge", 0.5)
    assert (net.optimizer.type, net.optimizer.alpha, net.optimizer.eps) == ("rmsprop", 0.9, 1e-6)
    assert spec.debug.breakpoints == ["nan", "grad_norm > 100", "loss < 0.05"]
    assert spec.debug.watch == ["hidden.W.grad", "dense2.b"] and spec.debug.history == 50
    assert spec.lines["model.layers.2.layers.0.units"] == 35
    assert spec.lines["params.hidden.b"] == 46 and spec.lines["params.dense2.b"] == 48
    assert net.layers[3].line == 40


def test_defaults():
    spec = load_text(NET_HEAD + '[model]\ninput = [2]\n'
                     'layers = [{ type = "dense", units = 2 }, { type = "maxpool", size = 3 },'
                     ' { type = "gru", hidden = 4 }, { type = "dropout" }]\n', "t.toml")
    net = spec.network
    assert (spec.info.seed, spec.info.dtype, spec.info.description) == (0, "float64", "")
    assert net.layers[0].options == {"units": 2, "init": "xavier", "init_std": 0.01}
    assert net.layers[1].options == {"size": 3, "stride": 3}
    assert net.layers[2].options == {"hidden": 4, "return_sequences": False,
                                     "bidirectional": False, "init": "xavier",
                                     "init_std": 0.01}
    assert net.layers[3].options == {"p": 0.5}
    assert (net.loss.type, net.loss.margin, net.loss.l2) == ("softmax_ce", 1.0, 0.0)
    assert (net.optimizer.type, net.optimizer.lr, net.optimizer.eps) == ("sgd", 0.1, 1e-8)
    assert (net.train.epochs, net.train.batch_size, net.train.shuffle) == (100, 0, True)
    assert (spec.debug.breakpoints, spec.debug.watch, spec.debug.history) == ([], [], 200)
    assert net.data.options == {} and net.data.validation == 0.0
    assert net.params == {} and net.params_file is None


def test_graph_tables_fixture():
    spec = load_scenario(GOOD / "graph_tables.toml")
    graph = spec.graph
    assert graph.inputs["W"].dtype == np.float32 and graph.inputs["W"].shape == (2, 3)
    assert [(g.id, g.line) for g in graph.gates][:3] == [("matmul1", 9), ("s", 9), ("h", 11)]
    assert graph.gates[-1].id == "f" and graph.gates[-1].line == 12
    assert spec.lines["graph.inputs.b"] == 19


def test_files_resolve_relative_to_the_scenario(tmp_path):
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "points.npz", x=np.zeros((3, 2)), y=np.zeros(3))
    np.savez(tmp_path / "weights.npz", **{"dense1.W": np.zeros((2, 2))})
    scenario = tmp_path / "s.toml"
    scenario.write_text(NET_HEAD.replace('generator = "xor"', 'file = "data/points.npz"')
                        + '[model]\ninput = [2]\nlayers = [{ type = "dense", units = 2 }]\n'
                        '[params]\nfile = "weights.npz"\n"dense1.b" = [1.0, 2.0]\n')
    net = load_scenario(scenario).network
    assert Path(net.data.file) == tmp_path / "data" / "points.npz"
    assert Path(net.params_file) == tmp_path / "weights.npz"
    assert net.params["dense1.b"].tolist() == [1.0, 2.0]


def test_crlf_and_bom_are_accepted(tmp_path):
    path = tmp_path / "s.toml"
    text = GRAPH_HEAD + '[graph]\ninputs = { x = 2.0 }\nexpr = """\nq = x * x\nf = q + 1\n"""\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    spec = load_scenario(path)
    assert [(g.id, g.line) for g in spec.graph.gates] == [("q", 7), ("f", 8)]


def test_input_values_become_arrays_of_the_dtype():
    spec = load_text(GRAPH_HEAD + 'dtype = "float32"\n[graph]\n'
                     'inputs = { a = 1, b = [[1, 2], [3, 4]] }\nexpr = "f = sum(a * b)"\n', "t")
    a, b = spec.graph.inputs["a"], spec.graph.inputs["b"]
    assert (a.shape, a.dtype, b.shape, b.dtype) == ((), np.float32, (2, 2), np.float32)


# ------------------------------------------------------------------ locate
def test_locate_tables_arrays_of_tables_and_inline_tables():
    text = ('[a]\nx = 1\n[[m.layers]]\ntype = "r"\n[[m.layers.layers]]\nu = 1\n'
            '[[m.layers]]\nlayers = [\n  { type = "d" },  # ] not the end\n'
            '  { "q.k" = "x\\"y" },\n]\nb.c = { d = [1, [2, 3]], e = \'\'\'\nz\'\'\' }\n')
    lines = locate(text).lines
    assert lines["a.x"] == 2 and lines["m.layers.0"] == 3 and lines["m.layers.0.type"] == 4
    assert lines["m.layers.0.layers.0.u"] == 6 and lines["m.layers.1"] == 7
    assert lines["m.layers.1.layers.0.type"] == 9 and lines["m.layers.1.layers.1.q.k"] == 10
    assert lines["m.layers.1.b.c.d"] == 12 and lines["m.layers.1.b.c.e"] == 12


def test_locate_maps_every_line_of_a_multiline_string():
    text = 'k = 1\ns = """\nfirst\n\nthird \\\n  still third\nfourth\\nfifth"""\nafter = 2\n'
    found = locate(text)
    assert found.strings["s"] == [3, 4, 5, 7, 7]
    assert found.lines["after"] == 8


def test_line_of_walks_up_to_the_nearest_parent():
    lines = {"model": 3, "model.layers.0": 5}
    assert line_of(lines, "model.layers.0.units") == 5
    assert line_of(lines, "model.input") == 3 and line_of(lines, "loss.type") is None


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_damaged_files_give_tuinn_errors_only(data):
    """Whatever happens to a scenario, loading answers a Spec or a TuinnError."""
    source = data.draw(st.sampled_from(CONTRACT + sorted(GOOD.glob("*.toml"))))
    text = source.read_text()
    lines = text.split("\n")
    cut = data.draw(st.integers(0, len(lines) - 1))
    damage = data.draw(st.sampled_from(["drop", "char", "dup"]))
    if damage == "drop":
        del lines[cut]
    elif damage == "dup":
        lines.insert(cut, lines[cut])
    else:
        col = data.draw(st.integers(0, max(len(lines[cut]) - 1, 0)))
        ch = data.draw(st.sampled_from(list("=[]{}\"'#.,0-x ")))
        lines[cut] = lines[cut][:col] + ch + lines[cut][col + 1:]
    try:
        load_text("\n".join(lines), str(source))
    except TuinnError as err:
        assert err.file == str(source) and err.message


# ------------------------------------------------------------------ bad files
# fixture -> (line, key, part of the message, part of the hint or None)
EXPECTED = {
    "toml_syntax": (5, None, "TOML syntax error", None),
    "unknown_table": (5, "grpah", "unknown table [grpah]", "did you mean 'graph'?"),
    "unknown_scenario_key": (4, "scenario.descripton", "unknown key 'descripton'",
                             "did you mean 'description'?"),
    "unknown_kind": (4, "scenario.kind", "unknown kind 'grpah'", "did you mean 'graph'?"),
    "unknown_function": (11, "graph.expr", "unknown function 'expp'", "did you mean 'exp'?"),
    "unknown_name": (9, "graph.expr", "unknown name 'yy'", "did you mean 'y'?"),
    "import_expr": (8, "graph.expr", "names starting with '__' are not allowed", None),
    "attribute_access": (9, "graph.expr", "attribute access", None),
    "shape_mismatch": (8, "graph.expr", "shape mismatch in gate 's'", None),
    "nonscalar_output": (8, "graph.expr", "output 'f' has shape (2, 3); the output must be "
                         "a scalar: try sum(f) or mean(f)", None),
    "ragged_inputs": (10, "graph.inputs.x", "ragged", None),
    "empty": (None, None, "empty scenario file", None),
    "binary": (None, None, "binary file", None),
    "non_utf8": (3, None, "not UTF-8", None),
    "string_input": (6, "graph.inputs.x", "got a string", None),
    "bool_input": (6, "graph.inputs.x", "got a boolean", None),
    "unknown_layer_type": (16, "model.layers.1.type", "unknown type 'relux'",
                           "did you mean 'relu'?"),
    "missing_units": (11, "model.layers.0.units", "missing required key 'units'", None),
    "negative_lr": (14, "optimizer.lr", "must be > 0, got -0.1", None),
    "unknown_optimizer": (13, "optimizer.type", "unknown type 'adamw'", "did you mean 'adam'?"),
    "validation_range": (7, "data.validation", "must be in [0, 1), got 1.5", None),
    "duplicate_layer_names": (22, "model.layers.2.name", "duplicate layer name 'hidden'", None),
    "missing_data_file": (6, "data.file", "file not found", None),
    "xy_rows": (7, "data.y", "x has 3 rows but y has 2", None),
    "assign_input": (9, "graph.expr", "'x' is an input", None),
    "assign_twice": (10, "graph.expr", "'q' is already assigned on line 8", None),
    "use_before_assign": (8, "graph.expr", "used before it is assigned (on line 9)", None),
    "constant_expr": (8, "graph.expr", "'c' is a constant", None),
    "matmul_constant": (8, "graph.expr", "'@' needs two tensors", None),
    "pow_node_exponent": (7, "graph.expr", "exponent of '**' must be a number", None),
    "unknown_output": (10, "graph.output", "output 'los'", "did you mean 'loss'?"),
    "wrong_arg_count": (8, "graph.expr", "max() takes 2 arguments, got 1", None),
    "expr_continuation": (10, "graph.expr", "unexpected '*'", None),
    "epochs_string": (13, "train.epochs", "expected an integer, got a string", None),
    "dropout_p": (12, "model.layers.1.p", "must be in [0, 1), got 1.0", None),
    "huge_layer": (13, "model.layers.0.units", "too large", None),
    "huge_data": (7, "data.samples", "too many for memory", None),
    "two_data_sources": (7, "data.x", "only one data source", None),
    "params_unknown_layer": (14, "params.dense2.W", "no layer named 'dense2'",
                             "did you mean 'dense1'?"),
    "params_ragged": (13, "params.dense1.W", "ragged", None),
    "graph_with_data": (9, "data", "only for kind = 'network'", None),
    "residual_bad_inner": (14, "model.layers.1.layers.1.slope", "unknown key 'slope'", None),
    "model_input_zero": (9, "model.input.1", "must be > 0, got 0", None),
    "missing_name": (1, "scenario.name", "missing required key 'name'", None),
}


def test_every_bad_fixture_has_an_expectation():
    assert {p.stem for p in BAD.glob("*.toml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture(name):
    line, key, message, hint = EXPECTED[name]
    path = BAD / f"{name}.toml"
    with pytest.raises(TuinnError) as err:
        load_scenario(path)
    e = err.value
    assert e.file == str(path)
    assert (e.line, e.key) == (line, key), str(e)
    assert message in e.message
    if hint:
        assert e.hint == hint
    assert str(path) in str(e) and (line is None or f":{line}:" in str(e))


@pytest.mark.parametrize("text, line, key, message", [
    ('[scenario]\nname = "t"\n', 1, "scenario.kind", "missing required key 'kind'"),
    ('name = "t"\n', 1, "name", "unknown top-level key 'name'"),
    ("# just a comment\n", None, None, "empty scenario file"),
    ("[graph]\nexpr = 'f = x'\n", None, "scenario", "missing the [scenario] table"),
    (GRAPH_HEAD + "seed = -1\n", 4, "scenario.seed", "must be >= 0"),
    (GRAPH_HEAD + 'dtype = "float16"\n', 4, "scenario.dtype", "unknown dtype 'float16'"),
    (GRAPH_HEAD, 3, "graph", "needs a [graph] table"),
    (GRAPH_HEAD + '[graph]\ninputs = {}\nexpr = "f = 1"\n', 5, "graph.inputs", "at least one"),
    (GRAPH_HEAD + '[graph]\ninputs = { exp = 1.0 }\nexpr = "f = exp * 2"\n', 5,
     "graph.inputs.exp", "function name"),
    (GRAPH_HEAD + '[graph]\ninputs = { x = 1.0 }\n', 4, "graph.expr", "missing required key"),
    (GRAPH_HEAD + '[graph]\ninputs = { x = [] }\nexpr = "f = sum(x)"\n', 5, "graph.inputs.x",
     "empty array"),
    (GRAPH_HEAD + '[graph]\ninputs = { x = 1.0 }\nexpr = "f = x * 2"\nlayers = 1\n', 7,
     "graph.layers", "unknown key 'layers'"),
    (NET_HEAD, 3, "model", "needs a [model] table"),
    (NET_HEAD + '[model]\ninput = []\nlayers = [{ type = "relu" }]\n', 7, "model.input",
     "must not be empty"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = []\n', 8, "model.layers", "must not be empty"),
    (NET_HEAD + '[model]\ninput = [3, 10000, 10000]\nlayers = [{ type = "relu" }]\n', 7,
     "model.input", "too many for memory"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ units = 2 }]\n', 8, "model.layers.0",
     "layer without a type"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "dense", units = 2.5 }]\n', 8,
     "model.layers.0.units", "expected an integer, got a float"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "residual", layers = [] }]\n', 8,
     "model.layers.0.layers", "must not be empty"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "dense", units = 2, name = "a.b" }]'
     '\n', 8, "model.layers.0.name", "layer name 'a.b'"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "dense", units = 2, init = "hee" }]'
     '\n', 8, "model.layers.0.init", "unknown init 'hee'"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "dense", units = 2 }]\n'
     '[params]\n"dense1.Wx" = [1.0]\n', 10, "params.dense1.Wx", "has no parameter 'Wx'"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n'
     '[params]\n"relu1.W" = [1.0]\n', 10, "params.relu1.W", "has no parameters"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n[params]\nW = [1.0]\n',
     10, "params.W", "'<layer>.<param>'"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n[loss]\ntype = "mes"\n',
     10, "loss.type", "unknown type 'mes'"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n[train]\nshuffle = 1\n',
     10, "train.shuffle", "expected true or false"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n[debug]\nwatch = [1]\n',
     10, "debug.watch.0", "expected a string"),
    (NET_HEAD + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n[graph]\nexpr = "f"\n',
     9, "graph", "only for kind = 'graph'"),
    (NET_HEAD.replace('generator = "xor"', 'generator = "spirals"')
     + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', 5, "data.generator",
     "unknown generator 'spirals'"),
    (NET_HEAD.replace('generator = "xor"', 'generator = "xor"\nfactor = 2.0')
     + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', 6, "data.factor",
     "unknown key 'factor'"),
    (NET_HEAD.replace('generator = "xor"', 'x = [[1.0, 2.0]]')
     + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', 5, "data.x", "y is missing"),
    (NET_HEAD.replace('generator = "xor"', 'x = [[1.0, 2.0]]\ny = [1]')
     + '[model]\ninput = [3]\nlayers = [{ type = "relu" }]\n', 5, "data.x", "input = [3]"),
    (NET_HEAD.replace('generator = "xor"', 'file = "points.txt"')
     + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', 5, "data.file",
     "expected a .npz or .csv file"),
    (NET_HEAD.replace('generator = "xor"', '')
     + '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', 4, "data", "no data"),
])
def test_inline_errors(text, line, key, message):
    err = load_error(text)
    assert (err.line, err.key) == (line, key), str(err)
    assert message in err.message, str(err)


def test_misplaced_top_level_key_points_to_its_table():
    err = load_error('epochs = 3\n' + NET_HEAD)
    assert err.hint == "did you mean to put it under [train]?"


def test_file_errors(tmp_path):
    with pytest.raises(TuinnError, match="no such scenario file") as err:
        load_scenario(tmp_path / "missing.toml")
    assert err.value.file == str(tmp_path / "missing.toml")
    (tmp_path / "sigmoid.toml").write_text(GRAPH_HEAD)
    with pytest.raises(TuinnError) as err:
        load_scenario(tmp_path / "sigmiod.toml")
    assert err.value.hint == "did you mean 'sigmoid.toml'?"
    with pytest.raises(TuinnError, match="is a directory"):
        load_scenario(tmp_path)


def test_loading_imports_no_numba_and_no_ui():
    code = ("import sys; from tuinn.scenario import load_scenario; "
            f"load_scenario({str(GOOD / 'everything.toml')!r}); "
            f"load_scenario({str(GOOD / 'graph_tables.toml')!r}); "
            "bad = [m for m in ('numba', 'textual', 'rich') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=HERE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
