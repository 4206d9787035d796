"""SVG snapshots of the GAN screen (kept in snapshots/): before the first step, and after
the generator's backward pass (the arrows), at 80x24 and 120x40."""

import pytest

from ui_helpers import make_app, press, settle

STATES = {
    "start": ("gan-ring", ()),
    "g-backward": ("gan-ring", ("n",) * 17),
    "collapse-start": ("gan-collapse", ("n",) * 4),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("state", list(STATES))
def test_gan_screen(snap_compare, state, size):
    name, keys = STATES[state]

    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
    assert snap_compare(make_app(name), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
def test_gan_breakpoint_dialog(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, "B", *"spread < 0.1")
        await settle(pilot)
    assert snap_compare(make_app("gan-ring"), terminal_size=size, run_before=run_before)
