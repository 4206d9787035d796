"""Tests of the bundled conv scenarios: they pass gradcheck, teach what their
descriptions say (short headless runs on their own seeds), and `tuinn check` shows
what parameter sharing saves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import SCENARIOS
from typer.testing import CliRunner

from tuinn.cli import app
from tuinn.engine.build import open_session
from tuinn.engine.conv_steps import receptive_field
from tuinn.engine.gradcheck import gradcheck
from tuinn.engine.run.training import accuracy, train
from tuinn.scenario.loader import load_scenario

CONV = ["conv-edge", "conv-stride-padding", "cnn-bars", "pool-max", "pool-avg",
        "conv-3x3-stack", "conv-5x5"]


def session(name: str):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def same_data(a, b) -> bool:
    """Two scenarios draw the same data set (where each file says it aside)."""
    da, db = (dataclasses.asdict(sp.network.data) for sp in (a, b))
    for d in (da, db):
        d.pop("line", None), d.pop("path", None)
    return a.info.seed == b.info.seed and da == db


def layers(s) -> dict:
    return {layer.name: layer for layer in s.program.layers}


@pytest.mark.parametrize("name", CONV)
def test_passes_gradcheck_with_small_images(name):
    spec = load_scenario(SCENARIOS / f"{name}.toml")
    assert spec.info.kind == "network"
    C, H, W = spec.network.input
    assert 6 <= H <= 8 and 6 <= W <= 8 and C in (1, 3)
    checks = gradcheck(spec)
    assert checks and all(c.ok for c in checks), [(c.name, c.worst) for c in checks]


@pytest.mark.parametrize("name", CONV)
def test_description_names_the_stepping_keys(name):
    desc = load_scenario(SCENARIOS / f"{name}.toml").info.description
    for key in ("n", "s", "b", "c", "p", "i", "w"):
        assert f"`{key}`" in desc, key
    assert any(layer.type in ("conv2d", "maxpool", "avgpool")
               for layer in session(name).program.layers)


def test_the_cnn_learns_bars():
    results = list(train(session("cnn-bars"), 4))
    assert results[0].accuracy < 0.8                 # it starts out guessing
    assert results[-1].accuracy > 0.9


def test_edge_kernels_are_hand_set_sobel_and_separate_the_classes_at_once():
    s = session("conv-edge")
    W = layers(s)["edges"].params["W"]
    sobel = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(W[0, 0], sobel)
    np.testing.assert_array_equal(W[1, 0], -sobel)
    s.goto(next(s.tick_of(st.index + 1) for st in s.steps if st.node == "maxpool1"))
    pooled = s.tape.values["maxpool1"][:, :, 0, 0]             # (N, 2)
    y = s.tape.extra["y"]
    strongest = pooled.max(axis=1)
    assert strongest[y == 1].min() > 3 > 1 > strongest[y == 0].max()   # vertical: an edge
    results = list(train(s, 2))
    # after two epochs the network gets every sample right (the lesson's claim); the
    # epoch's own accuracy is a running one, from the batches as they were trained
    assert accuracy(s.program, s.program.x, s.program.y) == 1.0
    assert len(results) == 2 and list(train(s, 1))[0].accuracy == 1.0   # the third epoch


def test_stride_and_padding_shapes_follow_the_formula():
    s = session("conv-stride-padding")
    got = layers(s)
    assert got["strided"].out_shape == (2, 4, 4) and got["valid"].out_shape == (2, 2, 2)
    field = receptive_field(s.program.layers, 2, 1, 1)         # valid (1, 1)
    assert field.size == (7, 7)


def test_max_pool_gives_three_of_four_inputs_zero_and_avg_none():
    grads = {}
    for kind in ("max", "avg"):
        s = session(f"pool-{kind}")
        s.goto(next(s.tick_of(st.index + 1) for st in s.steps
                    if st.phase == "backward" and st.node == f"{kind}pool1"))
        dx = layers(s)[f"{kind}pool1"].cache["dx"]                 # (N, 2, 6, 6)
        windows = dx.reshape(dx.shape[0], 2, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5)
        grads[kind] = np.count_nonzero(windows.reshape(*windows.shape[:4], 4), axis=-1)
    assert grads["max"].max() == 1                 # the winner only
    assert grads["avg"].min() == 4                 # all four share
    a, b = (load_scenario(SCENARIOS / f"pool-{k}.toml") for k in ("max", "avg"))
    assert same_data(a, b)
    assert [ls.type for ls in a.network.layers] != [ls.type for ls in b.network.layers]


def test_two_3x3_see_what_one_5x5_sees_with_fewer_weights():
    stack, five = session("conv-3x3-stack"), session("conv-5x5")
    a, b = layers(stack), layers(five)
    assert a["conv2"].out_shape == b["conv5x5"].out_shape
    assert a["conv1"].param_count() + a["conv2"].param_count() == 168
    assert b["conv5x5"].param_count() == 228
    for r, c in ((0, 0), (1, 2), (3, 3)):
        assert receptive_field(stack.program.layers, 2, r, c) == \
            receptive_field(five.program.layers, 0, r, c)
        assert receptive_field(stack.program.layers, 2, r, c).size == (5, 5)
    sa, sb = (load_scenario(SCENARIOS / f"{n}.toml") for n in ("conv-3x3-stack", "conv-5x5"))
    assert same_data(sa, sb)


def test_check_notes_what_a_dense_layer_would_cost():
    s = session("cnn-bars")
    conv = layers(s)["conv1"]
    assert conv.dense_equivalent() == 36 * 144 + 144
    assert conv.note() == "dense over the same input: 5,328 params (sharing saves 99%)"
    row = next(r for r in s.program.layer_table() if r["name"] == "conv1")
    assert row["note"] == conv.note()
    out = CliRunner().invoke(app, ["check", str(SCENARIOS / "cnn-bars.toml")])
    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())
    assert "dense over the same" in flat and "5,328" in flat and "99%" in flat
