"""`tuinn train` on a kind = "gan" scenario: per-epoch D and G losses as the app's
iterations make them, both curves, a NaN stopped where it appears, no --save."""

import json

import numpy as np
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine.build import build_session, open_session
from tuinn.engine.run.gan_training import train_gan
from tuinn.engine.run.training import NonFinite
from tuinn.scenario.loader import load_text

runner = CliRunner()
RING = str(SCENARIOS / "gan-ring.toml")


def test_json_epochs_are_the_means_of_the_apps_iterations():
    r = runner.invoke(app, ["train", RING, "--epochs", "3", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    _, s = open_session(RING)                         # the same iterations, one by one
    prog = s.program
    d, g = [], []
    for _ in range(3 * prog.per_epoch):
        it = prog.iteration
        d.append(prog.train_iteration())
        g.append(prog.g_losses[it])
    per = prog.per_epoch
    assert [row["iteration"] for row in rows] == [per, 2 * per, 3 * per]
    for e, row in enumerate(rows):
        assert row["event"] == "epoch" and row["epoch"] == e
        assert np.isclose(row["d_loss"], np.mean(d[e * per:(e + 1) * per]), rtol=1e-12)
        assert np.isclose(row["g_loss"], np.mean(g[e * per:(e + 1) * per]), rtol=1e-12)
        assert row["spread"] > 0 and 0 <= row["d_wins"] <= 1
    assert rows[-1]["spread"] == prog.spreads[3 * per - 1]


def test_text_output_has_the_table_and_both_curves():
    r = runner.invoke(app, ["train", RING, "--epochs", "4"])
    assert r.exit_code == 0, r.output
    assert "D loss" in r.output and "G loss" in r.output and "spread" in r.output
    assert "trained 4 epochs" in r.output


def test_save_is_refused_with_exit_2():
    r = runner.invoke(app, ["train", RING, "--epochs", "1", "--save", "never.npz"])
    assert r.exit_code == 2 and "--save" in r.output and "Traceback" not in r.output


def test_a_nan_stops_at_the_step_that_made_it():
    text = open(RING).read().replace("lr = 0.002", "lr = 1e200")
    s = build_session(load_text(text, RING))
    try:
        for _ in train_gan(s, 50):
            pass
    except NonFinite as bad:
        assert "NaN" in bad.where or "Inf" in bad.where
        assert s.nonfinite() is not None              # standing on that step
        assert bad.iteration == s.program.iteration
    else:
        raise AssertionError("lr = 1e200 trained 50 epochs without a NaN")
