"""Tests for tuinn.scenario.expr, expr_build and expr_shapes: tokens, precedence, gates, shapes.

Python's own `ast` serves here (in the tests only) as the oracle for precedence, and a
small NumPy interpreter of the gates checks that lowering keeps the meaning.
"""

import ast

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tuinn.errors import TuinnError
from tuinn.scenario.expr import ExprError, parse_expression, parse_line, show, tokenize
from tuinn.scenario.expr_build import build_graph
from tuinn.scenario.expr_shapes import infer_shapes


def scalars(**values):
    return {k: np.array(float(v)) for k, v in values.items()}


def gates_of(expr, inputs=None):
    graph = build_graph(expr, inputs or scalars(a=1, b=2, c=3, x=4))
    return [(g.id, g.op, g.args, g.const) for g in graph.gates]


# ------------------------------------------------------------------ tokens
def test_tokenize_kinds_columns_and_comment():
    toks = tokenize("f = 1e-3*x0 ** 2 + .5  # note")
    assert [(t.kind, t.text, t.col) for t in toks] == [
        ("name", "f", 0), ("op", "=", 2), ("num", "1e-3", 4), ("op", "*", 8),
        ("name", "x0", 9), ("op", "**", 12), ("num", "2", 15), ("op", "+", 17),
        ("num", ".5", 19), ("end", "", 23)]


@pytest.mark.parametrize("text, message, col", [
    ("x.real", "attribute access", 1),
    ("__import__('os')", "'__'", 0),
    ("'abc'", "strings are not allowed", 0),
    ("x[0]", "brackets", 1),
    ("x; y", "';'", 1),
    ("2x", "malformed number", 0),
    ("x $ y", "unexpected character '$'", 2),
    ("x ! y", "unexpected character '!'", 2),
])
def test_tokenize_rejects(text, message, col):
    with pytest.raises(ExprError) as err:
        tokenize(text)
    assert message in err.value.message
    assert err.value.col == col


# ------------------------------------------------------------------ precedence
@pytest.mark.parametrize("text, tree", [
    ("a + b * c", "(a + (b * c))"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b * c", "((a / b) * c)"),
    ("a * b @ c / d", "(((a * b) @ c) / d)"),
    ("-x ** 2", "(-(x ** 2.0))"),
    ("-2 ** 2", "(-(2.0 ** 2.0))"),
    ("a ** b ** c", "(a ** (b ** c))"),
    ("x ** -1", "(x ** (-1.0))"),
    ("-a * b", "((-a) * b)"),
    ("+a - -b", "((+a) - (-b))"),
    ("(a + b) * c", "((a + b) * c)"),
    ("max(a, 2) + mean(x @ W)", "(max(a, 2.0) + mean((x @ W)))"),
    ("1e-3 * x", "(0.001 * x)"),
])
def test_precedence(text, tree):
    assert show(parse_expression(text)) == tree


def _show_ast(node) -> str:
    """Python's tree in the format of `show` (the test oracle)."""
    ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@",
           ast.Pow: "**"}
    if isinstance(node, ast.BinOp):
        return f"({_show_ast(node.left)} {ops[type(node.op)]} {_show_ast(node.right)})"
    if isinstance(node, ast.UnaryOp):
        return f"({'-' if isinstance(node.op, ast.USub) else '+'}{_show_ast(node.operand)})"
    if isinstance(node, ast.Constant):
        return repr(float(node.value))
    if isinstance(node, ast.Name):
        return node.id
    return f"{node.func.id}({', '.join(_show_ast(a) for a in node.args)})"


_LEAF = st.sampled_from(["a", "b", "c", "2", "0.5", "3", "1e-1"])


def _node(children):
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "@"]), children, children,
                       st.booleans()).map(
        lambda t: f"({t[1]} {t[0]} {t[2]})" if t[3] else f"{t[1]} {t[0]} {t[2]}")
    power = st.tuples(children, st.sampled_from(["2", "3", "-1"]), st.booleans()).map(
        lambda t: f"({t[0]} ** {t[1]})" if t[2] else f"{t[0]} ** {t[1]}")
    unary = st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: t[0] + t[1])
    call1 = st.tuples(st.sampled_from(["tanh", "relu", "abs", "sigmoid", "sum"]),
                      children).map(lambda t: f"{t[0]}({t[1]})")
    call2 = st.tuples(st.sampled_from(["max", "min"]), children, children).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})")
    return binary | power | unary | call1 | call2


EXPRESSIONS = st.recursive(_LEAF, _node, max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(EXPRESSIONS)
def test_precedence_matches_python(text):
    assert show(parse_expression(text)) == _show_ast(ast.parse(text, mode="eval").body)


# ------------------------------------------------------------------ meaning
_GATE_FN = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum, "matmul": np.matmul,
    "neg": np.negative, "inv": lambda a: 1.0 / a, "exp": np.exp, "log": np.log,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)), "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0), "abs": np.abs, "sum": np.sum, "mean": np.mean,
    "addc": lambda a, c: a + c, "mulc": lambda a, c: a * c, "powc": lambda a, c: a ** c,
    "maxc": lambda a, c: np.maximum(a, c), "minc": lambda a, c: np.minimum(a, c),
}


def run_gates(graph):
    values = dict(graph.inputs)
    for g in graph.gates:
        args = [values[a] for a in g.args] + ([g.const] if g.const is not None else [])
        values[g.id] = _GATE_FN[g.op](*args)
    return values


def _eval_ast(node, env):
    if isinstance(node, ast.BinOp):
        left, right = _eval_ast(node.left, env), _eval_ast(node.right, env)
        return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                ast.Div: np.divide, ast.Pow: np.power}[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _eval_ast(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    args = [_eval_ast(a, env) for a in node.args]
    return _GATE_FN[node.func.id](*args)


@settings(max_examples=150, deadline=None)
@given(EXPRESSIONS.filter(lambda t: "@" not in t),
       st.lists(st.floats(0.25, 3.0), min_size=3, max_size=3))
def test_gates_compute_the_expression(text, values):
    inputs = scalars(a=values[0], b=values[1], c=values[2])
    try:
        graph = build_graph(f"f = {text}", inputs)
    except TuinnError as err:   # a constant expression, or folding hit 1/0
        assert any(w in err.message for w in ("constant", "cannot compute", "by zero",
                                                 "just the input"))
        assume(False)
    with np.errstate(all="ignore"):
        expected = _eval_ast(ast.parse(text, mode="eval").body, inputs)
        got = run_gates(graph)[graph.output]
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ gates
def test_sigmoid_circuit_has_the_eight_classic_gates():
    inputs = scalars(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    graph = build_graph("f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", inputs)
    assert [(g.id, g.op, g.args, g.const) for g in graph.gates] == [
        ("mul1", "mul", ("w0", "x0"), None),
        ("mul2", "mul", ("w1", "x1"), None),
        ("add1", "add", ("mul1", "mul2"), None),
        ("add2", "add", ("add1", "w2"), None),
        ("neg1", "neg", ("add2",), None),
        ("exp1", "exp", ("neg1",), None),
        ("addc1", "addc", ("exp1",), 1.0),
        ("f", "inv", ("addc1",), None),
    ]
    assert graph.output == "f" and graph.names == {"f": "f"}
    assert [g.assigned for g in graph.gates] == [None] * 7 + ["f"]
    assert run_gates(graph)["f"] == pytest.approx(0.7310585786300049)


@pytest.mark.parametrize("expr, gates", [
    ("f = a + 2", [("f", "addc", ("a",), 2.0)]),
    ("f = 2 + a", [("f", "addc", ("a",), 2.0)]),
    ("f = a - 2", [("f", "addc", ("a",), -2.0)]),
    ("f = 2 - a", [("neg1", "neg", ("a",), None), ("f", "addc", ("neg1",), 2.0)]),
    ("f = a * 3", [("f", "mulc", ("a",), 3.0)]),
    ("f = 3 * a", [("f", "mulc", ("a",), 3.0)]),
    ("f = a / 4", [("f", "mulc", ("a",), 0.25)]),
    ("f = 1 / a", [("f", "inv", ("a",), None)]),
    ("f = 2 / a", [("inv1", "inv", ("a",), None), ("f", "mulc", ("inv1",), 2.0)]),
    ("f = -a", [("f", "neg", ("a",), None)]),
    ("f = a ** 2", [("f", "powc", ("a",), 2.0)]),
    ("f = a ** -0.5", [("f", "powc", ("a",), -0.5)]),
    ("f = max(a, 0)", [("f", "maxc", ("a",), 0.0)]),
    ("f = max(0, a)", [("f", "maxc", ("a",), 0.0)]),
    ("f = min(a, 1)", [("f", "minc", ("a",), 1.0)]),
    ("f = min(1, a)", [("f", "minc", ("a",), 1.0)]),
    ("f = max(a, b)", [("f", "max", ("a", "b"), None)]),
    ("f = a * (2 + 3) ** 2", [("f", "mulc", ("a",), 25.0)]),
    ("f = a + 2 * 3 - 1", [("addc1", "addc", ("a",), 6.0), ("f", "addc", ("addc1",), -1.0)]),
    ("f = a + -2", [("f", "addc", ("a",), -2.0)]),
    ("f = a * exp(0)", [("f", "mulc", ("a",), 1.0)]),
    ("f = a * max(2, 3)", [("f", "mulc", ("a",), 3.0)]),
    ("f = +(a * b)", [("f", "mul", ("a", "b"), None)]),
    ("f = a - b", [("f", "sub", ("a", "b"), None)]),
    ("f = a / b", [("f", "div", ("a", "b"), None)]),
    ("f = sum(a) + mean(b)", [("sum1", "sum", ("a",), None), ("mean1", "mean", ("b",), None),
                              ("f", "add", ("sum1", "mean1"), None)]),
])
def test_constant_folding(expr, gates):
    assert gates_of(expr) == gates


def test_alias_intermediate_counters_and_names():
    expr = "\nq = a\nmul1 = q * b  # a user name that looks like an id\nf = q * c * mul1\n"
    graph = build_graph(expr, scalars(a=1, b=2, c=3))
    assert graph.names == {"q": "a", "mul1": "mul1", "f": "f"}
    assert [(g.id, g.args, g.line) for g in graph.gates] == [
        ("mul1", ("a", "b"), 3), ("mul2", ("a", "c"), 4), ("f", ("mul2", "mul1"), 4)]
    assert graph.output == "f"


def test_output_defaults_to_last_and_can_name_an_earlier_assignment():
    graph = build_graph("g = a * 2\nh = g + b", scalars(a=1, b=2), output="g")
    assert graph.output == "g"
    alias = build_graph("g = a * 2\nh = g", scalars(a=1, b=2))
    assert alias.output == "g" and alias.names["h"] == "g"


@pytest.mark.parametrize("expr, line, message", [
    ("f = a +", 1, "ends too early"),
    ("f = (a + b", 1, "missing ')'"),
    ("f = a + b)", 1, "unmatched ')'"),
    ("f = a b", 1, "unexpected 'b'"),
    ("f = a = b", 1, "'=' may appear only once"),
    ("a + b", 1, "expected an assignment"),
    ("3 = a", 1, "expected an assignment"),
    ("\n\nf = expp(a)", 3, "unknown function 'expp'"),
    ("f = mxa(a, b)", 1, "unknown function"),
    ("f = max(a)", 1, "takes 2 arguments, got 1"),
    ("f = exp(a, b)", 1, "takes 1 argument, got 2"),
    ("f = aa * 2", 1, "unknown name 'aa'"),
    ("f = exp * 2", 1, "is a function"),
    ("a = b * 2", 1, "is an input"),
    ("exp = b * 2", 1, "function name"),
    ("q = a\nq = b", 2, "already assigned on line 1"),
    ("f = q * 2\nq = a", 1, "used before it is assigned (on line 2)"),
    ("f = 2 * 3", 1, "is a constant"),
    ("f = a @ 2", 1, "'@' needs two tensors"),
    ("f = a ** b", 1, "exponent of '**' must be a number"),
    ("f = a / 0", 1, "division by zero"),
    ("f = a * (1 / 0)", 1, "cannot compute"),
    ("f = a * log(0)", 1, "cannot compute"),
    ("f = a * 10 ** 400", 1, "cannot compute"),
    ("# only a comment\n\n", 1, "no assignments"),
])
def test_build_errors_name_the_line(expr, line, message):
    with pytest.raises(TuinnError) as err:
        build_graph(expr, scalars(a=1, b=2), file="s.toml")
    assert message in err.value.message
    assert (err.value.file, err.value.line, err.value.key) == ("s.toml", line, "graph.expr")


def test_build_errors_use_the_line_map_and_show_the_column():
    with pytest.raises(TuinnError) as err:
        build_graph("q = a\n\nf = q + bb", scalars(a=1, b=2), file="s.toml",
                    line_map=[12, 13, 14])
    assert err.value.line == 14
    assert "column 9" in err.value.message and err.value.hint == "did you mean 'b'?"


def test_unknown_output_has_a_hint():
    with pytest.raises(TuinnError) as err:
        build_graph("loss = a * b", scalars(a=1, b=2), output="los", output_line=9)
    assert (err.value.line, err.value.key) == (9, "graph.output")
    assert err.value.hint == "did you mean 'loss'?"
    with pytest.raises(TuinnError, match="is an input"):
        build_graph("loss = a * b", scalars(a=1, b=2), output="a")


def test_parse_line_blank_and_comment():
    assert parse_line("   # nothing here") is None
    target, tree = parse_line("f = x")
    assert target.text == "f" and show(tree) == "x"


# ------------------------------------------------------------------ shapes
def arrays(**shapes):
    return {k: np.zeros(s) for k, s in shapes.items()}


@pytest.mark.parametrize("expr, shapes, expected", [
    ("f = sum(x @ W + b)", dict(x=(1, 2), W=(2, 3), b=(3,)), {"matmul1": (1, 3), "add1": (1, 3)}),
    ("f = sum(v @ W)", dict(v=(2,), W=(2, 3)), {"matmul1": (3,)}),
    ("f = sum(W @ v)", dict(v=(3,), W=(2, 3)), {"matmul1": (2,)}),
    ("f = u @ v", dict(u=(3,), v=(3,)), {"f": ()}),
    ("f = mean(A @ B)", dict(A=(4, 2, 3), B=(3, 5)), {"matmul1": (4, 2, 5)}),
    ("f = sum(a * b)", dict(a=(2, 1), b=(3,)), {"mul1": (2, 3)}),
    ("f = mean(exp(a) * 2)", dict(a=(2, 2)), {"exp1": (2, 2), "mulc1": (2, 2)}),
])
def test_infer_shapes(expr, shapes, expected):
    found = infer_shapes(build_graph(expr, arrays(**shapes)))
    for gate_id, shape in expected.items():
        assert found[gate_id] == shape
    assert found[next(iter(shapes))] == shapes[next(iter(shapes))]


@pytest.mark.parametrize("expr, shapes, line, message", [
    ("s = a + b\nf = sum(s)", dict(a=(3,), b=(2,)), 1, "shape mismatch in gate 's' (+)"),
    ("f = sum(x @ W)", dict(x=(1, 3), W=(2, 3)), 1, "inner sizes differ: 3 != 2"),
    ("f = sum(x @ W)", dict(x=(), W=(2, 3)), 1, "not scalars"),
    ("g = sum(a)\nf = a * 2", dict(a=(2, 3)), 2,
     "output 'f' has shape (2, 3); the output must be a scalar: try sum(f) or mean(f)"),
])
def test_infer_shapes_errors(expr, shapes, line, message):
    graph = build_graph(expr, arrays(**shapes))
    with pytest.raises(TuinnError) as err:
        infer_shapes(graph, file="s.toml")
    assert message in err.value.message
    assert (err.value.file, err.value.line, err.value.key) == ("s.toml", line, "graph.expr")


def test_no_code_execution_primitives_in_the_scenario_code():
    import re
    from pathlib import Path
    import tuinn.scenario.expr as expr_module
    folder = Path(expr_module.__file__).parent
    names = sorted(p.name for p in folder.glob("*.py"))
    assert {"expr.py", "expr_build.py", "loader.py", "locate.py", "schema.py"} <= set(names)
    for name in names:
        source = (folder / name).read_text()
        assert not re.search(r"(?<![\w.])(eval|exec|compile|__import__)\(", source), name
        assert not re.search(r"^\s*(import ast|from ast)", source, re.M), name
