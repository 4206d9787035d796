"""Breakpoints and watches in the app: from [debug], added with a key and a dialog,
toggled and removed in the panel, checked by run mode and by continue."""

from ui_helpers import make_app, press, run_async, settle, text_of


def panel_text(panel) -> str:
    return "\n".join(str(panel.get_option_at_index(i).prompt) for i in range(panel.option_count))


async def type_and_enter(pilot, text: str) -> None:
    pilot.app.screen.query_one("#text").value = text
    await pilot.press("enter")
    await settle(pilot)


@run_async
async def test_nan_breakpoint_from_the_scenario_stops_run_mode_and_says_why():
    app = make_app("lr-too-large")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "c")
        s = app.session
        assert s.current.node == "loss" and s.nonfinite() is not None
        status = text_of(app.screen.query_one("StatusBar"))
        assert "breakpoint:" in status and ("Inf" in status or "NaN" in status)
        panel = panel_text(app.screen.query_one("#debug"))
        assert "● nan" in panel and "hits 1" in panel


@run_async
async def test_add_breakpoint_and_watch_with_dialogs():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "B")
        await type_and_enter(pilot, "loss <<< 1")                      # malformed: stays open
        assert app.screen.__class__.__name__ == "AskText"
        assert "expected" in text_of(app.screen.query_one("#error"))
        await type_and_enter(pilot, "iteration == 3")
        await press(pilot, "W")
        await type_and_enter(pilot, "norm(dense1.W.grad)")
        panel = panel_text(app.screen.query_one("#debug"))
        assert "iteration == 3" in panel and "norm(dense1.W.grad)  not yet" in panel
        await press(pilot, "c")
        s = app.session
        assert s.iteration == 3 and "iteration" in app.screen.message
        await press(pilot, "f", "f")                                       # through backward
        panel = panel_text(app.screen.query_one("#debug"))
        assert "norm(dense1.W.grad)  not yet" not in panel


@run_async
async def test_toggle_and_remove_in_the_panel():
    app = make_app("lr-too-large")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.screen.query_one("#debug")
        panel.focus()
        await press(pilot, "down", "space")
        assert not app.session.breakpoints[0].enabled
        assert "○ nan" in panel_text(panel)
        await press(pilot, "x")
        assert len(app.session.breakpoints) == 0


@run_async
async def test_continue_in_a_graph_stops_at_a_step_breakpoint():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "B")
        await type_and_enter(pilot, "step backward exp1")
        await press(pilot, "c")
        assert app.session.current.node == "exp1" and app.session.current.phase == "backward"
        await press(pilot, "c")                                            # no more: the end
        assert app.session.at_end
