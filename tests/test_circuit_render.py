"""Provides tests for the circuit diagram renderable: structure, connectivity, styles, layout."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style

from tuinn.tui.render.circuit import _END, GRAD_PREFIX, CircuitDiagram, DiagramNode, EdgeLabel

N, L = DiagramNode, EdgeLabel
_N, _S, _E, _W = (0, -1), (0, 1), (1, 0), (-1, 0)
OPEN = {"─": {_E, _W}, "│": {_N, _S}, "┌": {_S, _E}, "┐": {_S, _W}, "└": {_N, _E}, "┘": {_N, _W},
        "├": {_N, _S, _E}, "┤": {_N, _S, _W}, "┬": {_E, _W, _S}, "┴": {_E, _W, _N},
        "┼": {_N, _S, _E, _W}, "╮": {_W, _S}, "╭": {_S, _E}, "╯": {_N, _W}, "╰": {_N, _E}}

SIGMOID_VALUES = dict(
    w0=("2.00", "-0.20"), x0=("-1.00", "0.39"), w1=("-3.00", "-0.39"), x1=("-2.00", "-0.59"),
    w2=("-3.00", "0.20"), mul1=("-2.00", "0.20"), mul2=("6.00", "0.20"), add1=("4.00", "0.20"),
    add2=("1.00", "0.20"), neg1=("-1.00", "-0.20"), exp1=("0.37", "-0.53"),
    addc1=("1.37", "-0.53"), f=("0.73", "1.00"))


def sigmoid_nodes() -> list[DiagramNode]:
    return [N(i, i, "input") for i in ("w0", "x0", "w1", "x1", "w2")] + [
        N("mul1", "*", "gate", ("w0", "x0")), N("mul2", "*", "gate", ("w1", "x1")),
        N("add1", "+", "gate", ("mul1", "mul2")), N("add2", "+", "gate", ("add1", "w2")),
        N("neg1", "*-1", "gate", ("add2",)), N("exp1", "exp", "gate", ("neg1",)),
        N("addc1", "+1", "gate", ("exp1",)), N("f", "1/x", "gate", ("addc1",))]


def sigmoid(**kw) -> CircuitDiagram:
    labels = {k: L(v, g) for k, (v, g) in SIGMOID_VALUES.items()}
    return CircuitDiagram(sigmoid_nodes(), "f", labels, **kw)


def render(d: CircuitDiagram, width: int = 200) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(d)
    return console.export_text().split("\n")[:-1]


def trace(d: CircuitDiagram, lines: list[str], node: str, inline: str = "") -> list[tuple]:
    """Follow the line leaving `node`'s box; the arrowheads (x, y) it reaches, or ("stub", ..).
    inline: the label written on the wire (" 2 ∇-0.2 "), passed over when going east."""
    x, y, w, h = d.node_box(node)
    stack, seen, found = [(x + w, y + h // 2, _E)], set(), []
    while stack:
        x, y, dr = stack.pop()
        if (x, y, dr) in seen:
            continue
        seen.add((x, y, dr))
        if inline and dr == _E and 0 <= y < len(lines) and lines[y].startswith(inline, x):
            x += len(inline)
        ch = lines[y][x] if 0 <= y < len(lines) and 0 <= x < len(lines[y]) else " "
        if ch in "▶ ":
            found.append((x, y) if ch == "▶" else ("stub", x, y))
            continue
        assert ch in OPEN, f"the line from {node} runs into {ch!r} at {(x, y)}"
        if ch == "│" and dr in (_E, _W):                 # a crossing: pass under
            stack.append((x + dr[0], y, dr))
            continue
        back = (-dr[0], -dr[1])
        assert back in OPEN[ch], f"the line from {node} enters {ch!r} at {(x, y)} sideways"
        stack += [(x + o[0], y + o[1], o) for o in OPEN[ch] - {back}]
    return found


def check_circuit(nodes: list[DiagramNode], output: str, labels=None, **kw):
    """Render and verify: size, closed boxes, labels, and that every edge reaches exactly
    the right argument entries (and nothing else)."""
    labels = labels or {}
    d = CircuitDiagram(nodes, output, labels, **kw)
    lines = render(d, width=d.size()[0])
    width, height = d.size()
    assert len(lines) == height and all(len(line) == width for line in lines)
    assert render(d, width=d.size()[0]) == lines                 # deterministic
    entries = {}
    compact, inline = kw.get("compact", False), kw.get("labels_inline", False)
    shown = kw.get("label_nodes")
    for n in nodes:
        x, y, w, h = d.node_box(n.id)
        top = (0 if inline else 1) if compact else 0          # label rows above the box
        bh = h - 2 * top
        if n.kind == "gate" and n.id not in (kw.get("current"), kw.get("selected")):
            if bh == 1:
                assert lines[y + top][x:x + w] == "[" + n.label + "]"
            else:
                assert lines[y + top][x:x + w] == "┌" + "─" * (w - 2) + "┐"
                assert lines[y + top + bh - 1][x:x + w] == "└" + "─" * (w - 2) + "┘"
                assert all(lines[r][x] == "│" == lines[r][x + w - 1]
                           for r in range(y + top + 1, y + top + bh - 1))
        assert n.label in lines[y + h // 2][x:x + w]
        for k in range(len(n.args)):
            entries[d.entry_cell(n.id, k)] = (n.id, k)
        lab = labels.get(n.id) if shown is None or n.id in shown else None
        if shown is not None and n.id not in shown:
            assert GRAD_PREFIX not in lines[y + h // 2][x + w:x + w + 3]
        if lab is not None and inline and lab.value:
            text = lab.value + (" " + GRAD_PREFIX + lab.grad if lab.grad is not None else "")
            assert " " + text + " " in lines[y + h // 2][x + w:]
        elif lab is not None:
            if lab.value:
                assert lab.value in lines[y + h // 2 - 1][x + w:]
            if lab.grad is not None:
                assert GRAD_PREFIX + lab.grad in lines[y + h // 2 + 1][x + w:]
    for key in [_END] + [f"{_END}:{m}" for m in kw.get("more_outputs", ())]:
        entries[d.entry_cell(key, 0)] = (key, 0)
    reached: dict[tuple, str] = {}
    for n in nodes:
        want = sorted([(c.id, k) for c in nodes for k, a in enumerate(c.args) if a == n.id]
                      + ([(_END, 0)] if n.id == output else [])
                      + ([(f"{_END}:{n.id}", 0)] if n.id in kw.get("more_outputs", ()) else []))
        got = []
        lab = labels.get(n.id) if shown is None or n.id in shown else None
        on_wire = "" if not (inline and lab and lab.value) else \
            " " + lab.value + (" " + GRAD_PREFIX + lab.grad if lab.grad is not None else "") + " "
        for hit in trace(d, lines, n.id, on_wire):
            if hit[0] == "stub":
                assert not want, f"{n.id}: line ends at {hit}"
                continue
            assert hit in entries and hit not in reached, (n.id, hit)
            reached[hit] = n.id
            got.append(entries[hit])
        assert sorted(got) == want, (n.id, got, want)
    assert set(reached) == set(entries)
    boxes = [d.node_box(n.id) for n in nodes]
    for i, (x, y, w, h) in enumerate(boxes):                   # no two boxes overlap
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    return d, lines


def find(lines: list[str], text: str) -> tuple[int, int]:
    hits = [(line.index(text), y) for y, line in enumerate(lines) if text in line]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def test_sigmoid_circuit_structure():
    labels = {k: L(v, g) for k, (v, g) in SIGMOID_VALUES.items()}
    d, lines = check_circuit(sigmoid_nodes(), "f", labels, output_name="f")
    text = "\n".join(lines)
    for label in ("w0", "x0", "w1", "x1", "w2", "*-1", "exp", "+1", "1/x"):
        assert label in text
    assert text.count("│ * │") == 2 and text.count("│ + │") == 2
    for value, grad in SIGMOID_VALUES.values():
        assert value in text and "∇" + grad in text
    # the single-argument tail runs straight, on one row, left to right
    tail = ["add2", "neg1", "exp1", "addc1", "f"]
    rows = {d.node_box(k)[1] + d.node_box(k)[3] // 2 for k in tail}
    assert len(rows) == 1
    xs = [d.node_box(k)[0] for k in tail]
    assert xs == sorted(xs)
    row = lines[rows.pop()]
    assert row.rstrip().endswith("▶ f")
    assert find(lines, "0.73")[0] > d.node_box("f")[0]         # the output's edge is labelled
    assert d.size()[1] <= 25 and d.size()[0] <= 150


def test_add_mul_golden_and_order():
    nodes = [N("x", "x", "input"), N("y", "y", "input"), N("z", "z", "input"),
             N("q", "+", "gate", ("x", "y")), N("f", "*", "gate", ("q", "z"))]
    labels = {"x": L("-2", "-4"), "y": L("5", "-4"), "z": L("-4", "3"), "q": L("3", "-4"),
              "f": L("-12", "1")}
    d, lines = check_circuit(nodes, "f", labels, output_name="f")
    assert lines == [
        "    -2                                  ",
        " x ──────┐  ┌───┐                       ",
        "    ∇-4  └─▶│   │  3                    ",
        "            │ + │──────┐                ",
        "     5   ┌─▶│   │ ∇-4  │  ┌───┐         ",
        " y ──────┘  └───┘      └─▶│   │ -12     ",
        "    ∇-4                   │ * │──────▶ f",
        "                       ┌─▶│   │ ∇1      ",
        "    -4                 │  └───┘         ",
        " z ────────────────────┘                ",
        "    ∇3                                  ",
    ]
    # inputs left, then +, then *: values sit above their lines, gradients below
    (x_plus, y_plus), (x_mul, y_mul) = find(lines, "│ + │"), find(lines, "│ * │")
    assert find(lines, " x ")[0] < x_plus < x_mul
    assert find(lines, " 3 ")[1] == y_plus - 1 and find(lines, "∇-4  │")[1] == y_plus + 1
    assert find(lines, "-12")[1] == y_mul - 1 and find(lines, "∇1")[1] == y_mul + 1


def test_branch_fans_out_with_one_label():
    nodes = [N("x", "x", "input"), N("y", "y", "input"), N("a", "*", "gate", ("x", "y")),
             N("b", "*", "gate", ("a", "x")), N("f", "+", "gate", ("a", "b"))]
    labels = {"x": L("3.00", "8.00"), "y": L("2.00", "3.50"), "a": L("6.00", "4.00"),
              "b": L("18.00", "1.00"), "f": L("24.00", "1.00")}
    d, lines = check_circuit(nodes, "f", labels)
    text = "\n".join(lines)
    assert text.count("3.00") == 1 and text.count("6.00") == 1    # one label per branch
    assert len(trace(d, lines, "x")) == 2 and len(trace(d, lines, "a")) == 2
    assert any(ch in text for ch in "├┤┬┴┼")                      # the split is visible


def test_repeated_argument_enters_twice():
    nodes = [N("x", "x", "input"), N("f", "*", "gate", ("x", "x"))]
    d, lines = check_circuit(nodes, "f", {"x": L("3", "6"), "f": L("9", "1")})
    x, y, w, h = d.node_box("f")
    assert h == 5 and lines[y + 1][x - 1] == lines[y + 3][x - 1] == "▶"
    assert sorted(trace(d, lines, "x")) == [(x - 1, y + 1), (x - 1, y + 3)]


def test_argument_order_top_to_bottom():
    # b is listed (and stacked) first, but a is argument 0: it must enter at the top
    nodes = [N("b", "b", "input"), N("a", "a", "input"), N("s", "-", "gate", ("a", "b"))]
    d, lines = check_circuit(nodes, "s")
    x, y, _, _ = d.node_box("s")
    assert trace(d, lines, "a") == [(x - 1, y + 1)] and trace(d, lines, "b") == [(x - 1, y + 3)]


def test_chain_of_twenty_gates():
    ops = ["exp", "*-1", "+1", "1/x", "σ"]
    nodes = [N("x", "x", "input")] + [
        N(f"g{i}", ops[i % 5], "gate", ("x",) if i == 0 else (f"g{i - 1}",)) for i in range(20)]
    labels = {n.id: L("-0.73", "0.20") for n in nodes}
    d, lines = check_circuit(nodes, "g19", labels)
    width, height = d.size()
    assert height == 3 and 20 * 10 < width < 20 * 20
    assert "".join(lines).count("∇0.20") == 21


def test_current_and_selected_are_marked():
    d = sigmoid(current="exp1", selected="mul2")
    segments = list(Console(width=200, color_system=None).render(d))
    current = [s for s in segments if "exp" in s.text]
    assert current and current[0].style == Style.parse("bold reverse")
    assert any("*" in s.text and s.style == Style.parse("bold") for s in segments)
    lines = render(d)
    x, y, w, h = d.node_box("exp1")
    assert lines[y][x:x + w] == "┏━━━━━┓" and lines[y + 1][x:x + w] == "┃ exp ┃"
    x, y, w, h = d.node_box("mul2")
    assert lines[y][x:x + w] == "╔═══╗" and lines[y + h - 1][x:x + w] == "╚═══╝"
    assert "┏" not in "\n".join(render(sigmoid())) and "╔" not in "\n".join(render(sigmoid()))


def test_value_and_grad_styles():
    d = sigmoid(value_style="green", grad_style="red")
    segments = list(Console(width=200, color_system="truecolor").render(d))
    assert any(s.text.strip() == "0.73" and s.style == Style.parse("green") for s in segments)
    assert any(s.text.strip() == "∇1.00" and s.style == Style.parse("red") for s in segments)


def test_current_input_gets_a_box():
    d = sigmoid(current="w2")
    lines = render(d)
    x, y, w, h = d.node_box("w2")
    assert lines[y][x:x + w] == "┏━━┓" and lines[y + 1][x:x + w] == "┃w2┃"


def test_size_measure_and_width_independence():
    d = sigmoid()
    width, height = d.size()
    lines = render(d)
    assert len(lines) == height and {len(line) for line in lines} == {width}
    console = Console(width=200, color_system=None)
    m = console.measure(d)
    assert (m.minimum, m.maximum) == (width, width)
    narrow = list(console.render(d, console.options.update(width=40)))
    assert narrow == list(console.render(d))


def test_node_box_and_node_at():
    d = sigmoid()
    lines = render(d)
    for node in sigmoid_nodes():
        x, y, w, h = d.node_box(node.id)
        assert d.node_at(x + w // 2, y + h // 2) == node.id
        assert d.node_at(x + w, y + h // 2) is None
        assert node.label in lines[y + h // 2][x:x + w]
    assert d.node_at(-1, -1) is None


def test_labels_missing_and_min_label_width():
    bare = CircuitDiagram(sigmoid_nodes(), "f", {})
    assert "∇" not in "\n".join(render(bare))
    wide = CircuitDiagram(sigmoid_nodes(), "f", {}, min_label_width=8)
    full = sigmoid(min_label_width=8)
    assert wide.size() == full.size()           # the layout does not move as numbers arrive
    assert all(wide.node_box(n.id) == full.node_box(n.id) for n in sigmoid_nodes())


def test_tensor_labels_widen_the_gap():
    nodes = [N("W", "W", "input"), N("x", "x", "input"), N("h", "@", "gate", ("W", "x"))]
    labels = {"W": L("(2,3) μ=0.12", "(2,3) μ=-0.01"), "x": L("(3,) μ=1.5"),
              "h": L("(2,) μ=0.4", "(2,) μ=1")}
    d, lines = check_circuit(nodes, "h", labels)
    assert "∇(2,3) μ=-0.01" in "\n".join(lines)


def test_odd_graphs():
    check_circuit([N("x", "x", "input")], "x", {"x": L("1", "2")}, output_name="f")
    check_circuit([N("x", "x", "input"), N("c", "1", "gate")], "c", {"x": L("1", "2")})
    nodes = [N("a", "a", "input"), N("b", "b", "input"), N("p", "*-1", "gate", ("a",)),
             N("q", "*-1", "gate", ("b",)), N("r", "-", "gate", ("q", "p")),
             N("s", "-", "gate", ("p", "q")), N("t", "max", "gate", ("r", "s", "a"))]
    check_circuit(nodes, "t", {n.id: L("1.0", "0.5") for n in nodes}, current="r")
    check_circuit(nodes, "p")                        # output in the middle, t unused


@pytest.mark.parametrize("bad", [
    [N("x", "x", "input"), N("f", "+", "gate", ("x", "nope"))],
    [N("x", "x", "input"), N("x", "y", "input")],
    [N("x", "x", "input", ("x",))],
    [N("a", "+", "gate", ("b",)), N("b", "+", "gate", ("a",)), N("f", "+", "gate", ("a",))],
])
def test_bad_graphs_raise(bad):
    with pytest.raises(ValueError):
        CircuitDiagram(bad, bad[-1].id, {})


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 24))
def test_random_graphs_stay_connected(seed, n_inputs, n_gates):
    rng = random.Random(seed)
    nodes = [N(f"i{i}", f"in{i}", "input") for i in range(n_inputs)]
    for g in range(n_gates):
        ids = [n.id for n in nodes]
        args = tuple(rng.choice(ids[-5:] if rng.random() < 0.7 else ids)
                     for _ in range(rng.choice([1, 1, 2, 2, 3])))
        nodes.append(N(f"g{g}", rng.choice(["+", "*", "exp", "max", "σ", "@"]), "gate", args))
    labels = {n.id: L(f"{rng.uniform(-9, 9):.2f}", rng.choice([None, "0.50", "(2,3) μ=0.12"]))
              for n in nodes}
    output = nodes[-1].id if rng.random() < 0.8 else rng.choice(nodes).id
    check_circuit(nodes, output, labels, current=rng.choice(nodes).id)


def test_inputs_near_stand_beside_their_first_user():
    nodes = [DiagramNode("x", "x", "input"), DiagramNode("W", "W", "input"),
             DiagramNode("h", "@", "gate", ("x", "W")), DiagramNode("b", "b", "input"),
             DiagramNode("a", "+", "gate", ("h", "b")), DiagramNode("f", "relu", "gate", ("a",))]
    labels = {n.id: EdgeLabel("1") for n in nodes}
    far = CircuitDiagram(nodes, "f", labels)
    near = CircuitDiagram(nodes, "f", labels, inputs_near=True)
    assert far.node_box("b")[0] < far.node_box("h")[0]        # first column
    assert near.node_box("h")[0] < near.node_box("b")[0] < near.node_box("a")[0]
    assert near.node_box("x")[0] == far.node_box("x")[0]


# ---- denser forms for small panels (issue 10) ----------------------------------------------

DENSE = [dict(compact=True), dict(compact=True, labels_inline=True),
         dict(compact=True, labels_inline=True, row_gap=1),
         dict(compact=True, labels_inline=True, wire_pad=0, short_labels=True),
         dict(compact=True, labels_inline=True, inputs_near=True)]


@pytest.mark.parametrize("kw", DENSE, ids=lambda kw: ",".join(kw))
def test_dense_forms_keep_every_edge(kw):
    labels = {k: L(v, g) for k, (v, g) in SIGMOID_VALUES.items()}
    d, lines = check_circuit(sigmoid_nodes(), "f", labels, output_name="f", **kw)
    full = sigmoid(output_name="f")
    assert d.size()[1] < full.size()[1]                   # fewer rows; inline ones are wider
    if not kw.get("labels_inline"):
        assert d.size()[0] < full.size()[0]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 16), st.sampled_from(DENSE))
def test_random_graphs_in_dense_forms(seed, n_inputs, n_gates, kw):
    rng = random.Random(seed)
    nodes = [N(f"i{i}", f"in{i}", "input") for i in range(n_inputs)]
    for g in range(n_gates):
        ids = [n.id for n in nodes]
        args = tuple(rng.choice(ids[-5:] if rng.random() < 0.7 else ids)
                     for _ in range(rng.choice([1, 1, 2, 2, 3])))
        nodes.append(N(f"g{g}", rng.choice(["+", "*", "exp", "max", "σ", "@"]), "gate", args))
    labels = {n.id: L(f"{rng.uniform(-9, 9):.2f}", rng.choice([None, "0.50"])) for n in nodes}
    shown = {n.id for n in nodes if rng.random() < 0.5} if rng.random() < 0.3 else None
    check_circuit(nodes, nodes[-1].id, labels, current=rng.choice(nodes).id, label_nodes=shown, **kw)


def test_compact_boxes():
    d = sigmoid(compact=True, labels_inline=True, current="exp1", selected="addc1")
    lines = render(d)
    x, y, w, h = d.node_box("neg1")
    assert h == 1 and lines[y][x:x + w] == "[*-1]" and lines[y][x - 1] == "▶"
    x, y, w, h = d.node_box("exp1")
    assert lines[y][x:x + w] == "┃exp┃"                     # current: heavy, like ┏━┓
    x, y, w, h = d.node_box("addc1")
    assert lines[y][x:x + w] == "║+1║"                      # selected: double, like ╔═╗
    x, y, w, h = d.node_box("mul1")                           # two arguments: 3 rows, each
    assert h == 3 and lines[y][x:x + w] == "┌───┐" and lines[y + 1][x:x + w] == "│ * │"
    assert lines[y][x - 1] == lines[y + 2][x - 1] == "▶"    # enters with its own arrow
    d = sigmoid(compact=True, labels_inline=True, current="w2")
    x, y, w, h = d.node_box("w2")
    assert render(d)[y][x:x + w] == "┃w2┃"


def test_inline_labels_sit_on_the_wire():
    d = sigmoid(compact=True, labels_inline=True, output_name="f")
    lines = render(d)
    x, y, w, h = d.node_box("exp1")
    row = lines[y]
    assert row[x + w:].startswith("─ 0.37 ∇-0.53 ─")          # "─", blank, text, blank, wire
    assert d.size()[1] == 7                                   # one row per input (5) + 2
    tall = sigmoid(compact=True, output_name="f")             # above and below: 3 rows each
    assert tall.size()[1] == 15


def test_label_nodes_label_only_those_edges():
    d = sigmoid(compact=True, labels_inline=True, label_nodes={"exp1"})
    text = "\n".join(render(d))
    assert "0.37 ∇-0.53" in text and "1.37" not in text and "∇" not in text.replace("∇-0.53", "")
    assert d.size()[0] < sigmoid(compact=True, labels_inline=True).size()[0]


def test_label_reserve_keeps_the_layout_while_numbers_arrive():
    full = {k: L(v, g) for k, (v, g) in SIGMOID_VALUES.items()}
    reserve = {k: (len(v), 1 + len(g)) for k, (v, g) in SIGMOID_VALUES.items()}
    forward = {k: L(v) for k, (v, _) in SIGMOID_VALUES.items() if k in ("w0", "x0", "mul1")}
    for kw in DENSE:
        a = CircuitDiagram(sigmoid_nodes(), "f", full, label_reserve=reserve, **kw)
        b = CircuitDiagram(sigmoid_nodes(), "f", forward, label_reserve=reserve, **kw)
        c = CircuitDiagram(sigmoid_nodes(), "f", {}, label_reserve=reserve, **kw)
        assert a.size() == b.size() == c.size()
        assert all(a.node_box(n.id) == b.node_box(n.id) == c.node_box(n.id) for n in sigmoid_nodes())


def test_short_labels_only_when_asked():
    labels = {"x": L("(1,3) μ=0.5", "μ=0.1", short=("μ=0.5", "μ=0.1")),
              "f": L("2", "1")}
    nodes = [N("x", "x", "input"), N("f", "mean", "gate", ("x",))]
    long = "\n".join(render(CircuitDiagram(nodes, "f", labels, compact=True, labels_inline=True)))
    short = "\n".join(render(CircuitDiagram(nodes, "f", labels, compact=True, labels_inline=True,
                                            short_labels=True)))
    assert "(1,3) μ=0.5 ∇μ=0.1" in long and "(1,3)" not in short and " μ=0.5 ∇μ=0.1 " in short


def test_more_outputs_end_in_their_names():
    labels = {k: L(v, g) for k, (v, g) in SIGMOID_VALUES.items()}
    nodes = [n for n in sigmoid_nodes() if n.id in ("w0", "x0", "w1", "x1", "mul1", "mul2")]
    d, lines = check_circuit(nodes, "mul1", labels, more_outputs=("mul2",), compact=True)
    assert any(line.rstrip().endswith("▶ mul2") for line in lines)
    with pytest.raises(ValueError):
        CircuitDiagram(nodes, "mul1", labels, more_outputs=("nope",))
