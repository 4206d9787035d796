"""Provides tests that the graph panel's layout work stays bounded for large graphs.

Counts work (drawings laid out, nodes placed, crossings), never time: a long flat sum
(`a + a + ... + a`, a valid graph) once took seconds per frame at 300 gates.
"""

from __future__ import annotations

import random

import pytest

from test_circuit_render import render
from tuinn.tui.render import circuit as circuit_mod
from tuinn.tui.render import circuit_fit, circuit_large
from tuinn.tui.render.circuit import CircuitDiagram, DiagramNode, EdgeLabel, _inversions
from tuinn.tui.render.circuit_fit import LARGE, LAST_RESORT, SEARCH_WORK, WINDOW, FitCircuit


def flat_sum(n: int, value: str = "1.00") -> tuple[list[DiagramNode], dict[str, EdgeLabel]]:
    """`f = a + a + ... + a` with n terms: n - 1 gates in a chain, each also fed by a."""
    nodes = [DiagramNode("a", "a", "input")] + [
        DiagramNode(f"g{i}", "+", "gate", ("a" if i == 0 else f"g{i - 1}", "a"))
        for i in range(n - 1)]
    return nodes, {m.id: EdgeLabel(value, value) for m in nodes}


@pytest.fixture
def builds(monkeypatch):
    """Counts the CircuitDiagrams laid out (each is one layout attempt)."""
    count = [0]
    init = CircuitDiagram.__init__

    def counted(self, *args, **kwargs):
        count[0] += 1
        init(self, *args, **kwargs)
    monkeypatch.setattr(circuit_mod.CircuitDiagram, "__init__", counted)
    monkeypatch.setattr(circuit_fit, "_PLANS", {})
    monkeypatch.setattr(circuit_large, "_LAID", {})
    return count


def test_a_300_gate_flat_sum_is_laid_out_with_bounded_work(builds):
    """The old search tried every layout, each wrapped into bands: 3,550 layouts."""
    nodes, labels = flat_sum(300)
    fc = FitCircuit(nodes, nodes[-1].id, labels, current="g1", output_name="f")
    d = fc.fit(78, 12)
    assert builds[0] <= 400 and fc.work <= 12 * len(nodes)
    assert len(d.bands) == 2 * WINDOW + 1 and "g1" in d.nodes     # the bands around g1
    assert d.layout.startswith("too large to fit: bands 1-9 of ") and d.size()[0] <= 78
    lines = render(d, width=d.size()[0])
    x, y, w, h = d.node_box("g1")
    assert "+" in lines[y + h // 2][x:x + w]
    # the next steps (another current gate, new numbers): laid out no more, painted again
    before = builds[0]
    for cur, value in (("g2", "2.00"), ("g150", "-3.5"), ("a", "")):
        step = FitCircuit(nodes, nodes[-1].id, flat_sum(300, value)[1], current=cur,
                          selected="g7", output_name="f")
        d2 = step.fit(78, 12)
        assert step.work == 0 and builds[0] == before
        assert len(d2.bands) == 2 * WINDOW + 1 and "g7" in d2.nodes     # around the selected
        text = "\n".join(render(d2, width=d2.size()[0]))
        assert "╔" in text                                   # the selected gate marked
        if cur in d2.nodes:                                  # and the current one
            assert ("┏" if cur != "a" else "┃a┃") in text


def test_a_large_graph_draws_a_window_that_follows_the_node_in_view(builds):
    """5,000 gates: each frame draws 2 * WINDOW + 1 bands around the node in view, made
    only as far as needed (opening costs a few bands, not 1,000); the full-size view (z)
    draws the same bands in 3-row boxes."""
    nodes, labels = flat_sum(5000)
    first = FitCircuit(nodes, nodes[-1].id, labels, current="g2", output_name="f").fit(78, 20)
    assert builds[0] <= 1 + 3 * (2 * WINDOW + 1)     # the whole (for its columns), 9 bands
    assert first.layout.startswith("too large to fit: bands 1-9 of ~")
    again = builds[0]
    FitCircuit(nodes, nodes[-1].id, labels, current="g3", output_name="f").fit(77, 20)
    assert builds[0] == again                        # a step; the scrollbar came: no layout
    for cur, sel in (("g2500", None), ("g10", "g4990"), (nodes[-1].id, None)):
        fc = FitCircuit(nodes, nodes[-1].id, labels, current=cur, selected=sel, output_name="f")
        d = fc.fit(77, 20)
        assert (sel or cur) in d.nodes and len(d.bands) == 2 * WINDOW + 1
        assert sum(len(b.nodes) for b in d.bands) < 120          # bounded, not 5,000
        count = d.layout.split(" of ")[1]             # estimated ("~") until the last
        assert count.isdigit() if cur != "g2500" else count.startswith("~")    # band is made
        full = fc.full()
        assert (sel or cur) in full.nodes and full.layout.startswith("full size, bands")
        assert full.size()[1] > d.size()[1]          # 3-row boxes with every label
    assert builds[0] <= 3 * 5000 // 5                # two or three tries a band of ~5 gates


def test_large_graphs_go_straight_to_the_least_detailed_layout(builds):
    nodes, labels = flat_sum(LARGE + 10)
    fc = FitCircuit(nodes, nodes[-1].id, labels, output_name="f")
    assert fc.candidates() == [LAST_RESORT]
    d = fc.fit(100, 20)
    assert d.layout.startswith("too large to fit")
    assert fc.work <= 12 * len(nodes)
    text = "\n".join(render(d, width=d.size()[0]))
    assert "1.00" not in text and "∇" not in text           # no labels: the inspector has them


def test_a_search_over_its_budget_gives_up_on_detail(builds):
    """Below LARGE the layouts are searched, but only until SEARCH_WORK nodes were laid out."""
    nodes, labels = flat_sum(LARGE)
    fc = FitCircuit(nodes, nodes[-1].id, labels, current="g3", output_name="f")
    fc.fit(78, 12)
    assert SEARCH_WORK < fc.work <= SEARCH_WORK + 12 * len(nodes)


def test_the_layout_plan_survives_numbers_arriving_within_their_reserve(builds):
    """A step replays the plan: label widths count as the reserve, or the label if wider."""
    nodes, done = flat_sum(12, "-1.25")
    reserve = {k: (5, 6) for k in done}
    empty = {k: EdgeLabel() for k in done}
    FitCircuit(nodes, nodes[-1].id, done, output_name="f", label_reserve=reserve).fit(84, 24)
    laid = builds[0]
    for labels in (empty, {k: EdgeLabel("-1.25") for k in done}, done):
        FitCircuit(nodes, nodes[-1].id, labels, output_name="f",
                   label_reserve=reserve).fit(84, 24)
    assert builds[0] - laid <= 3 * 8                    # replays: a few bands each, no search


def test_crossings_are_counted_like_the_pairwise_definition():
    rng = random.Random(4)
    for _ in range(200):
        ends = [(rng.choice([0.0, 0.5, 1.0, 2.0, 3.0]), rng.choice([-0.25, 0.0, 0.25, 1.0, 2.0]))
                for _ in range(rng.randint(0, 30))]
        pairs = sum(1 for i, (a, b) in enumerate(ends) for a2, b2 in ends[i + 1:]
                    if (a - a2) * (b - b2) < 0)
        assert _inversions(ends) == pairs


def test_a_long_chain_places_each_node_once(monkeypatch):
    """Columns by longest path in one pass over the nodes (a 3,000-gate chain)."""
    n = 3000
    nodes = [DiagramNode("x", "x", "input")] + [
        DiagramNode(f"g{i}", "exp", "gate", ("x" if i == 0 else f"g{i - 1}",)) for i in range(n)]
    shifts = [0]
    shift = CircuitDiagram._shift

    def counted(self, c, d):
        shifts[0] += 1
        shift(self, c, d)
    monkeypatch.setattr(CircuitDiagram, "_shift", counted)
    d = CircuitDiagram(nodes, f"g{n - 1}", {}, compact=True, labels_inline=True, row_gap=0,
                       label_nodes=set())
    assert d.column_of(f"g{n - 1}") == n and d.size()[1] == 1
    assert shifts[0] <= n + 1                 # each column moved at most once, not per gap
