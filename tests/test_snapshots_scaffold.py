"""SVG snapshots of the scaffold every screen shares (kept in snapshots/): the finder,
the help, a dialog and the step list at 80x24, where space is shortest."""

import pytest

from ui_helpers import make_app, press, settle

SCAFFOLD = {
    "finder-network": ("spiral", ("slash", "d", "1")),
    "finder-graph": ("sigmoid-neuron", ("slash",)),
    "help": ("spiral", ("question_mark",)),
    "jump-dialog": ("spiral", ("J",)),
    "breakpoint-dialog": ("xor", ("B",)),
    "edit-dialog": ("sigmoid-neuron", ("e",)),
    "steps-shown": ("sigmoid-neuron", ("n", "n", "n", "L")),
    "steps-network": ("spiral", ("L", "s", "s")),
}


def keys_then_settle(keys):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
    return run_before


@pytest.mark.parametrize("view", list(SCAFFOLD))
def test_scaffold_80x24(snap_compare, view):
    name, keys = SCAFFOLD[view]
    assert snap_compare(make_app(name), terminal_size=(80, 24), run_before=keys_then_settle(keys))
