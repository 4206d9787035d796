"""SVG snapshots (in snapshots/) of the data view of a network with [data] preprocess at
80x24 and 120x40: the points after standardize (`v`) and the raw points (`P`), each with
the training split's per-feature mean and standard deviation."""

import pytest

from test_snapshots import SIZES, keys_then_settle
from ui_helpers import make_app

VIEWS = {
    "preprocess-after": ("v",),
    "preprocess-raw": ("P",),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_preprocess_data_view(snap_compare, view, size):
    assert snap_compare(make_app("preprocess"), terminal_size=size,
                        run_before=keys_then_settle(VIEWS[view]))
