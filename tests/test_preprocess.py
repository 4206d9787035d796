"""[data] preprocess: statistics from the training split only, applied to the validation
split and the queries; pca and whiten give a diagonal / identity covariance on the
training split; nonsense orders are refused with the key and its line."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine.build import build_session
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text
from tuinn.scenario.preprocess import fit, order_problem


def scaled(rng, n=200, d=3):
    """Correlated features on very different scales, far from the origin."""
    z = rng.normal(size=(n, d))
    mix = np.array([[900.0, 0, 0], [3.0, 0.02, 0], [0.5, 0.01, 4.0]])[:d, :d]
    return z @ mix + np.array([5000.0, -3.0, 0.25])[:d]


def cov(h):
    h = h - h.mean(axis=0)
    return h.T @ h / len(h)


def test_standardize_matches_numpy_and_uses_the_training_split_only():
    rng = np.random.default_rng(0)
    train, val = scaled(rng), scaled(rng, 50) * 1.5
    prep = fit(train, ["center", "standardize"])
    mu, sd = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(prep.apply(train), (train - mu) / sd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prep.apply(val), (val - mu) / sd, rtol=1e-12, atol=1e-12)
    assert np.abs(prep.apply(val).mean(axis=0)).max() > 0.1     # not its own statistics
    np.testing.assert_allclose(fit(train, ["center"]).apply(val), val - mu, rtol=1e-12)


@pytest.mark.parametrize("steps", [["pca"], ["center", "pca"], ["standardize", "pca"]])
def test_pca_decorrelates_the_training_split(steps):
    train = scaled(np.random.default_rng(1))
    h = fit(train, steps).apply(train)
    c = cov(h)
    off = c - np.diag(np.diag(c))
    assert np.abs(off).max() < 1e-9 * np.abs(c).max()
    assert np.all(np.diff(np.diag(c)) <= 1e-9)                   # largest variance first
    assert np.abs(h.mean(axis=0)).max() < 1e-9 * np.abs(h).max()


@pytest.mark.parametrize("steps", [["whiten"], ["pca", "whiten"], ["center", "pca", "whiten"],
                                   ["standardize", "pca", "whiten"]])
def test_whiten_gives_the_identity_covariance_on_the_training_split(steps):
    rng = np.random.default_rng(2)
    train, val = scaled(rng), scaled(rng, 40)
    prep = fit(train, steps)
    np.testing.assert_allclose(cov(prep.apply(train)), np.eye(3), atol=1e-9)
    # the validation split: the same linear map, with the training split's numbers
    w = prep.basis / prep.divide if prep.scale is None else (
        prep.basis / prep.divide) / prep.scale[:, None]
    np.testing.assert_allclose(prep.apply(val), (val - prep.mean) @ w, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("steps", [["center"], ["standardize"], ["pca"], ["standardize", "whiten"]])
def test_invert_undoes_apply(steps):
    rng = np.random.default_rng(5)
    train, val = scaled(rng), scaled(rng, 10)
    prep = fit(train, steps)
    np.testing.assert_allclose(prep.invert(prep.apply(val)), val, rtol=1e-9, atol=1e-9)


def test_a_flat_feature_stays_finite():
    x = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    for steps in (["standardize"], ["whiten"]):
        assert np.isfinite(fit(x, steps).apply(x)).all()


def test_samples_keep_their_shape():
    x = np.random.default_rng(3).normal(size=(20, 2, 3))
    out = fit(x, ["standardize"]).apply(x)
    assert out.shape == x.shape and abs(out.reshape(20, -1).std(axis=0) - 1).max() < 1e-12


@pytest.mark.parametrize("steps,words", [
    (["pca", "center"], "'center' after 'pca'"),
    (["whiten", "pca"], "'pca' after 'whiten'"),
    (["standardize", "standardize"], "twice"),
    (["center", "whiten", "standardize"], "'standardize' after 'whiten'"),
])
def test_nonsense_orders_are_refused(steps, words):
    assert words in order_problem(steps)[0]
    with pytest.raises(TuinnError, match=words):
        fit(np.zeros((3, 2)), steps)


NET = """
[scenario]
name = "t"
kind = "network"
[data]
x = {x}
y = {y}
validation = 0.25
preprocess = {steps}
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 2
"""


def test_network_validation_split_uses_the_training_statistics():
    rng = np.random.default_rng(4)
    x = scaled(rng, 40, 2)
    y = rng.integers(0, 2, 40)
    text = NET.format(x=x.tolist(), y=y.tolist(), steps='["standardize"]')
    prog = build_session(load_text(text, "t.toml")).program
    train = prog.raw_x                                    # the raw splits, recovered:
    mask = np.array([any(np.array_equal(r, t) for t in train) for r in x])
    raw_val = x[~mask]
    mu, sd = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(prog.x, (train - mu) / sd, rtol=1e-12)
    np.testing.assert_allclose(prog.x_val, (raw_val - mu) / sd, rtol=1e-12)
    assert len(prog.x_val) == 10


@pytest.mark.parametrize("steps,key,words", [
    ('["pca", "center"]', "data.preprocess", "'center' after 'pca'"),
    ('["standardise"]', "data.preprocess.0", "did you mean 'standardize'"),
    ('"center"', "data.preprocess", "expected an array"),
])
def test_bad_preprocess_names_the_key_and_line(steps, key, words):
    text = NET.format(x=[[0.0, 1.0], [1.0, 0.0]], y=[0, 1], steps=steps)
    with pytest.raises(TuinnError) as exc:
        load_text(text, "t.toml")
    err = exc.value
    assert err.key == key and err.line == 9 and words in str(err)


def test_knn_queries_are_transformed_with_the_training_statistics():
    text = """
[scenario]
name = "t"
kind = "knn"
[data]
x = [[1000.0, 0.1], [3000.0, 0.3], [2000.0, 0.2], [4000.0, 0.1]]
y = [0, 1, 0, 1]
preprocess = ["standardize"]
[knn]
k = 1
queries = [[2500.0, 0.2]]
"""
    prog = build_session(load_text(text, "t.toml")).program
    train = np.array([[1000.0, 0.1], [3000.0, 0.3], [2000.0, 0.2], [4000.0, 0.1]])
    mu, sd = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(prog.queries[0].at, (np.array([2500.0, 0.2]) - mu) / sd)
    assert prog.queries[0].point.tolist() == [2500.0, 0.2]       # the trace shows it as given


def test_the_bundled_twins_differ_only_in_preprocess():
    a = (SCENARIOS / "preprocess.toml").read_text()
    b = (SCENARIOS / "preprocess-none.toml").read_text()
    strip = lambda t: t[t.index("\n[data]\n"):].replace('preprocess = ["standardize"]\n', "")
    assert strip(a) == strip(b) and 'preprocess = ["standardize"]' in a


def test_check_shows_before_and_after():
    r = CliRunner().invoke(app, ["check", str(SCENARIOS / "preprocess.toml")])
    assert r.exit_code == 0
    assert "mean before" in r.stdout and "std after" in r.stdout and "standardize:" in r.stdout


def test_the_bundled_pair_teaches_what_its_descriptions_say(scenario):
    """preprocess learns (mean loss 0.53 -> ~0.11, 90% validation); preprocess-none
    starts at ~866 and sits at ln 2 with 42% validation accuracy."""
    from tuinn.engine.run.training import train
    _, s = scenario("preprocess")
    runs = list(train(s))
    assert runs[0].loss == pytest.approx(0.53, abs=0.01)
    assert runs[-1].loss < 0.13 and runs[-1].val_accuracy >= 0.9
    _, s = scenario("preprocess-none")
    runs = list(train(s))
    assert runs[0].loss == pytest.approx(866, rel=0.01)
    assert runs[-1].loss == pytest.approx(np.log(2), abs=0.002)
    assert runs[-1].val_accuracy == pytest.approx(0.425)
