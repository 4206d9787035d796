"""SVG snapshots (in snapshots/) of the bottom panels at 80x24 and 120x40: the tensor
panel with a value and its gradient side by side, the fitted-curve view of a regression
and the text a character model writes."""

import pytest

from test_snapshots import SIZES, keys_then_settle
from ui_helpers import make_app

VIEWS = {
    "tensor-backward": ("spiral", ("f", "n", "n", "n")),             # relu1's value and ∇
    "tensor-update": ("spiral", ("f", "f", "n")),                    # old value, ∇, adam, new
    "fit-start": ("lr-just-right", ("v",)),
    "fit-trained": ("lr-just-right", ("v",) + ("plus",) * 3 + ("c",)),  # 2000 epochs, full speed
    "fit-diverged": ("lr-too-large", ("v", "c")),                    # stopped at NaN
    "chars-text": ("chars", ("v",)),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_bottom_views(snap_compare, view, size):
    name, keys = VIEWS[view]
    assert snap_compare(make_app(name), terminal_size=size, run_before=keys_then_settle(keys))
