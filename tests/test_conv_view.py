"""Tests of the conv view: the presenter's numbers against the caches and a naive
recomputation, when caches may be read, and the widget's text (readable without colour)."""

from __future__ import annotations

import io

import re

import numpy as np
import pytest
from conftest import SCENARIOS
from rich.console import Console
from ui_helpers import run_async

from tuinn.engine.build import open_session
from tuinn.tui.present_conv import ConvData, conv_view, dot_product_text, formula_lines
from tuinn.tui.widgets.conv_view import ConvView, grid_lines, number, render_conv


def session(name: str):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def layer_of(s, name):
    return {layer.name: layer for layer in s.program.layers}[name]


def goto_sub(s, phase: str, node: str, sub: int):
    """Stand on sub-step `sub` of the step (phase, node)."""
    step = next(st for st in s.steps if st.phase == phase and st.node == node)
    s.goto(s.tick_of(step.index) + sub + 1)
    assert s.current is step and s.position.sub == sub


def plain(renderable, width: int = 84) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# ------------------------------------------------------------------ forward conv

@pytest.mark.parametrize("name,layer,f", [("cnn-bars", "conv1", 0), ("cnn-bars", "conv1", 3),
                                          ("conv-3x3-stack", "conv2", 1),
                                          ("conv-stride-padding", "strided", 1)])
def test_written_out_dot_product_sums_to_the_cached_output(name, layer, f):
    s = session(name)
    conv = layer_of(s, layer)
    OH, OW = conv.out_shape[1:]
    for k in (0, OW + 1, OH * OW - 1):
        goto_sub(s, "forward", layer, k)
        data = conv_view(s, filter=f)
        assert data.phase == "forward" and data.k == k and data.cell == divmod(k, OW)
        total = sum(w * x for w, x in data.terms) + data.bias
        cached = conv.cache["y"][0, f, data.cell[0], data.cell[1]]
        np.testing.assert_allclose(total, cached, rtol=1e-10, atol=1e-12)
        assert data.result == pytest.approx(cached)
        # the same number from scratch: pad the layer's input by hand, take the window
        P, S, K = conv.padding, conv.stride, conv.kernel
        x = conv.cache["x"][0]
        xp = np.pad(x, ((0, 0), (P, P), (P, P)))
        r, c = data.cell[0] * S, data.cell[1] * S
        naive = np.sum(xp[:, r:r + K, c:c + K] * conv.params["W"][f]) + conv.params["b"][f]
        assert total == pytest.approx(naive)
        line = next(t for t, _ in data.lines if t.startswith(f"y[{f}]"))
        assert line.endswith(f"= {dot_product_text(data.terms, data.bias, data.result).split('= ')[-1]}")
        assert "+ b " in line


def test_long_dot_products_are_shortened_but_keep_the_total():
    s = session("conv-5x5")
    goto_sub(s, "forward", "conv5x5", 5)
    data = conv_view(s)
    assert len(data.terms) == 75
    line = next(t for t, _ in data.lines if t.startswith("y[0]"))
    assert "… (67 more)" in line and line.count(")(") == 8
    assert line.endswith(" = " + line.split(" = ")[-1]) and f"{data.result:.2f}".rstrip("0") in line
    assert any("75 products" in t for t, _ in data.lines)
    text = dot_product_text([(-1.0, 0.2), (0.0, 0.5), (2.0, 0.25)], 0.1, 0.4)
    assert text == "(-1)(0.2) + (0)(0.5) + (2)(0.25) + b 0.1 = 0.4"


def test_grids_window_padding_and_output_written_so_far():
    s = session("cnn-bars")                       # 6x6, kernel 3, padding 1
    goto_sub(s, "forward", "conv1", 7)            # window 7 -> output (1, 1)
    data = conv_view(s)
    inp, out, w = data.grids[:3]
    assert inp.pad == 1 and inp.values.shape == (8, 8) and inp.window == (1, 4, 1, 4)
    assert np.all(inp.values[0] == 0) and np.all(inp.values[:, -1] == 0)
    assert out.current == (1, 1) and out.values.shape == (6, 6)
    assert out.hidden.sum() == 36 - 8 and not out.hidden[1, 1] and out.hidden[1, 2]
    np.testing.assert_array_equal(w.values, layer_of(s, "conv1").params["W"][0, 0])
    assert data.out_shape == (6, 6) and data.count == 36


def test_formula_is_filled_in():
    s = session("conv-stride-padding")
    strided, valid = layer_of(s, "strided"), layer_of(s, "valid")
    assert formula_lines(strided) == [
        "output height and width: (W - F + 2P) / S + 1 = (8 - 3 + 2·1) / 2 + 1 = 4.5 → 4: "
        "rounded down, the last 1 padded row and column are never read"]
    assert formula_lines(valid) == [
        "output height and width: (W - F + 2P) / S + 1 = (4 - 3 + 2·0) / 1 + 1 = 2"]
    s = session("cnn-bars")
    goto_sub(s, "forward", "conv1", 0)
    assert "(6 - 3 + 2·1) / 1 + 1 = 6" in conv_view(s).formula[0]
    pool = layer_of(s, "maxpool1")
    assert formula_lines(pool) == ["output height and width: (W - F) / S + 1 = (6 - 2) / 2 + 1 = 3"]


# ------------------------------------------------------------------ backward conv

def test_dw_partial_sums_grow_to_the_layer_gradient():
    s = session("cnn-bars")
    conv = layer_of(s, "conv1")
    goto_sub(s, "backward", "conv1", 0)
    first = conv_view(s)
    assert first.phase == "backward"
    np.testing.assert_allclose(first.arrays["dW"], first.arrays["dW_step"], atol=1e-15)
    goto_sub(s, "backward", "conv1", 20)         # partial: windows 0..20, by hand
    mid = conv_view(s, filter=2)
    x = np.pad(conv.cache["x"], ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy = conv.cache["dy"]
    naive = np.zeros_like(conv.params["W"])
    for k in range(21):
        r, c = divmod(k, 6)
        naive += np.einsum("nf,ncij->fcij", dy[:, :, r, c], x[:, :, r:r + 3, c:c + 3])
    np.testing.assert_allclose(mid.arrays["dW"], naive, atol=1e-14)
    dw_grid = next(g for g in mid.grids if g.title.startswith("∇W[2]"))
    np.testing.assert_allclose(dw_grid.values * 10.0 ** dw_grid.scale, naive[2, 0], atol=1e-14)
    goto_sub(s, "backward", "conv1", 35)
    last = conv_view(s)
    np.testing.assert_allclose(last.arrays["dW"], conv.grads["W"], atol=1e-14)
    np.testing.assert_allclose(last.arrays["dW"], s.tape.grads["conv1.W"], atol=1e-14)
    np.testing.assert_allclose(last.arrays["db"], conv.grads["b"], atol=1e-14)
    np.testing.assert_allclose(last.arrays["dX"], conv.cache["dx"], atol=1e-14)
    assert any("whole gradients" in t for t, _ in last.lines)
    dx_grid = next(g for g in last.grids if g.title.startswith("∇input"))
    assert dx_grid.pad == 1 and dx_grid.window == (5, 8, 5, 8) and dx_grid.kind == "grad"


# ------------------------------------------------------------------ pools

def test_max_pool_routes_to_the_winner_and_avg_spreads():
    s = session("pool-max")
    pool = layer_of(s, "maxpool1")
    for k in range(9):
        goto_sub(s, "forward", "maxpool1", k)
        data = conv_view(s, filter=1)
        r, c = divmod(k, 3)
        win = pool.cache["x"][0, 1, 2 * r:2 * r + 2, 2 * c:2 * c + 2]
        i, j = np.unravel_index(np.argmax(win), win.shape)
        assert data.winner == (2 * r + i, 2 * c + j)
        assert data.result == win.max()
        assert data.grids[0].winners == (data.winner,)
    goto_sub(s, "backward", "maxpool1", 4)
    data = conv_view(s, filter=1)
    step = data.arrays["dX_step"]
    i, j = data.winner[0] - 2, data.winner[1] - 2
    assert step[i, j] == pool.cache["dy"][0, 1, 1, 1] and np.count_nonzero(step) <= 1
    assert any("routes all of it to its winner" in t for t, _ in data.lines)
    s = session("pool-avg")
    goto_sub(s, "backward", "avgpool1", 4)
    data = conv_view(s)
    dy = layer_of(s, "avgpool1").cache["dy"][0, 0, 1, 1]
    np.testing.assert_allclose(data.arrays["dX_step"], np.full((2, 2), dy / 4))
    assert data.winner is None and any("spreads ∇y / 4" in t for t, _ in data.lines)


# ------------------------------------------------------------------ receptive field

def test_receptive_field_of_two_3x3_is_5x5():
    s = session("conv-3x3-stack")
    goto_sub(s, "forward", "conv2", 5)             # output (1, 1) of a 4x4 map
    data = conv_view(s)
    assert data.field.size == (5, 5) and (data.field.row0, data.field.col0) == (1, 1)
    assert "receptive field of output (1, 1): 5x5 at rows 1-5, cols 1-5" in data.field_text
    net = next(g for g in data.grids if g.title.startswith("network input"))
    assert net.field == (1, 6, 1, 6)
    moved = conv_view(s, out_cell=(3, 0))          # a selected cell instead of the current one
    assert moved.selected == (3, 0) and moved.field.size == (5, 5)
    assert "rows 3-7, cols 0-4" in moved.field_text
    assert next(g for g in moved.grids if g.title.startswith("output")).selected == (3, 0)
    s5 = session("conv-5x5")
    goto_sub(s5, "forward", "conv5x5", 5)
    assert conv_view(s5).field.size == (5, 5)
    sp = session("conv-stride-padding")
    goto_sub(sp, "forward", "valid", 3)
    assert conv_view(sp).field.size == (7, 7)


# ------------------------------------------------------------------ when caches are read

def test_caches_are_read_only_when_the_step_ran_in_this_pass():
    s = session("cnn-bars")
    assert conv_view(s, "conv1").phase == "idle"           # nothing ran yet
    assert conv_view(s, "relu1") is None and conv_view(s) is None
    goto_sub(s, "forward", "relu1", 0)
    done = conv_view(s, "conv1")
    assert done.phase == "forward" and done.k == 35 and "forward pass done" in done.title
    s.goto(s.tick_of(next(st.index for st in s.steps if st.node == "conv1.W")))  # before it
    assert conv_view(s, "conv1").phase == "backward"
    s.goto(s.tick_of(next(st.index for st in s.steps if st.node == "conv1.W")) + 1)
    after = conv_view(s, "conv1")
    assert after.phase == "idle" and "parameters updated" in after.title
    assert all(g.kind == "param" for g in after.grids)
    s.next_iteration()                                       # stale caches from before
    stale = conv_view(s, "conv1")
    assert stale.phase == "idle" and "not run yet" in stale.title
    assert any("receptive field" in t for t, _ in stale.lines)


# ------------------------------------------------------------------ the widget

def test_grid_numbers_keep_one_format():
    cases = {0.0: " 0.00", 0.534: " 0.53", -0.534: "-0.53", -1.234: "-1.23", 1.234: " 1.23",
             9.99: " 9.99", -0.004: " 0.00", float("nan"): "  nan", float("-inf"): " -inf"}
    for v, want in cases.items():
        assert number(v) == want, v
    for v in np.random.default_rng(0).uniform(-9.99, 9.99, 200):
        assert re.fullmatch(r" ?-?\d\.\d\d", number(v)) and len(number(v)) == 5


def test_grids_are_scaled_into_the_format_and_marked_with_spaces():
    s = session("cnn-bars")
    goto_sub(s, "backward", "conv1", 4)
    for g in conv_view(s).grids:
        finite = np.abs(g.values[np.isfinite(g.values)])
        assert finite.max() < 9.995 and (finite.max() >= 0.1 or finite.max() == 0), g.title
        for line in grid_lines(g)[1:]:
            for m in re.finditer("[›»▲◆∘]", line.plain):       # a space each side of a marker
                assert line.plain[m.start() - 1] == " " and line.plain[m.end()] == " ", line.plain
            numbers = re.findall(r"-?\d+\.\d+", line.plain)
            assert all(re.fullmatch(r"-?\d\.\d\d", n) for n in numbers), line.plain


def test_widget_text_marks_window_padding_and_current_cell():
    s = session("cnn-bars")
    goto_sub(s, "forward", "conv1", 7)
    data = conv_view(s)
    text = plain(render_conv(data, 80), 80)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert len(lines) <= 22                          # the top panel at 120x40
    assert text.count("›") == 9 + 1                  # the 3x3 window, and the legend
    assert text.count("»") == 1 + 1                  # the cell being written, and the legend
    top = lines.index(next(line for line in lines if line.startswith("input padded 1")))
    assert lines[top + 1].split() == ["·"] * 8         # the top padding row
    assert top <= 5                                    # arithmetic and formula above the grids
    assert "(6 - 3 + 2·1) / 1 + 1 = 6" in " ".join(lines[:top])
    flat = " ".join(line.strip() for line in lines)
    assert "(6 - 3 + 2·1) / 1 + 1 = 6" in flat and "+ b " in flat
    assert "receptive field of output (1, 1): 3x3" in flat
    inp = data.grids[0]
    row = grid_lines(inp)[1 + 2]                     # padded row 2, window rows 1-3
    styles = [span.style for span in row.spans]
    assert sum("reverse" in str(st) for st in styles) == 3
    out_row = grid_lines(data.grids[1])[1 + 1]
    assert any("bold" in str(span.style) for span in out_row.spans)
    goto_sub(s, "backward", "maxpool1", 2)
    text = plain(render_conv(conv_view(s), 80), 80)
    assert text.count("▲") == 2 and "∇" in text      # the winner (and the legend)
    assert "no conv or pool layer" in plain(render_conv(None))


def test_widget_fits_narrow_widths():
    s = session("conv-3x3-stack")
    goto_sub(s, "backward", "conv2", 3)
    for width in (40, 78):
        text = plain(render_conv(conv_view(s), width), width)
        assert max(len(line.rstrip()) for line in text.splitlines()) <= width
        assert "∇input c2" in text and "∇W[0] c2" in text


@run_async
async def test_keys_move_the_selected_cell_and_the_filter():
    from textual.app import App

    s = session("cnn-bars")
    goto_sub(s, "forward", "conv1", 7)
    got = []

    class Host(App):
        def compose(self):
            yield ConvView(id="conv")

        def on_mount(self):
            view = self.query_one(ConvView)
            view.show(conv_view(s))
            view.focus()

        def on_conv_view_changed(self, message: ConvView.Changed):
            got.append((message.layer, message.cell, message.filter))
            self.query_one(ConvView).show(conv_view(s, message.layer, message.cell,
                                                    message.filter))

    app = Host()
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.press("j", "j", "l", "full_stop")
        await pilot.pause()
        view = app.query_one(ConvView)
        assert got[-1] == ("conv1", (3, 2), 1)
        assert isinstance(view.data, ConvData) and view.data.filter == 1
        assert view.data.field_text.startswith("receptive field of output (3, 2)")
        await pilot.press("0", "comma", "comma")
        await pilot.pause()
        assert got[-1] == ("conv1", None, 3) and view.data.selected == (1, 1)
        assert "conv1" in str(view.border_title)
