"""SVG snapshots of the graph screen's fitted picture (issue 10): every bundled graph after
the backward pass at 80x24 and 120x40, and the full-size view that `z` toggles to."""

import pytest

from test_snapshots import SIZES, keys_then_settle
from ui_helpers import make_app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["gate-patterns", "branch", "sigmoid-gate"])
def test_graph_fitted(snap_compare, name, size):
    assert snap_compare(make_app(name), terminal_size=size,
                        run_before=keys_then_settle(("f", "f")))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_graph_full_size_view(snap_compare, size):
    """`z`: the full-size drawing, scrolled to the current gate (the output)."""
    assert snap_compare(make_app("sigmoid-neuron"), terminal_size=size,
                        run_before=keys_then_settle(("f", "z")))


def test_graph_selected_node_compact(snap_compare):
    """A node selected with ↑ in a compact layout: its double border, and the inspector."""
    assert snap_compare(make_app("sigmoid-neuron"), terminal_size=(80, 24),
                        run_before=keys_then_settle(("f", "f", "up", "up")))
