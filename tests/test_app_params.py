"""The app's parameter keys: T freezes or unfreezes the selected layer (on the engine
thread, the current iteration replayed), S saves the parameters through the export
dialog; frozen layers are marked in the layer picture and the tensor panel."""

from __future__ import annotations

import numpy as np

from tuinn.scenario.params_io import read_params
from tuinn.tui.present_layers import layer_picture
from tuinn.tui.present_net import tensor_view
from ui_helpers import make_app, press, run_async, settle


@run_async
async def test_t_freezes_the_selected_layer_and_unfreezes_it():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        prog = app.session.program
        await press(pilot, "down", "down")                 # loss -> input -> dense1.W
        assert app.screen.selected == "dense1.W"
        await press(pilot, "T")
        assert prog.frozen == {"dense1.W", "dense1.b"}
        assert "dense1: frozen (trainable = false); 2 parameters" in app.screen.message
        assert app.screen.selected == "dense1.W"            # the selection stays
        start = prog.params()["dense1.W"].copy()
        await press(pilot, "i", "i")                        # two iterations, stepped
        np.testing.assert_array_equal(prog.params()["dense1.W"], start)
        view = tensor_view(app.session, "dense1.W")
        assert view.title.startswith("dense1.W (frozen)") and "no gradient" in view.note
        items = {it.id: it for it in layer_picture(app.session).items}
        assert items["dense1"].frozen and not items["dense2"].frozen
        lines = {node: what for _, node, what in app.screen.last_frame["lines"]}
        assert lines["dense1.W"] == lines["dense1.b"] == "frozen" and lines["dense2.W"] == "adam"
        app.screen.selected = "dense1"                      # stepping cleared the selection
        app.screen.refresh_frame()
        await settle(pilot)
        await press(pilot, "T")
        assert prog.frozen == frozenset() and "dense1: trains again" in app.screen.message
        await press(pilot, "i")
        assert not np.array_equal(prog.params()["dense1.W"], start)


@run_async
async def test_t_mid_iteration_replays_it_with_the_new_flag():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        s = app.session
        await press(pilot, "f", "f")                        # forward, then backward done
        tick = s.tick
        assert "dense2.W" in s.tape.grads
        app.screen.selected = "dense2"
        await press(pilot, "T")
        assert s.tick == tick and "dense2.W" not in s.tape.grads   # replayed, frozen
        assert "dense1.W" in s.tape.grads


@run_async
async def test_t_on_the_input_says_what_to_select():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "down")                          # the input
        await press(pilot, "T")
        assert "select one first" in app.screen.message
        assert app.session.program.frozen == frozenset()


@run_async
async def test_frozen_scenario_shows_its_frozen_layers():
    app = make_app("transfer-frozen")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        items = {it.id: it for it in layer_picture(app.session).items}
        assert items["body1"].frozen and items["body2"].frozen and not items["head"].frozen
        drawn = "\n".join(line.plain for line in app.screen.last_frame["diagram"].lines(200))
        assert drawn.count("❄") == 2                         # on body1 and body2 only


@run_async
async def test_s_saves_the_parameters_and_asks_before_overwriting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        prog = app.session.program
        await press(pilot, "i", "S")
        assert app.screen.query_one("#path").value == "xor-params.safetensors"
        await pilot.press("enter")
        await settle(pilot)
        saved = read_params(str(tmp_path / "xor-params.safetensors"))
        for k, v in prog.params().items():
            assert saved[k].tobytes() == v.tobytes(), k
        assert "saved 4 parameters to xor-params.safetensors" in app.screen.message
        await press(pilot, "S")
        app.screen.query_one("#path").value = "w.txt"
        await pilot.press("enter")
        await settle(pilot)
        assert "must end in .npz or .safetensors" in str(
            app.screen.query_one("#error").render())
        app.screen.query_one("#path").value = "xor-params.safetensors"
        await pilot.press("enter")                          # it exists: asked first
        await settle(pilot)
        assert "Overwrite" in str(app.screen.query_one("#question").render())
        await press(pilot, "y")
        await settle(pilot)
        assert "saved 4 parameters" in app.screen.message
        await press(pilot, "i", "S")
        app.screen.query_one("#path").value = "w.npz"
        await pilot.press("enter")
        await settle(pilot)
        saved = read_params(str(tmp_path / "w.npz"))
        for k, v in prog.params().items():
            assert np.array_equal(saved[k], v), k


@run_async
async def test_t_while_running_applies_from_the_next_iteration():
    app = make_app("transfer-frozen")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        prog = app.session.program
        start = prog.params()["body2.W"].copy()
        app.screen.selected = "body2"
        await pilot.press("c")                            # not press(): it waits the run out
        await pilot.pause(0.3)
        assert app.screen.controller.running
        await pilot.press("T")                            # while run mode trains
        assert "body2: unfrozen from the next iteration" in app.screen.message
        await pilot.pause(0.5)
        await press(pilot, "p")
        await settle(pilot)
        assert prog.frozen == {"body1.W", "body1.b"}
        assert not np.array_equal(prog.params()["body2.W"], start)
