"""SVG snapshots of the network panel's layer picture (kept in snapshots/): gradient-flow
colouring on lstm and deep-sigmoid, a layer expanded into its gates, at 80x24 and 120x40."""

import pytest

from ui_helpers import make_app, press, settle

SIZES = [(80, 24), (120, 40)]
STATES = {
    "deep-sigmoid-flow": ("deep-sigmoid", ("f", "f", "d")),            # ‖∇‖ after backward
    "deep-sigmoid-ratio": ("deep-sigmoid", ("f", "f", "f", "d", "d")),  # after the updates
    "lstm-flow": ("lstm", ("f", "f", "f", "d")),           # after the updates: the picture
    "spiral-expanded": ("spiral", ("f", "down", "down", "enter")),     # dense1.W: dense1 as @, +
}


def keys_then_settle(keys):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", list(STATES))
def test_layer_picture(snap_compare, state, size):
    name, keys = STATES[state]
    assert snap_compare(make_app(name), terminal_size=size, run_before=keys_then_settle(keys))
