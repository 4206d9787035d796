"""Provides tests for FitCircuit: which layout fits which panel, bands, and the fallback."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_circuit_render import GRAD_PREFIX, N, L, OPEN, render, sigmoid_nodes, trace
from tuinn.tui.render.circuit import _END
from tuinn.tui.render.circuit_fit import Bands, FitCircuit

SIGMOID = dict(w0=("2", "-0.2"), x0=("-1", "0.39"), w1=("-3", "-0.39"), x1=("-2", "-0.59"),
               w2=("-3", "0.2"), mul1=("-2", "0.2"), mul2=("6", "0.2"), add1=("4", "0.2"),
               add2=("1", "0.2"), neg1=("-1", "-0.2"), exp1=("0.37", "-0.53"),
               addc1=("1.37", "-0.53"), f=("0.73", "1"))


def sigmoid_fit(**kw) -> FitCircuit:
    labels = {k: L(v, g) for k, (v, g) in SIGMOID.items()}
    return FitCircuit(sigmoid_nodes(), "f", labels, output_name="f", min_label_width=8, **kw)


def mlp_fit(**kw) -> FitCircuit:
    """A user's circuit: two tanh units into a sigmoid (8 inputs, 11 gates)."""
    nodes = [N(i, i, "input") for i in ("x", "w1", "b1", "w2", "b2", "v1", "v2", "c")] + [
        N("m1", "*", "gate", ("w1", "x")), N("a1", "+", "gate", ("m1", "b1")),
        N("h1", "tanh", "gate", ("a1",)), N("m2", "*", "gate", ("w2", "x")),
        N("a2", "+", "gate", ("m2", "b2")), N("h2", "tanh", "gate", ("a2",)),
        N("m3", "*", "gate", ("v1", "h1")), N("m4", "*", "gate", ("v2", "h2")),
        N("a3", "+", "gate", ("m3", "m4")), N("a4", "+", "gate", ("a3", "c")),
        N("f", "σ", "gate", ("a4",))]
    labels = {n.id: L("0.25", "-0.13") for n in nodes}
    return FitCircuit(nodes, "f", labels, output_name="f", **kw)


def chain_fit(n: int = 14, **kw) -> FitCircuit:
    ops = ["exp", "*-1", "+1", "1/x", "σ", "tanh"]
    nodes = [N("x", "x", "input"), N("y", "y", "input"), N("g0", "*", "gate", ("x", "y"))]
    nodes += [N(f"g{i}", ops[i % 6], "gate", (f"g{i - 1}",)) for i in range(1, n)]
    labels = {m.id: L("-0.73", "0.2") for m in nodes}
    return FitCircuit(nodes, f"g{n - 1}", labels, output_name="f", **kw)


def matrix_fit(**kw) -> FitCircuit:
    nodes = [N("x", "x", "input"), N("W", "W", "input"), N("b", "b", "input"),
             N("mm", "@", "gate", ("x", "W")), N("s", "+", "gate", ("mm", "b")),
             N("h", "relu", "gate", ("s",)), N("sq", "*", "gate", ("h", "h")),
             N("f", "mean", "gate", ("sq",))]
    labels = {m.id: L("(1,3) μ=0.77", "μ=0.44", short=("μ=0.77", "μ=0.44")) for m in nodes}
    labels["f"] = L("1.09", "1")
    return FitCircuit(nodes, "f", labels, output_name="f", **kw)


CIRCUITS = {"sigmoid": sigmoid_fit, "mlp": mlp_fit, "chain": chain_fit, "matrix": matrix_fit}
SIZES = [(w, h) for w in (40, 60, 78, 84, 100, 130, 180) for h in (6, 10, 12, 16, 24, 34)]


def test_the_most_detailed_layout_that_fits():
    fc = sigmoid_fit(current="exp1")
    assert fc.fit(200, 40).layout == "boxes"                       # everything, 3-row boxes
    assert fc.fit(120, 16).layout == "compact"
    assert fc.fit(84, 24).layout == "boxes, wrapped"               # 120x40's graph panel
    assert fc.fit(78, 12).layout.startswith("inline labels")       # 80x24's graph panel
    assert fc.fit(78, 8).layout.startswith("dense")
    tiny = fc.fit(30, 5)
    assert tiny.layout == "too large to fit: scrolls" and "exp1" in tiny.nodes


@pytest.mark.parametrize("name", list(CIRCUITS))
def test_a_fitted_drawing_stays_inside_the_panel(name):
    for current in (None, "f"):
        fc = CIRCUITS[name](current=current)
        for width, height in SIZES:
            d = fc.fit(width, height)
            lines = render(d, width=500)
            assert len(lines) == d.size()[1] and {len(line) for line in lines} == {d.size()[0]}
            if d.layout != "too large to fit: scrolls":
                assert d.size()[0] <= width and d.size()[1] <= height, (width, height, d.layout)
            text = "\n".join(lines)
            for n in fc.nodes:                          # every node drawn, named or labelled
                x, y, w, h = d.node_box(n.id)
                assert n.label in lines[y + h // 2][x:x + w]
            assert "▶ f" in text


@pytest.mark.parametrize("name", list(CIRCUITS))
def test_more_room_never_means_less_detail(name):
    fc = CIRCUITS[name](current="f")
    names = [lay.name for lay in fc.candidates()] + ["too large to fit: scrolls"]
    rank = {size: names.index(fc.fit(*size).layout) for size in SIZES}
    for (w, h), r in rank.items():
        for (w2, h2), r2 in rank.items():
            if w2 >= w and h2 >= h:
                assert r2 <= r, ((w, h, names[r]), (w2, h2, names[r2]))


def check_wired(fc: FitCircuit, d) -> None:
    """Every edge of the circuit runs, through the wires between bands, into its entry."""
    layout = {lay.name: lay for lay in fc.candidates()}[d.layout]
    cur = next((n for n in fc.nodes if n.id == fc.current), None)
    shown = {cur.id, *cur.args} if layout.current_only and cur else set() if \
        layout.current_only else {n.id for n in fc.nodes}
    lines = render(d, width=500)
    entries = {d.entry_cell(n.id, k): (n.id, k) for n in fc.nodes for k in range(len(n.args))}
    entries[d.entry_cell(_END, 0)] = (_END, 0)
    assert "".join(lines).count("▶") == len(entries)      # no arrow left over at a band's end
    for n in fc.nodes:
        lab = fc.labels[n.id]
        value, grad = lab.short if layout.short and lab.short else (lab.value, lab.grad)
        on_wire = " " + value + " " + GRAD_PREFIX + grad + " " \
            if layout.inline and n.id in shown else ""
        want = sorted([(c.id, k) for c in fc.nodes for k, a in enumerate(c.args) if a == n.id]
                      + ([(_END, 0)] if n.id == fc.output else []))
        hits = trace(d, lines, n.id, on_wire)
        assert all(hit[0] != "stub" for hit in hits) or not want, (n.id, hits)  # unused: a stub
        got = sorted(entries[hit] for hit in hits if hit[0] != "stub")
        assert got == want, (n.id, got, want)


def test_bands_wire_every_edge_on():
    for fc, size, inline in ((sigmoid_fit(), (84, 24), False), (chain_fit(), (78, 12), True),
                             (chain_fit(), (100, 30), False),
                             (sigmoid_fit(current="mul1"), (44, 12), True)):   # moved input
        d = fc.fit(*size)
        assert isinstance(d, Bands) and len(d.bands) >= 2 and "wrapped" in d.layout or inline
        check_wired(fc, d)
        text = "\n".join(render(d, width=500))
        assert "╮" in text and "╭" in text and "╯" in text and "╰" in text
    assert set("╮╭╯╰") <= OPEN.keys()


def test_inputs_used_late_move_to_their_band():
    d = sigmoid_fit().fit(84, 24)                      # w2 feeds add2, in the first band
    assert d.node_box("w2")[1] < d.bands[0].size()[1]
    d = chain_fit().fit(78, 12)
    assert all(d.node_box(n)[1] < d.bands[0].size()[1] for n in ("x", "y"))


def test_several_edges_continue_by_name():
    fc = mlp_fit()
    d = fc.fit(84, 24)
    assert isinstance(d, Bands)
    lines = render(d, width=500)
    ends = [line.rstrip().rsplit("▶ ", 1)[1] for line in lines if "▶ " in line
            and not line.rstrip().endswith("▶ f")]
    assert len(ends) >= 2                               # two edges cut: each named
    for name in ends:
        assert any(line.lstrip().startswith(name + " ─") for line in lines)


def test_the_current_gates_labels_when_nothing_else_fits():
    fc = sigmoid_fit(current="exp1")
    d = fc.fit(60, 8)
    assert d.layout.startswith("current gate's labels")
    text = "\n".join(render(d, width=500))
    assert "0.37 ∇-0.53" in text and "-1 ∇-0.2" in text      # exp1's edges, out and in
    assert "1.37" not in text and "∇0.39" not in text          # the others: in the inspector


def test_layout_stays_put_while_numbers_arrive():
    reserve = {k: (len(v), 1 + len(g)) for k, (v, g) in SIGMOID.items()}
    done = sigmoid_fit(label_reserve=reserve)
    start = FitCircuit(sigmoid_nodes(), "f", {}, output_name="f", label_reserve=reserve)
    for size in SIZES:
        a, b = done.fit(*size), start.fit(*size)
        assert a.layout == b.layout and a.size() == b.size()
        assert all(a.node_box(n.id) == b.node_box(n.id) for n in sigmoid_nodes())


def test_full_is_the_scrolling_view():
    fc = sigmoid_fit(current="exp1")
    full = fc.full()
    assert full.layout == "full size" and full.size()[0] > 84
    assert fc.fit(84, 24) is fc.fit(84, 24)                     # cached per panel size


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 14), st.integers(30, 130),
       st.integers(5, 40))
def test_random_circuits_fit_or_scroll(seed, n_inputs, n_gates, width, height):
    rng = random.Random(seed)
    nodes = [N(f"i{i}", f"in{i}", "input") for i in range(n_inputs)]
    for g in range(n_gates):
        ids = [n.id for n in nodes]
        args = tuple(rng.choice(ids[-4:] if rng.random() < 0.7 else ids)
                     for _ in range(rng.choice([1, 1, 2])))
        nodes.append(N(f"g{g}", rng.choice(["+", "*", "exp", "σ"]), "gate", args))
    labels = {n.id: L(f"{rng.uniform(-9, 9):.2f}", "0.5") for n in nodes}
    fc = FitCircuit(nodes, nodes[-1].id, labels, current=rng.choice(nodes).id, output_name="f")
    d = fc.fit(width, height)
    lines = render(d, width=500)
    assert len(lines) == d.size()[1] and {len(line) for line in lines} == {d.size()[0]}
    if d.layout != "too large to fit: scrolls":
        assert d.size()[0] <= width and d.size()[1] <= height
    for n in nodes:
        x, y, w, h = d.node_box(n.id)
        assert n.label in lines[y + h // 2][x:x + w]
    if d.layout != "too large to fit: scrolls" and all(len(v) <= 1 for v in getattr(d, "_into", [])):
        check_wired(fc, d)


def test_a_band_that_starts_beside_an_input_counts_the_wire_in_its_width():
    """Found by the random test: the wire into a band with an input of its own runs left
    of that input, one column that the band's width must include."""
    nodes = [N("i0", "in0", "input"), N("i1", "in1", "input"), N("g0", "σ", "gate", ("i1",)),
             N("g1", "σ", "gate", ("i0", "g0"))]
    labels = {n.id: L("2.34", "0.5") for n in nodes}
    for width in range(24, 40):
        d = FitCircuit(nodes, "g1", labels, current="i0", output_name="f").fit(width, 5)
        if d.layout != "too large to fit: scrolls":
            assert d.size()[0] <= width, (width, d.layout, d.size())
