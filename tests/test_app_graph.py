"""Pilot key-press tests of the graph screen (everything by keyboard)."""

import numpy as np

from ui_helpers import make_app, press, run_async, settle, text_of


@run_async
async def test_step_back_finish_restart():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "n", "n", "right")
        s = app.session
        assert s.tick == 3 and s.current.node == "add1"
        await press(pilot, "b", "left")
        assert s.tick == 1
        await press(pilot, "f")
        assert s.tick == 8 and s.phase == "forward"
        await press(pilot, "f")
        assert s.at_end
        np.testing.assert_allclose(s.tape.grads["w0"], -0.19661193324148188)
        await press(pilot, "r")
        assert s.tick == 0


@run_async
async def test_status_and_inspector_follow_the_cursor():
    app = make_app("add-mul")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "n", "n", "n")
        status = text_of(app.screen.query_one("StatusBar"))
        assert "backward" in status and "step 3/4" in status and "f = -12" in status
        inspector = text_of(app.screen.query_one("#gate"))
        assert "multiply swaps" in inspector
        assert "∇ 1 × -4 = ∇ -4" in inspector and "∇ 1 × 3 = ∇ 3" in inspector


@run_async
async def test_edit_input_dialog_recomputes():
    app = make_app("add-mul")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f", "e")
        assert app.screen.__class__.__name__ == "EditInput"
        value = app.screen.query_one("#value")
        value.value = "4"
        await pilot.press("enter")
        await settle(pilot)
        s = app.session
        assert s.at_end
        np.testing.assert_allclose(s.tape.values["f"], -36.0)
        np.testing.assert_allclose(s.tape.grads["z"], 9.0)


@run_async
async def test_edit_rejects_bad_value():
    app = make_app("add-mul")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "e")
        app.screen.query_one("#value").value = "[1, 2"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "EditInput"
        assert "number" in text_of(app.screen.query_one("#error"))
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "GraphScreen"


@run_async
async def test_select_node_and_tab_between_panels():
    app = make_app("gate-patterns")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f")
        graph = app.screen.query_one("#graph")
        assert app.focused is graph
        await press(pilot, "up", "up", "up")             # p (shown last) -> w -> z -> y
        assert graph.selected == "y" and app.screen.selected == "y"
        await press(pilot, "down")
        assert graph.selected == "z"
        text = text_of(app.screen.query_one("#gate"))
        assert "feeds m" in text
        await press(pilot, "tab")
        assert app.focused is not graph


@run_async
async def test_step_list_enter_jumps():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        steps = app.screen.query_one("#steps")
        steps.focus()
        await press(pilot, "down", "down", "down", "enter")
        assert steps.highlighted == 2 and app.session.current.index == 2


@run_async
async def test_help_lists_every_key_and_quits():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        keys = dict(app.key_list())
        await press(pilot, "question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        for key in ("n/right", "b/left", "f", "r", "e", "q", "?", "s", "g", "tab", "up/k"):
            assert key in keys
        await press(pilot, "escape")
        assert app.screen.__class__.__name__ == "GraphScreen"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


@run_async
async def test_command_palette_offers_every_action():
    app = make_app("add-mul")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Step", "Back", "Finish pass", "Restart", "Edit input", "Help"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Finish pass":
            await pilot.press(ch if ch != " " else "space")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.tick == 2 and app.session.phase == "forward"
