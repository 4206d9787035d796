"""The tensor panel: a value and its gradient side by side, statistics that keep
infinities, every line inside the panel's slot at 80x24 and 120x40."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SCENARIOS
from test_render_views import render
from tuinn.engine.build import open_session
from tuinn.tui.present_net import TensorView, tensor_view
from tuinn.tui.present_tensor import tensor_stats
from tuinn.tui.widgets.tensor_view import render_tensor
from ui_helpers import make_app, press, run_async, text_of

WIDTHS = (36, 39)          # the panel's inner width at 80x24 and at 120x40


def test_stats_keep_infinities_and_count_nan_and_inf():
    s = tensor_stats(np.array(np.inf))
    assert (s["mean"], s["min"], s["max"], s["norm"], s["std"]) == ("inf", "inf", "inf", "inf", "0")
    assert (s["nan"], s["inf"], s["bad"]) == (0, 1, "0 / 1")
    s = tensor_stats(np.array([1.0, np.nan, -np.inf, 3.0, 0.0]))
    assert (s["nan"], s["inf"], s["min"], s["max"], s["zeros"]) == (1, 1, "-inf", "3", "20%")
    s = tensor_stats(np.array([3.0, -4.0]))
    assert (s["mean"], s["std"], s["norm"], s["shape"]) == ("-0.5", "3.5", "5", "(2)")
    s = tensor_stats(np.full(3, np.nan))
    assert s["mean"] == "nan" and s["bad"] == "3 / 0"


@pytest.mark.parametrize("width", WIDTHS)
def test_scalar_inf_shows_inf(width):
    view = TensorView("loss", "loss", [("value", np.array(np.inf), "value"),
                                       ("∇loss", np.array(1.0), "grad")]).with_stats()
    lines, _ = render(render_tensor(view, width), width=width)
    value_row = next(line for line in lines if line.startswith("value "))
    assert value_row.split()[1:] == ["inf", "1"]
    assert lines[1].startswith("nan/inf") and "0 / 1" in lines[1]      # said first
    assert "nan" not in value_row


def _session(name, steps):
    s = open_session(str(SCENARIOS / f"{name}.toml"))[1]
    for _ in range(steps):
        s.step()
    return s


CASES = [("spiral", 9, "dense1"), ("spiral", 9, "dense1.W"), ("spiral", 12, "dense1.W"),
         ("spiral", 9, "loss"), ("cnn-bars", 20, "conv1"), ("lstm", 25, "lstm1")]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name, steps, node", CASES)
def test_value_and_gradient_side_by_side_within_the_slot(name, steps, node, width):
    s = _session(name, steps)
    view = tensor_view(s, node)
    lines, _ = render(render_tensor(view, width), width=200)
    header = next(i for i, line in enumerate(lines) if line.split()[:1] in (["value"], ["old"]))
    # title and notes wrap as text; tables, heatmaps and legends must fit as drawn
    drawn = [line for line in lines[header:] if not (view.note and line.startswith(view.note))]
    assert all(len(line.rstrip()) <= width for line in drawn), "\n".join(lines)
    legends = [line.split()[-1] for line in lines if "…" in line]
    assert all(any(c.isdigit() for c in end) for end in legends), legends
    assert legends or node == "loss"
    assert "∇loss" in lines[header], lines[header]         # the gradient beside the value
    rows = [line.split()[0] for line in lines[header + 1:header + 9]]
    if node == "loss":
        assert rows[:2] == ["value", "nan/inf"]
    else:
        assert rows == ["shape", "mean", "std", "min", "max", "norm", "zeros", "nan/inf"]
        norms = lines[header + 6].split()[1:]
        assert norms == [st["norm"] for st in view.stats[:2]] + (["—"] if view.pending else [])


def test_update_step_shows_old_value_gradient_state_and_new_value():
    s = _session("spiral", 12)          # the last step: adam updates dense2
    view = tensor_view(s, "dense1.W")
    assert [label for label, _, _ in view.arrays] == \
        ["old value", "∇loss + L2", "adam m", "adam v", "new value"]
    lines, _ = render(render_tensor(view, 36), width=36)
    assert any("old value" in line and "∇loss + L2" in line for line in lines)
    assert any("adam m" in line and "adam v" in line for line in lines)


def test_gradient_column_waits_for_the_backward_pass():
    s = _session("spiral", 1)
    view = tensor_view(s, "dense1")
    assert view.pending and len(view.arrays) == 1
    lines, _ = render(render_tensor(view, 36), width=36)
    assert lines[0].split() == ["value", "∇loss"] and lines[1].split() == ["shape", "(64,32)", "—"]


@run_async
async def test_inspector_shows_the_gradient_above_the_fold_at_80x24():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f", *["n"] * 5)
        inspector = app.screen.query_one("#inspector")
        shown = text_of(inspector.query_one("#tensor"), inspector.scrollable_content_region.width)
        first = shown.splitlines()[:inspector.scrollable_content_region.height]
        assert any("value" in line and "∇loss" in line for line in first), shown
        assert any(line.startswith("norm") for line in first), shown
