"""Pilot key-press tests of the graph screen (everything by keyboard)."""

import numpy as np
import pytest

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


# ---- issue 10: the whole circuit on screen at 80x24 and 120x40 ----------------------------

def bundled_graphs() -> list[str]:
    import tomllib

    from conftest import SCENARIOS
    return sorted(p.stem for p in SCENARIOS.glob("*.toml")
                  if tomllib.loads(p.read_text())["scenario"].get("kind") == "graph")


def screen_text(app) -> str:
    from tuinn.tui.headless import svg_to_text
    w, h = app.size
    return svg_to_text(app.export_screenshot(), w, h)


def graph_panel_text(app) -> str:
    """The rows of the screen that the graph panel covers, inside its border."""
    graph = app.screen.query_one("#graph")
    region = graph.content_region
    rows = screen_text(app).split("\n")
    return "\n".join(row[region.x:region.right] for row in rows[region.y:region.bottom])


def test_every_bundled_graph_is_tested():
    assert {"add-mul", "branch", "gate-patterns", "matrix", "sigmoid-gate",
            "sigmoid-neuron"} <= set(bundled_graphs())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", bundled_graphs())
def test_whole_graph_on_screen_after_each_pass(name, size):
    """Every input, the output and the current gate show without scrolling, after the
    forward pass and after the backward pass; the current gate is highlighted."""
    from tuinn.tui.render.circuit_fit import FitCircuit

    @run_async
    async def go():
        app = make_app(name)
        async with app.run_test(size=size) as pilot:
            prog = app.session.program
            for keys in (("f",), ("f",)):
                await press(pilot, *keys)
                graph = app.screen.query_one("#graph")
                width, height = graph.diagram.size()
                view_w, view_h = graph.content_region.size
                assert isinstance(graph.source, FitCircuit) and graph.fit
                assert width <= view_w and height <= view_h, graph.diagram.layout
                assert graph.scroll_offset == (0, 0)
                text = graph_panel_text(app)
                words = set(text.replace("▶", " ").replace("─", " ").split())
                for name_ in list(prog.inputs) + [prog.output]:
                    assert name_ in words, (name_, text)
                current = app.session.current.node
                x, y, w, h = graph.diagram.node_box(current)
                row = text.split("\n")[y + h // 2]
                assert prog.label(current) in row[x:x + w]
                assert "┃" in row[x:x + w] or "━" in text.split("\n")[y][x:x + w]
    go()


@run_async
async def test_gate_arithmetic_visible_at_80x24():
    """The inspector's `upstream × local = downstream` rows show at 80x24 (issue 10, item 5)."""
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f", "f")                     # at mul1's backward step
        text = screen_text(app)
        assert "upstream × local = downstream" in text
        assert "∇ 0.1966 × -1 = ∇ -0.1966" in text and "∇ 0.1966 × 2 = ∇ 0.3932" in text
        assert "mul1 = w0 * x0 = -2" in text


@run_async
async def test_z_toggles_fit_and_full_size():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f")
        graph = app.screen.query_one("#graph")
        fitted = graph.diagram
        assert fitted.size()[0] <= graph.content_region.width
        assert "z full size" in str(graph.border_subtitle)
        await press(pilot, "z")
        assert not graph.fit and graph.diagram.layout == "full size"
        assert graph.diagram.size()[0] > graph.content_region.width      # it scrolls
        assert graph.scroll_offset.x > 0                # to the current gate, at the far right
        assert "z fit" in str(graph.border_subtitle)
        await press(pilot, "n")                          # stays full size while stepping
        assert not graph.fit and graph.diagram.layout == "full size"
        await press(pilot, "z")
        assert graph.fit and graph.diagram.size() == fitted.size()
        assert any(k == "z" and "full size" in d for k, d in app.key_list())     # in the help


@run_async
async def test_fit_follows_a_resize():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f")
        graph = app.screen.query_one("#graph")
        big = graph.diagram.layout
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert graph.diagram.layout != big
        assert graph.diagram.size()[0] <= graph.content_region.width
        assert graph.diagram.size()[1] <= graph.content_region.height


@run_async
async def test_header_shows_the_recomputed_output_after_an_edit():
    """Edit an input before the output is computed: the header gives the new output (at
    the end of the pass), not `f = ?`; once the cursor computes it, the plain value."""
    app = make_app("add-mul")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "e")
        app.screen.query_one("#value").value = "4"
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.tick == 0
        status = text_of(app.screen.query_one("StatusBar"))
        assert "f = -36 at the end" in status and "f = ?" not in status
        await press(pilot, "f")
        status = text_of(app.screen.query_one("StatusBar"))
        assert "f = -36" in status and "at the end" not in status


@pytest.mark.parametrize("name", ["sigmoid-neuron", "matrix"])
def test_the_picture_stays_put_while_stepping(name):
    """Room is kept for the numbers of the whole pass: every step, forward and backward,
    has the same layout with every node in the same place (80x24)."""
    @run_async
    async def go():
        app = make_app(name)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            graph = app.screen.query_one("#graph")
            seen = set()
            for _ in range(app.session.total):
                await press(pilot, "n")
                d = graph.diagram
                seen.add((d.layout, d.size(), tuple(d.node_box(n) for n in graph.order)))
            assert len(seen) == 1, seen
    go()


USER_CIRCUIT = '''
[scenario]
name = "A user's circuit"
kind = "graph"
description = "Twelve gates, four inputs."

[graph]
inputs = { x = 0.5, w = 1.5, b = -0.2, a = 0.3 }
expr = """
h = tanh(w*x + b)
g = exp(-x) * h
f = log(1 + g*g) / (1 + (x - a)**2)
"""
output = "f"
'''


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_users_circuit_of_twelve_gates_fits(tmp_path, size):
    from tuinn.engine.build import open_session
    from tuinn.tui.app import TuinnApp
    path = tmp_path / "user.toml"
    path.write_text(USER_CIRCUIT)

    @run_async
    async def go():
        spec, session = open_session(str(path))
        app = TuinnApp(spec, session)
        async with app.run_test(size=size) as pilot:
            assert len(session.program.spec.gates) >= 12
            for _ in range(2):
                await press(pilot, "f")
                graph = app.screen.query_one("#graph")
                assert graph.diagram.layout != "too large to fit: scrolls"
                assert graph.diagram.size()[0] <= graph.content_region.width
                assert graph.diagram.size()[1] <= graph.content_region.height
                words = set(graph_panel_text(app).replace("─", " ").replace("▶", " ").split())
                assert {"x", "w", "b", "a", "f"} <= words
    go()


@run_async
async def test_fits_beside_the_step_list_at_80x24():
    """`L` shows the step list at 80x24: the graph panel narrows to 44 columns and the
    picture is laid out again for it (bands, fewer labels), still whole."""
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f", "f", "L")
        graph = app.screen.query_one("#graph")
        assert graph.content_region.width < 60
        assert graph.diagram.size()[0] <= graph.content_region.width
        assert graph.diagram.size()[1] <= graph.content_region.height
        words = set(graph_panel_text(app).replace("─", " ").replace("▶", " ").split())
        assert {"w0", "x0", "w1", "x1", "w2", "f"} <= words
