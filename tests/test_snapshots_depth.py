"""SVG snapshots of the per-layer histogram view ("by depth", `v` in the network screen)
of the initialisation scenarios (kept in snapshots/), at 80x24 and 120x40."""

import pytest

from ui_helpers import make_app, press, settle


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("name", ["init-small", "init-zeros", "init-he"])
def test_depth_view(snap_compare, name, size):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, "v", "v")
        await settle(pilot)
    assert snap_compare(make_app(name), terminal_size=size, run_before=run_before)
