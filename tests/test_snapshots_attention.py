"""SVG snapshots (in snapshots/) of the issue-13 layer views at 80x24 and 120x40: the
attention maps forward and backward, batchnorm and layernorm, the word2vec embedding view
and the bidirectional GRU's two directions."""

import pytest

from test_snapshots import SIZES, keys_then_settle
from ui_helpers import make_app

BACKWARD_TO_ATTENTION = ("f",) + ("s",) * 6          # the backward step of residual1

VIEWS = {
    "attention-forward": ("transformer-chars", ("s", "s", "s")),
    "attention-backward": ("transformer-chars", BACKWARD_TO_ATTENTION),
    "attention-key": ("transformer-chars", ("s", "s", "s", "k", "h", "h", "full_stop")),
    "batchnorm": ("batchnorm-deep-sigmoid", ("s", "s", "j")),
    "layernorm-rnn": ("layernorm-rnn", ("s", "s")),
    "word2vec": ("word2vec", ("s", "j", "j")),
    "embedding-chars": ("transformer-chars", ("s",)),
    "bigru-forward": ("bigru-reverse", ("n", "n", "n")),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_issue13_views(snap_compare, view, size):
    name, keys = VIEWS[view]
    assert snap_compare(make_app(name), terminal_size=size, run_before=keys_then_settle(keys))
