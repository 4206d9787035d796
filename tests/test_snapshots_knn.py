"""SVG snapshots (in snapshots/) of the knn screen at 80x24 and 120x40: the distances
step, the k nearest with the vote and the prediction, the cosine metric's wedges, and
badly scaled points with preprocessing turned off."""

import pytest

from test_snapshots import SIZES, keys_then_settle
from ui_helpers import make_app

STATES = {
    "distances": ("knn-blobs", ("n",)),                              # the table, the lines
    "predicted-k5": ("knn-blobs", ("k", "k", "k", "k", "f")),        # ranks, votes, prediction
    "cosine-nearest": ("knn-metric", ("m", "m", "n", "n", "n")),     # wedges from the origin
    "scaled-raw": ("knn-scaled", ("p", "f")),                        # price stripes, one line
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", list(STATES))
def test_knn_screen(snap_compare, state, size):
    name, keys = STATES[state]
    assert snap_compare(make_app(name), terminal_size=size, run_before=keys_then_settle(keys))
