"""The network panel in the app: every bundled network shows its first layer and its loss
on the first screen at 80x24 and 120x40; Enter expands a layer and collapses it; d cycles
the gradient-flow colouring."""

import pytest

from conftest import SCENARIOS
from tuinn.tui.headless import snapshot, svg_to_text
from ui_helpers import make_app, press, run_async, settle

NETWORKS = sorted(p.stem for p in SCENARIOS.glob("*.toml") if 'kind = "network"' in p.read_text())
SIZES = [(80, 24), (120, 40)]


def panel(screen: str, title: str = "network") -> str:
    """The text inside the bordered panel whose top border carries `title`."""
    rows = screen.splitlines()
    top = next(i for i, r in enumerate(rows) if f"╭─ {title}" in r)
    left = rows[top].index(f"╭─ {title}")
    right = rows[top].index("╮", left)
    inside = []
    for r in rows[top + 1:]:
        if len(r) > left and r[left] == "╰":
            break
        inside.append(r[left + 1:right])
    return "\n".join(inside)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", NETWORKS)
def test_first_screen_shows_first_layer_and_loss(name, size):
    app = make_app(name)
    screen = svg_to_text(snapshot(app, [], size), *size)
    first = app.session.program.layers[0].name
    inside = panel(screen)
    assert first in inside and "loss" in inside, screen
    footer = screen.rstrip("\n").splitlines()[-1]
    assert "? Help" in footer and "q Quit" in footer, footer


@run_async
async def test_enter_expands_a_layer_and_collapses_it():
    from tuinn.tui.widgets.network_view import NetworkView
    app = make_app("spiral")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "down", "down", "down")    # from the loss: input, dense1.W, dense1.b
        screen, view = app.screen, app.screen.query_one(NetworkView)
        assert screen.selected == "dense1.b" and view.cell is None
        await press(pilot, "down")
        assert screen.selected == "dense1"
        await press(pilot, "enter")
        assert screen.expanded == "dense1" and view.cell is not None
        circuit, heading = view.cell
        ids = {n.id for n in circuit.nodes.values()}
        assert {"dense1.matmul", "dense1.W", "dense1.b", "dense1"} <= ids
        assert "x @ W + b" in heading
        await press(pilot, "up")                      # a parameter of the expanded layer
        assert screen.selected == "dense1.b"
        await press(pilot, "enter")                   # on its parameter: collapses the layer
        assert screen.expanded is None and view.cell is None and screen.selected == "dense1"
        await press(pilot, "up", "up", "enter")       # on dense1.W: expands its layer
        assert screen.expanded == "dense1"
        await press(pilot, "enter")
        assert screen.expanded is None


@run_async
async def test_enter_on_input_or_loss_draws_every_layer_as_gates():
    from tuinn.tui.widgets.network_view import NetworkView
    app = make_app("spiral")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "down", "enter")           # on the input
        view = app.screen.query_one(NetworkView)
        ids = {n.id for n in view.cell[0].nodes.values()}
        assert {"dense1.matmul", "relu1", "dense2.matmul", "loss"} <= ids
        await press(pilot, "up", "enter")             # on the loss: collapses
        assert view.cell is None and app.screen.expanded is None


@run_async
async def test_enter_expands_an_lstm_cell():
    from tuinn.tui.widgets.network_view import NetworkView
    app = make_app("lstm")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "down", "down", "enter")   # input, then lstm1.Wx: its layer
        view = app.screen.query_one(NetworkView)
        assert app.screen.expanded == "lstm1"
        labels = {n.label for n in view.cell[0].nodes.values()}
        assert {"i=σ", "f=σ", "g=tanh", "o=σ", "c=+", "h=*"} <= labels


@run_async
async def test_d_cycles_gradient_flow_with_a_legend():
    app = make_app("deep-sigmoid")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "f", "f")

        def shown() -> str:
            return panel(svg_to_text(app.export_screenshot(), 120, 40))
        assert "vanishing" not in shown()
        await press(pilot, "d")
        text = shown()
        assert app.screen.flow == "grad" and "‖∇‖" in text and "vanishing" in text
        assert "5e-4" in text                         # dense1's ‖∇‖, printed in its box
        await press(pilot, "d")
        assert app.screen.flow == "ratio" and "‖Δw‖/‖w‖" in shown()
        await press(pilot, "d")
        assert app.screen.flow is None and "vanishing" not in shown()
