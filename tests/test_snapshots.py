"""SVG snapshots of the screens (kept in snapshots/): graph screens at 80x24 and 120x40
at the start, mid-forward, mid-backward and finished; the network screen."""

import pytest

from ui_helpers import make_app, press, settle

GRAPH_STATES = {"start": (), "mid-forward": ("n",) * 4, "mid-backward": ("f", "n", "n", "n"),
                "finished": ("f", "f")}
SIZES = [(80, 24), (120, 40)]


def keys_then_settle(keys):
    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", list(GRAPH_STATES))
def test_sigmoid_neuron(snap_compare, state, size):
    assert snap_compare(make_app("sigmoid-neuron"), terminal_size=size,
                        run_before=keys_then_settle(GRAPH_STATES[state]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_matrix_circuit_finished(snap_compare, size):
    assert snap_compare(make_app("matrix"), terminal_size=size,
                        run_before=keys_then_settle(("f", "f")))


def test_help_screen(snap_compare):
    assert snap_compare(make_app("add-mul"), terminal_size=(80, 24),
                        run_before=keys_then_settle(("question_mark",)))


NETWORK_STATES = {
    "start": (),
    "forward": ("s", "s", "s"),                      # through dense1, relu1, dense2
    "update": ("f", "f", "n", "n"),                  # forward, backward, then two updates
    "trained-loss": ("x",) * 20,                     # 20 epochs, loss curve
    "trained-data": ("x",) * 20 + ("v",),            # the decision regions
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", list(NETWORK_STATES))
def test_spiral_network(snap_compare, state, size):
    assert snap_compare(make_app("spiral"), terminal_size=size,
                        run_before=keys_then_settle(NETWORK_STATES[state]))


def test_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app("sigmoid-neuron"), terminal_size=(80, 24),
                        run_before=keys_then_settle(GRAPH_STATES["mid-backward"]))


def test_light_theme(snap_compare):
    app = make_app("gate-patterns")
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys_then_settle(("f", "f")))


LAYER_VIEWS = {
    "lstm-forward": ("lstm", ("n",) * 5),                       # t = 5 of 10
    "lstm-backward": ("lstm", ("f", "n", "n", "n", "n", "n", "n")),  # back through time to t = 7
    "conv-forward": ("cnn-bars", ("n",) * 8),                  # the 8th window of conv2d1
    "conv-backward": ("cnn-bars", ("f",) + ("s",) * 5 + ("n",) * 4),   # conv1 backward, window 4
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(LAYER_VIEWS))
def test_layer_views(snap_compare, view, size):
    name, keys = LAYER_VIEWS[view]
    assert snap_compare(make_app(name), terminal_size=size, run_before=keys_then_settle(keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nan_breakpoint_stop(snap_compare, size):
    """Run mode stopped by the scenario's `nan` breakpoint: the reason, the step, the panel."""
    assert snap_compare(make_app("lr-too-large"), terminal_size=size,
                        run_before=keys_then_settle(("c",)))


def test_export_confirm_overwrite(snap_compare, tmp_path, monkeypatch):
    """The export dialog asks before it overwrites a file that exists."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "W.npy").write_bytes(b"")

    async def run_before(pilot):
        await settle(pilot)
        await press(pilot, "f", "f", "up", "up", "o")     # matmul1 -> b -> W
        pilot.app.screen.query_one("#path").value = "W.npy"
        await press(pilot, "enter")
    assert snap_compare(make_app("matrix"), terminal_size=(80, 24), run_before=run_before)
