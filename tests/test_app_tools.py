"""The debugger's tools in the app: per-node gradient check, exports, time travel, and
the snapshot command writing what the app shows."""

import json

import numpy as np
from typer.testing import CliRunner

from tuinn.cli import app as cli
from ui_helpers import make_app, press, run_async, settle


@run_async
async def test_gradcheck_key_on_a_graph_node():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f", "up", "G")          # from mul1 (shown last) up to w2
        msg = app.screen.message
        assert msg.startswith("gradient check w2: ok, worst |a - n| is ") and "1e-4·|n|" in msg


@run_async
async def test_gradcheck_key_on_a_parameter():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "down", "down", "G")         # loss -> input x -> dense1.W
        assert app.screen.selected == "dense1.W"
        assert "gradient check dense1.W: ok, worst |a - n| is " in app.screen.message
        assert app.session.tick == 0


@run_async
async def test_export_tensor_and_trace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app("matrix")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f", "up", "up", "o")   # matmul1 -> b -> W
        app.screen.query_one("#path").value = "W.csv"
        await pilot.press("enter")
        await settle(pilot)
        rows = np.loadtxt(tmp_path / "W.csv", delimiter=",")
        np.testing.assert_allclose(rows, [[0.1, 0.5, -0.3], [0.8, -0.2, 0.4]])
        await press(pilot, "o")
        from textual.widgets import Select
        app.screen.query_one("#what", Select).value = "gradient"
        app.screen.query_one("#path").value = "dW.npy"
        await pilot.press("enter")
        await settle(pilot)
        np.testing.assert_allclose(np.load(tmp_path / "dW.npy"), [[1.2, 0.13333333, 0], [2.4, 0.26666667, 0]],
                                   atol=1e-6)
        await press(pilot, "O")
        await pilot.press("enter")
        await settle(pilot)
        events = [json.loads(x) for x in (tmp_path / "matrix-trace.jsonl").read_text().splitlines()]
        assert events[-1]["event"] == "graph" and len(events) == 2 * 5 + 1
        assert app.session.at_end                       # the export left the cursor where it was


@run_async
async def test_time_travel_back_across_iterations():
    app = make_app("xor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "i", "i", "i")
        prog = app.session.program
        assert prog.iteration == 3
        snap = {k: v.copy() for k, v in prog.params().items()}
        await press(pilot, "J")
        app.screen.query_one("#number").value = "1"
        await pilot.press("enter")
        await settle(pilot)
        assert prog.iteration == 1
        await press(pilot, "J")
        app.screen.query_one("#number").value = "3"
        await pilot.press("enter")
        await settle(pilot)
        for k, v in prog.params().items():
            np.testing.assert_array_equal(v, snap[k])
        await press(pilot, "b")                          # back into the end of iteration 2
        assert prog.iteration == 2 and app.session.at_end


def test_snapshot_command_writes_what_the_app_shows(tmp_path):
    from tuinn.tui.headless import snapshot
    out = tmp_path / "s.svg"
    r = CliRunner().invoke(cli, ["snapshot", "add-mul", "--keys", "n n n", "--size", "80x24",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    expected = snapshot(make_app("add-mul"), ["n", "n", "n"], (80, 24))
    assert out.read_text() == expected
    txt = tmp_path / "s.txt"
    r = CliRunner().invoke(cli, ["snapshot", "add-mul", "--keys", "f", "--size", "80x24",
                                 "--out", str(txt)])
    lines = txt.read_text().splitlines()
    assert len(lines) == 24 and "forward" in lines[0] and "step 2/4" in lines[0]
    r = CliRunner().invoke(cli, ["snapshot", "add-mul", "--keys", "n bogus", "--out", str(out)])
    assert r.exit_code == 2 and "unknown key 'bogus'" in r.output
    r = CliRunner().invoke(cli, ["snapshot", "add-mul", "--size", "big", "--out", str(out)])
    assert r.exit_code == 2 and "120x40" in r.output


@run_async
async def test_first_frame_before_the_build_and_build_errors_exit_2(tmp_path):
    from test_cli import ENGINE_BAD
    from tuinn.scenario.loader import load_scenario
    from tuinn.tui.app import TuinnApp
    path = tmp_path / "bad.toml"
    path.write_text(ENGINE_BAD["params_wrong_shape.toml"])
    app = TuinnApp(load_scenario(path))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.build_error is not None:
                break
    assert app.build_error is not None and "dense1.W" in str(app.build_error)
    assert app.return_code == 2
    good = TuinnApp(load_scenario("scenarios/xor.toml"))
    async with good.run_test(size=(80, 24)) as pilot:
        assert good.screen.__class__.__name__ in ("LoadingScreen", "NetworkScreen")
        await settle(pilot)
        assert good.screen.__class__.__name__ == "NetworkScreen" and good.session is not None


@run_async
async def test_loss_plot_log_scale_is_automatic_and_toggles():
    app = make_app("lr-too-large")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "c")
        panel = app.screen.query_one("#loss")
        assert panel.wide and panel.log_scale             # the divergence spans 300 decades
        await press(pilot, "l")
        assert not panel.log_scale and "(log)" not in panel.border_title
        await press(pilot, "l")
        assert panel.log_scale and "(log)" in panel.border_title
