"""The layer picture (tuinn/tui/render/layers.py) and its data (present_layers.py), without
an app: sizes, marks, residual skips, the gradient-flow bands and legend, the numbers."""

from pathlib import Path

import numpy as np
import pytest
from rich.style import Style

from conftest import SCENARIOS
from tuinn.engine.build import open_session
from tuinn.tui.present_layers import LayerItem, LayerPicture, layer_picture
from tuinn.tui.render.flow import GRAD, RATIO, meter, short
from tuinn.tui.render.layers import LayerDiagram

NETWORKS = sorted(p.stem for p in SCENARIOS.glob("*.toml") if 'kind = "network"' in p.read_text())
NESTED = Path(__file__).parent / "fixtures" / "good" / "residual_nested.toml"
PANELS = [(78, 11), (84, 22)]            # the network panel's inside at 80x24 and 120x40


def session(name: str, keys: str = ""):
    _, s = open_session(str(SCENARIOS / f"{name}.toml") if "/" not in name else name)
    for k in keys:
        {"f": s.finish_phase, "i": s.next_iteration}[k]()
    return s


def text(lines) -> str:
    return "\n".join(line.plain for line in lines)


def test_every_network_scenario_is_drawn():
    assert len(NETWORKS) >= 20 and "spiral" in NETWORKS and "deep-sigmoid" in NETWORKS


@pytest.mark.parametrize("flow", [None, "grad", "ratio"])
@pytest.mark.parametrize("name", NETWORKS)
def test_fits_the_panel_with_first_layer_and_loss(name, flow):
    for keys in ("", "ff"):
        s = session(name, keys)
        first = s.program.layers[0].name
        for width, height in PANELS:
            lines = LayerDiagram(layer_picture(s), flow=flow).lines(width, height)
            assert all(line.cell_len <= width for line in lines), (name, width)
            assert len(lines) <= height, (name, width, height, text(lines))
            assert first in text(lines) and "loss" in text(lines)


def test_narrow_panels_never_overflow():
    s = session("deep-sigmoid", "ff")
    for width in (20, 33, 50):
        for flow in (None, "grad"):
            lines = LayerDiagram(layer_picture(s), flow=flow).lines(width, 6)
            assert lines and all(line.cell_len <= width for line in lines)


def test_current_layer_heavy_and_selected_double():
    s = session("spiral")
    d = LayerDiagram(layer_picture(s), current="relu1", selected="dense2")
    out = text(d.lines(200))
    assert d.level == 0
    assert "┏━ relu1 " in out and "╔═ dense2 " in out and "╭─ dense1 " in out
    # as chips (no borders): the current name reversed, the selected underlined
    d = LayerDiagram(layer_picture(s), current="relu1", selected="dense2")
    lines = d.lines(60, 3)
    assert d.level >= 2
    styles = {line.plain[span.start:span.end]: Style.parse(str(span.style))
              for line in lines for span in line.spans}
    assert styles["relu1"].reverse and styles["dense2"].underline


def test_boxes_show_type_shape_and_parameter_count():
    out = text(LayerDiagram(layer_picture(session("spiral"))).lines(200))
    assert "dense (32)" in out and "96 params" in out and "relu (32)" in out
    assert "softmax_ce" in out and "(2)" in out


def test_edges_carry_values_forward_and_gradients_backward():
    fwd = text(LayerDiagram(layer_picture(session("spiral", "f"))).lines(200))
    bwd = text(LayerDiagram(layer_picture(session("spiral", "ff"))).lines(200))
    assert "μ=" in fwd and "∇" not in fwd and "= 1.1942" in fwd
    assert "∇‖" in bwd


def test_residual_blocks_draw_their_skip_nested():
    s = session(str(NESTED), "ff")
    d = LayerDiagram(layer_picture(s))
    out = text(d.lines(200))
    assert d.level == 0
    assert out.count("┴─▶") == 2 and out.count("⊕") == 2 and out.count("▼") == 2
    assert out.count("skip: y = x + f(x)") == 2
    assert "residual1" in out and "residual2" in out and "dense3" in out
    # the inner block is inside the outer one: its frame starts right of the outer's
    rows = out.splitlines()
    outer = next(r for r in rows if "residual1" in r).index("residual1")
    inner = next(r for r in rows if "residual2" in r).index("residual2")
    assert inner > outer


def test_legend_only_with_flow():
    s = session("deep-sigmoid", "ff")
    assert "vanishing" not in text(LayerDiagram(layer_picture(s)).lines(120))
    out = text(LayerDiagram(layer_picture(s), flow="grad").lines(120))
    assert "‖∇‖" in out and all(b.name in out for b in GRAD.bands)
    assert "1e-6" in out and "100" in out
    out = text(LayerDiagram(layer_picture(s), flow="ratio").lines(120))
    assert "‖Δw‖/‖w‖" in out and all(b.name in out for b in RATIO.bands) and "CS231n" in out


@pytest.mark.parametrize("value,band", [(0.0, "vanishing"), (5e-7, "vanishing"), (1e-6, "weak"),
                                        (4e-4, "weak"), (1e-3, "healthy"), (0.8, "healthy"),
                                        (50.0, "large"), (100.0, "exploding"),
                                        (float("inf"), "exploding"), (float("nan"), "exploding")])
def test_grad_band_from_norm(value, band):
    assert GRAD.band(value).name == band


@pytest.mark.parametrize("value,band", [(1e-6, "stalled"), (5e-5, "slow"), (1e-3, "healthy"),
                                        (0.05, "fast"), (0.8, "too fast")])
def test_ratio_band(value, band):
    assert RATIO.band(value).name == band


def test_box_coloured_by_its_band_and_numbers_printed():
    items = [LayerItem("input", "input", "input", "(2)"),
             LayerItem("a", "a", "dense", "(4)", 12, grad_norm=3e-7),
             LayerItem("b", "b", "dense", "(4)", 20, grad_norm=5e3),
             LayerItem("loss", "loss", "mse")]
    lines = LayerDiagram(LayerPicture(items, True), flow="grad").lines(200)
    out = text(lines)
    assert "3e-7" in out and "5e3" in out                  # the number, no colour needed
    coloured = [(line.plain[span.start:span.end], Style.parse(str(span.style)).color)
                for line in lines for span in line.spans]
    low, high = GRAD.bands[0].colour, GRAD.bands[-1].colour
    assert any("3e-7" in t and c is not None and c.name == low for t, c in coloured)
    assert any("5e3" in t and c is not None and c.name == high for t, c in coloured)
    # the borders too: the box of "b" drawn in the exploding colour
    assert any(t.startswith("╭─") and c is not None and c.name == high for t, c in coloured)


def test_meter_grows_with_the_norm_and_reads_without_colour():
    bars = [meter(v, GRAD) for v in (1e-8, 1e-6, 1e-3, 1.0, 1e3)]
    fill = [len(b.rstrip()) + sum(ch == "█" for ch in b) for b in bars]
    assert fill == sorted(fill) and fill[0] < fill[-1]
    assert meter(None, GRAD) == "·····" and meter(float("nan"), GRAD) == "!!!!!"
    assert short(3.8e-4) == "3.8e-4" and short(1e-6) == "1e-6" and short(0.348) == "0.348"


def test_flow_numbers_match_numpy():
    s = session("deep-sigmoid", "fff")                # forward, backward, updates
    pic = layer_picture(s)
    dense = [it for it in pic.items if it.type == "dense"]
    for it in dense:
        gW, gb = s.tape.grads[f"{it.id}.W"], s.tape.grads[f"{it.id}.b"]
        assert it.grad_norm == pytest.approx(np.sqrt((gW ** 2).sum() + (gb ** 2).sum()), rel=1e-12)
        old = [s.tape.extra["before"][f"{it.id}.{k}"] for k in "Wb"]
        new = [s.tape.values[f"{it.id}.{k}"] for k in "Wb"]
        dw = np.sqrt(sum(((n - o) ** 2).sum() for n, o in zip(new, old)))
        w = np.sqrt(sum((o ** 2).sum() for o in old))
        assert it.ratio == pytest.approx(dw / w, rel=1e-12)
        assert it.edge_norm == pytest.approx(np.linalg.norm(s.tape.grads[it.id]), rel=1e-12)
    assert s.program.layers[0].name == dense[0].id
    # vanishing toward the input: every dense layer's ‖∇‖ below the next one's
    norms = [it.grad_norm for it in dense]
    assert norms == sorted(norms) and norms[-1] > 1000 * norms[0]
    assert GRAD.band(norms[0]).name == "weak" and GRAD.band(norms[-1]).name == "healthy"


def test_ratio_comes_from_the_last_iteration_after_it():
    s = session("deep-sigmoid", "fff")
    want = {it.id: it.ratio for it in layer_picture(s).items if it.ratio is not None}
    s.next_iteration()
    pic = layer_picture(s)
    assert "last iteration" in pic.ratio_note
    for it in pic.items:
        if it.id in want:
            assert it.ratio == pytest.approx(want[it.id], rel=1e-9)
    fresh = layer_picture(session("deep-sigmoid"))
    assert all(it.ratio is None for it in fresh.items) and "no update yet" in fresh.ratio_note


def test_lr_too_large_explodes_on_the_picture():
    s = session("lr-too-large")
    for _ in range(6):
        s.next_iteration()
    s.finish_phase()
    s.finish_phase()
    out = LayerDiagram(layer_picture(s), flow="grad")
    norms = [it.grad_norm for it in out.picture.items if it.params]
    assert any(GRAD.band(n).name == "exploding" for n in norms)
    assert RATIO.band(layer_picture(session("lr-too-large", "fff")).items[1].ratio).name == "too fast"


def test_user_text_is_made_safe():
    s = session("spiral")
    s.program.layers[0].name = "dense1\x1b]0;owned\x07[b]x[/b]"   # past the loader's rule
    lines = LayerDiagram(layer_picture(s)).lines(300)
    out = text(lines)
    assert "\x1b" not in out and "\x07" not in out
    assert "dense1\\x1b]0;owned\\x07[b]x[/b]" in out       # escaped, and markup kept as text


@pytest.mark.parametrize("name", NETWORKS + [str(NESTED)])
def test_every_layer_expands_into_a_circuit(name):
    from tuinn.tui.present_cells import layer_circuit
    from tuinn.tui.render.circuit import CircuitDiagram
    s = session(name if "/" in name else name, "ff")
    layers = s.program._all_layers()
    for layer in layers:
        cell = layer_circuit(s, layer.name)
        d = CircuitDiagram(cell.nodes, layer.name, cell.labels, min_label_width=cell.label_width,
                           inputs_near=True)            # a valid, acyclic circuit
        assert d.size()[0] > 0 and set(cell.params) <= set(d.nodes)
    assert layer_circuit(s, "no-such-layer") is None


def test_dense_circuit_labels_are_the_tape_values():
    from tuinn.tui.present_cells import layer_circuit
    from tuinn.tui.present_layers import norm_text, value_text
    s = session("spiral", "ff")
    cell = layer_circuit(s, "dense2")
    assert [n.label for n in cell.nodes if n.kind == "gate"] == ["@", "+"]
    assert cell.labels["dense2.matmul"].value == value_text(s.tape.values["dense2.matmul"])
    assert cell.labels["dense2.W"].grad == norm_text(s.tape.grads["dense2.W"])
    assert cell.labels["relu1"].value == value_text(s.tape.values["relu1"])   # its input
    assert "x @ W + b" in cell.formula


@pytest.mark.parametrize("width", [200, 60, 30])
@pytest.mark.parametrize("flow", [None, "grad"])
def test_frozen_layers_are_marked_at_every_level_of_detail(width, flow):
    items = [LayerItem("input", "input", "input", "(2)"),
             LayerItem("body", "body", "dense", "(16)", 48, frozen=True),
             LayerItem("head", "head", "dense", "(3)", 51),
             LayerItem("loss", "loss", "mse")]
    out = text(LayerDiagram(LayerPicture(items, True), flow=flow).lines(width))
    assert out.count("❄") == 1 and out.index("body") < out.index("❄") < out.index("head")


def test_a_long_chain_too_tall_for_chips_wraps_its_names_and_keeps_every_layer():
    s = session("batchnorm-deep-sigmoid", "ff")
    d = LayerDiagram(layer_picture(s), flow="grad")
    lines = d.lines(78, 11)
    out = text(lines)
    assert len(lines) <= 11 and all(line.cell_len <= 78 for line in lines)
    assert all(layer.name in out for layer in s.program.layers) and "loss" in out
    assert "‖∇‖" in out                                    # the legend stays
