"""SVG snapshots of frozen layers (kept in snapshots/): transfer-frozen on the update step
of the frozen body1.W (boxes marked ❄, the tensor panel says frozen), at 80x24 and 120x40."""

import pytest

from ui_helpers import make_app, press, settle

SIZES = [(80, 24), (120, 40)]


def keys_then_settle(keys):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_transfer_frozen_update(snap_compare, size):
    assert snap_compare(make_app("transfer-frozen"), terminal_size=size,
                        run_before=keys_then_settle(("f", "f", "n")))
