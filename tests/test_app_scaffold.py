"""The screen scaffold every scenario shares: the footer always shows ? Help and q Quit,
the header and dialogs are never cut, `L` shows the step list at any size, `/` finds
anything by name, `-`/`+` set run mode's speed, keys typed into a dialog at once are
kept, and a cold start says the kernels are compiling."""

import threading
import time

import pytest
from textual import events

from tuinn.tui.headless import svg_to_text
from ui_helpers import make_app, press, run_async, settle, text_of


def screen_text(app) -> str:
    w, h = app.size
    return svg_to_text(app.export_screenshot(), w, h)


def type_at_once(app, *keys: str) -> None:
    """Post keys as a terminal delivers a burst of typing: all before any is handled."""
    for key in keys:
        char = {"enter": "\r", "slash": "/"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, char))


# ------------------------------------------------------------------ footer, header, help
@pytest.mark.parametrize("name", ["sigmoid-neuron", "spiral", "lstm", "cnn-bars"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@run_async
async def test_footer_always_shows_help_and_quit(name, size):
    app = make_app(name)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer
        assert "n/→ Step" in footer, footer
        await press(pilot, "L")                       # another panel focused: still there
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer


@run_async
async def test_footer_shows_the_focused_panels_keys_first():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "L")                       # opens and focuses the step list
        footer = screen_text(app).splitlines()[-1]
        assert footer.lstrip().startswith("⏎ Run to step"), footer


@run_async
async def test_footer_offers_run_or_pause_as_fits_the_moment():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.controller.speed = 2                # slow enough to look while it runs
        footer = screen_text(app).splitlines()[-1]
        assert "c Run" in footer and "Pause" not in footer, footer
        await pilot.press("c")
        for _ in range(5):
            await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "p Pause" in footer and "c Run" not in footer, footer
        assert "-/+ Speed" in footer and "n/→ Step" not in footer, footer    # what works now
        await pilot.press("p")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "c Run" in footer and "Pause" not in footer, footer
        assert "paused at iteration" in text_of(app.screen.query_one("StatusBar"))


def test_status_line_drops_low_priority_parts_never_the_essentials():
    from tuinn.tui.widgets.status import status_line
    name = "Spiral: a softmax classifier learns"
    extras = ("iteration 120", "20 it/s", "epoch 30", "history 200/200 3 KB")
    wide = status_line(200, name, "forward", 3, 12, "loss = 1.1942", extras).plain
    assert wide.startswith("tuinn " + name) and wide.endswith("history 200/200 3 KB")
    for width in (78, 60, 44, 36):
        line = status_line(width, name, "forward", 3, 12, "loss = 1.1942", extras).plain
        assert len(line) <= width
        assert " forward " in line and "step 3/12" in line and "loss = 1.1942" in line
        assert not line.endswith("…")                 # a whole part, or none of it
    line = status_line(78, name, "forward", 3, 12, "loss = 1.1942", extras).plain
    assert "iteration 120" in line and "20 it/s" in line and "history" not in line


@run_async
async def test_header_at_80_columns_shows_iteration_and_speed_uncut():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = screen_text(app).splitlines()[0]
        assert "step 0/12" in header and "iteration 0" in header, header
        assert "it/s" in header or "full speed" in header, header
        assert not header.rstrip().endswith("…")


def test_help_lists_keys_as_a_user_types_them():
    from tuinn.tui.app import key_name
    assert [key_name(k) for k in ("comma", "full_stop", "question_mark", "slash", "minus",
                                  "equals_sign", "plus", "right", "shift+left", "L")] == \
        [",", ".", "?", "/", "-", "=", "+", "right", "shift+left", "L"]


def test_snapshot_keys_accept_the_scaffold_keys():
    from tuinn.errors import TuinnError
    from tuinn.tui.headless import check_keys
    check_keys(["slash", "minus", "plus", "equals_sign", "L", "question_mark"])
    with pytest.raises(TuinnError):
        check_keys(["slahs"])


@run_async
async def test_help_screen_shows_typed_key_names():
    app = make_app("cnn-bars")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        keys = dict(app.key_list(app.screen))
        assert keys.get("?") == "Help" and "," in keys and "." in keys
        assert "/" in keys and "L" in keys and "-" in keys and "+/=" in keys
        assert not any(name in k for k in keys for name in ("comma", "full_stop", "question_mark"))


# ------------------------------------------------------------------ dialogs
@run_async
async def test_dialog_text_is_never_cut_at_80x24():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "J")
        text = screen_text(app)
        assert "jump to iteration (0..6000)" in text and "Escape cancels" in text
        await press(pilot, "escape", "B")
        text = " ".join(screen_text(app).split())          # the examples wrap over lines
        assert "(Enter adds, Escape cancels)" in text
        assert "iteration == 100 · step dense2" in text.replace("│ │", "")


@run_async
async def test_keys_typed_at_once_go_into_the_dialog():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "J", "3", "1", "0", "0", "enter")
        await settle(pilot)
        assert app.session.iteration == 3100
        assert app.screen.__class__.__name__ == "NetworkScreen"


@run_async
async def test_keys_typed_at_once_into_the_edit_dialog():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = next(iter(app.session.program.inputs))
        type_at_once(app, "e", "7", ".", "5", "enter")
        await settle(pilot)
        assert float(app.session.program.inputs[first]) == 7.5
        assert app.screen.__class__.__name__ == "GraphScreen"


@run_async
async def test_keys_typed_while_loading_reach_the_dialog_they_open(monkeypatch):
    import tuinn.engine.build as build
    from conftest import SCENARIOS
    from tuinn.scenario.loader import load_scenario
    from tuinn.tui.app import TuinnApp
    release, real = threading.Event(), build.build_session
    monkeypatch.setattr(build, "build_session", lambda spec: (release.wait(30), real(spec))[1])
    app = TuinnApp(load_scenario(str(SCENARIOS / "spiral.toml")))     # builds on a thread
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.__class__.__name__ == "LoadingScreen"
        for key in ("J", "4", "2", "enter"):
            await pilot.press(key)
        release.set()
        await settle(pilot, 120)
        assert app.session.iteration == 42


@run_async
async def test_the_build_behind_the_first_frame_compiles_nothing(monkeypatch):
    """The app builds its program with uncompiled kernels allowed: a kernel the build
    calls (the epoch's shuffle) runs as Python if it has no compiled code, instead of
    compiling on an empty cache before the screen can show anything (the warm-up
    compiles behind); the shuffle is the same either way (tests/test_uncompiled.py)."""
    import tuinn.engine.build as build
    from conftest import SCENARIOS
    from tuinn.engine import jit
    from tuinn.scenario.loader import load_scenario
    from tuinn.tui.app import TuinnApp
    seen, real = [], build.build_session
    monkeypatch.setattr(build, "build_session",
                        lambda spec: (seen.append(jit.is_uncompiled()), real(spec))[1])
    app = TuinnApp(load_scenario(str(SCENARIOS / "lstm.toml")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 120)
        assert seen == [True] and app.screen.__class__.__name__ == "NetworkScreen"
    assert not jit.is_uncompiled()                 # the warm-up's switch, off again


# ------------------------------------------------------------------ step list toggle
@pytest.mark.parametrize("size, shown", [((80, 24), False), ((120, 40), True)])
@run_async
async def test_L_toggles_the_step_list_at_any_size(size, shown):
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        steps = app.screen.query_one("#steps")

        def visible() -> bool:
            return steps.region.width > 0 and "fwd mul1" in screen_text(app)
        assert visible() is shown
        await press(pilot, "L")
        assert visible() is not shown
        if not shown:
            assert app.screen.focused is steps
            await press(pilot, "down", "down", "enter")     # Enter in the list runs to it
            assert app.session.tick == 2                    # the second step
        await press(pilot, "L")
        assert visible() is shown
        if not shown:
            assert app.screen.focused.id == "graph"        # the keys go to the panel again


# ------------------------------------------------------------------ finder
@run_async
async def test_finder_selects_a_parameter_of_a_network():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "slash")
        assert app.screen.__class__.__name__ == "Finder"
        await press(pilot, "d", "2", "b")
        first = app.screen.shown[0]
        assert first.name == "dense2.b"
        await press(pilot, "enter")
        assert app.screen.__class__.__name__ == "NetworkScreen"
        assert app.screen.last_frame["follow"] == "dense2.b"
        assert "dense2.b" in text_of(app.screen.query_one("#inspector"), 80) or \
            "dense2.b" in screen_text(app)


@run_async
async def test_finder_takes_what_is_typed_at_once():
    app = make_app("spiral")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "slash", "d", "2", "b", "enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "NetworkScreen"
        assert app.screen.last_frame["follow"] == "dense2.b"
        assert app.session.tick == 0                    # `b` went to the finder, not "back"


@run_async
async def test_a_burst_of_step_keys_runs_in_order():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "n", "n", "n", "b", "e", "9", "enter", "n")
        await settle(pilot)
        assert app.session.tick == 3                    # 3 on, 1 back, edit, 1 on
        edited = [n for n, v in app.session.program.inputs.items() if float(v) == 9.0]
        assert len(edited) == 1                         # "9⏎" went into the dialog


@run_async
async def test_finder_moves_with_arrows_and_escape_closes():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "slash")
        names = [it.name for it in app.screen.shown]
        assert names[:5] == list(app.session.program.inputs)          # every input
        assert "mul1" in names and "f" in names                       # and every gate
        await press(pilot, "m", "u", "l", "down", "enter")
        assert app.screen.last_frame["follow"] == "mul2"
        await press(pilot, "slash", "x", "y", "z", "q")
        assert "no name matches" in screen_text(app)
        await press(pilot, "enter")                   # nothing to pick: stays open
        assert app.screen.__class__.__name__ == "Finder"
        await press(pilot, "escape")
        assert app.screen.__class__.__name__ == "GraphScreen"
        assert app.screen.last_frame["follow"] == "mul2"


def test_find_items_cover_layers_parameters_tensors_and_view_arrays(scenario):
    from tuinn.tui.screens.finder import find_items
    _, session = scenario("lstm")
    items = {it.name: it for it in find_items(session)}
    assert {"input", "lstm1", "lstm1.grad", "lstm1.Wx", "lstm1.Wh", "lstm1.b", "dense1",
            "dense1.W", "dense1.b", "loss"} <= set(items)
    assert items["lstm1.grad"].target == "lstm1" and items["dense1.W"].target == "dense1.W"
    assert {"lstm1.f", "lstm1.c", "lstm1.dh"} <= set(items) and items["lstm1.f"].target == "lstm1"
    _, session = scenario("transformer-chars")          # attention weights by name
    items = {it.name: it for it in find_items(session)}
    attn = next(n for n in items if n.endswith(".A"))
    assert items[attn].target == attn[:-2] and "view" in items[attn].kind
    _, session = scenario("batchnorm-deep-sigmoid")     # running statistics by name
    items = {it.name: it for it in find_items(session)}
    assert any(n.endswith(".running_mean") and it.kind.startswith("running")
               for n, it in items.items())


# ------------------------------------------------------------------ speed
@run_async
async def test_speed_keys_step_through_the_speeds_and_show_in_the_status():
    from tuinn.tui.screens.scaffold import SPEEDS
    app = make_app("spiral")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        ctl = app.screen.controller
        assert ctl.speed == app.spec.debug.speed and ctl.speed in SPEEDS
        start = SPEEDS.index(ctl.speed)
        await press(pilot, "minus")
        assert ctl.speed == SPEEDS[start - 1]
        assert f"{SPEEDS[start - 1]} it/s" in text_of(app.screen.query_one("StatusBar"))
        await press(pilot, *["plus"] * 20)
        assert ctl.speed is None
        assert "full speed" in text_of(app.screen.query_one("StatusBar"))
        await press(pilot, *["minus"] * 20)
        assert ctl.speed == 1
        await press(pilot, "equals_sign")
        assert ctl.speed == 2


@run_async
async def test_graph_screens_have_no_speed_key():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "minus")
        assert "it/s" not in screen_text(app) and "Speed" not in screen_text(app)


def test_run_mode_keeps_the_speed_and_pauses_at_once(scenario):
    from tuinn.engine.run.controller import Controller
    _, session = scenario("xor")
    events_seen = []
    ctl = Controller(session, events_seen.append)
    ctl.speed = 20
    start = time.monotonic()
    ctl.run()
    time.sleep(1.0)
    ctl.pause()
    assert ctl.wait_idle(5)
    paused_after = time.monotonic() - start
    done = session.program.iteration
    assert 12 <= done <= 24, done                   # 20 a second for about a second
    assert paused_after < 1.5                       # pause wakes the throttle at once
    ctl.speed = 1                                   # slowest: still pause-able at once
    ctl.run()
    time.sleep(0.2)
    t0 = time.monotonic()
    ctl.pause()
    assert ctl.wait_idle(5) and time.monotonic() - t0 < 0.5
    ctl.speed = None                                # full speed: many more
    ctl.run()
    time.sleep(0.5)
    ctl.pause()
    assert ctl.wait_idle(5)
    assert session.program.iteration - done > 100
    reports = [e for e in events_seen if getattr(e, "running", False)]
    assert len(reports) <= 40                       # at most ~20 reports a second
    ctl.stop()


def test_scenario_speed_key():
    from conftest import SCENARIOS
    from tuinn.errors import TuinnError
    from tuinn.scenario.loader import load_text
    bundled = (SCENARIOS / "xor.toml").read_text()
    assert load_text(bundled, "x.toml").debug.speed == 50      # watchable from the start
    base = bundled[:bundled.index("[debug]")]
    assert load_text(base, "x.toml").debug.speed == 0          # not given: full speed
    text = base + "\n[debug]\nspeed = 30\n"
    assert load_text(text, "x.toml").debug.speed == 30
    with pytest.raises(TuinnError) as err:
        load_text(text.replace("speed = 30", "speed = -1"), "x.toml")
    assert err.value.key == "debug.speed"
    with pytest.raises(TuinnError) as err:
        load_text(text.replace("speed = 30", "sped = 30"), "x.toml")
    assert "speed" in (err.value.hint or "")


# ------------------------------------------------------------------ cold start
@run_async
async def test_cold_start_says_compiling_and_steps_at_once_meanwhile(monkeypatch):
    """While the kernels compile in the background, the status says so and a step key
    runs at once (uncompiled, tuinn/engine/warmup.py) instead of waiting."""
    import tuinn.engine.warmup as warmup
    release = threading.Event()
    compile_program = warmup.compile_program

    def slow_compile(spec, report, *args):
        report(0, 5, "forward dense1")
        release.wait(30)                              # the kernels take their time
        return compile_program(spec, report, *args)
    monkeypatch.setattr(warmup, "compile_program", slow_compile)
    app = make_app("sigmoid-neuron")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(20):
                await pilot.pause()
            status = text_of(app.screen.query_one("StatusBar"))
            assert " compiling " in status and "ready" not in status
            assert "compiling or loading kernels 0/5: forward dense1" in status
            await pilot.press("n")
            app.screen.controller.wait_idle()
            for _ in range(5):
                await pilot.pause()
            assert app.session.tick == 1 and not app.screen.ready      # stepped meanwhile
            status = text_of(app.screen.query_one("StatusBar"))
            assert "compiling or loading kernels 0/5: forward dense1" in status
            release.set()
            await settle(pilot)
            assert app.screen.ready and app.session.tick == 1
            status = text_of(app.screen.query_one("StatusBar"))
            assert "compiling" not in status
    finally:
        release.set()


def test_no_hard_coded_white_in_the_screens():
    """Bright white text vanishes on a light terminal background, and in 16 colours it
    is what a hard-coded white becomes: the screens use theme variables ($text,
    $text-muted) and plain bold/dim, never a fixed white."""
    import re
    from pathlib import Path

    import tuinn.tui
    root = Path(tuinn.tui.__file__).parent
    found = [f"{p.relative_to(root)}:{i}" for p in sorted(root.rglob("*"))
             if p.suffix in (".py", ".tcss")
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"\b(bright_white|white|#fff(fff)?)\b", line, re.I)
             and not line.lstrip().startswith(("#", "/*"))]
    assert found == []


@run_async
async def test_cold_start_run_key_says_it_waits_for_the_kernels(monkeypatch):
    """Run mode needs the compiled path: `c` during the warm-up waits for it, says so,
    and starts training once the kernels are compiled."""
    import tuinn.engine.warmup as warmup
    release = threading.Event()
    compile_program = warmup.compile_program
    monkeypatch.setattr(warmup, "compile_program",
                        lambda spec, *a: (release.wait(30), compile_program(spec, *a))[1])
    app = make_app("spiral")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(20):
                await pilot.pause()
            await pilot.press("c")
            await pilot.pause()
            status = text_of(app.screen.query_one("StatusBar"))
            assert "compiling or loading kernels" in status
            assert "run mode starts when compiled" in status
            time.sleep(0.3)
            assert app.session.program.iteration == 0              # waiting, not training
            release.set()
            deadline = time.monotonic() + 60
            while app.session.program.iteration == 0 and time.monotonic() < deadline:
                await pilot.pause()
            assert app.session.program.iteration > 0                # started once compiled
            app.screen.controller.pause()
            await settle(pilot)
            assert app.screen.ready and not app.screen.controller.running
    finally:
        release.set()

