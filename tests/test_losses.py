"""Tests the losses and the L2 penalty against tests/naive_network.py and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import naive_network as naive
from tuinn.engine.losses import Loss, add_l2_grad, l2_grad, l2_penalty
from tuinn.errors import TuinnError
from tuinn.scenario.spec import LossSpec

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**31 - 1)
sizes = st.tuples(st.integers(1, 6), st.integers(2, 5))


def check(loss: Loss, out: np.ndarray, target, ref_value, ref_grad):
    value = loss.forward(out, target)
    dout = loss.backward().copy()
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dout, ref_grad, rtol=1e-12, atol=1e-14)
    numeric = naive.numeric_grad(lambda: loss.forward(out, target), out)
    np.testing.assert_allclose(dout, numeric, rtol=1e-6, atol=1e-9)


@SETTINGS
@given(sizes, seeds)
def test_softmax_ce(size, seed):
    n, c = size
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, c)) * 3
    y = rng.integers(0, c, size=n)
    check(Loss(LossSpec("softmax_ce")), s, y, *naive.softmax_ce(s, y))


@SETTINGS
@given(sizes, seeds, st.sampled_from([0.5, 1.0, 2.0]))
def test_hinge_away_from_kinks(size, seed, margin):
    n, c = size
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, c)) * 2
    y = rng.integers(0, c, size=n)
    gaps = s - s[np.arange(n), y][:, None] + margin
    gaps[np.arange(n), y] = 1.0
    assume(np.all(np.abs(gaps) > 1e-4))
    check(Loss(LossSpec("hinge", margin=margin)), s, y, *naive.hinge(s, y, margin))


def test_hinge_cs231n_example():
    # CS231n's linear-classifier notes: scores of one image, correct class 0
    s = np.array([[13.0, -7.0, 11.0]])
    loss = Loss(LossSpec("hinge", margin=10.0))
    assert loss.forward(s, np.array([0])) == 8.0
    np.testing.assert_allclose(loss.backward(), [[-1.0, 0.0, 1.0]])


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), seeds)
def test_mse(shape, seed):
    rng = np.random.default_rng(seed)
    out = rng.normal(size=shape)
    t = rng.normal(size=shape)
    check(Loss(LossSpec("mse")), out, t, *naive.mse(out, t))


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), seeds, st.booleans())
def test_bce(shape, seed, soft):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=shape) * 3
    t = rng.uniform(size=shape) if soft else rng.integers(0, 2, size=shape).astype(float)
    check(Loss(LossSpec("bce")), s, t, *naive.bce(s, t))


def test_losses_are_stable_for_huge_scores():
    ce = Loss(LossSpec("softmax_ce"))
    value = ce.forward(np.array([[1000.0, 0.0, -1000.0]]), np.array([1]))
    np.testing.assert_allclose(value, 1000.0)
    np.testing.assert_allclose(ce.backward(), [[1.0, -1.0, 0.0]], atol=1e-300)
    np.testing.assert_allclose(ce.cache["probs"].sum(), 1.0)
    bce = Loss(LossSpec("bce"))
    value = bce.forward(np.array([[1000.0], [-1000.0]]), np.array([[0.0], [0.0]]))
    np.testing.assert_allclose(value, 500.0)
    np.testing.assert_allclose(bce.backward(), [[0.5], [0.0]])


def test_float32_outputs():
    s = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)
    y = np.array([1, 2])
    for kind in ("softmax_ce", "hinge"):
        loss = Loss(LossSpec(kind))
        ref_v, ref_g = (naive.softmax_ce(s.astype(float), y) if kind == "softmax_ce"
                        else naive.hinge(s.astype(float), y, 1.0))
        np.testing.assert_allclose(loss.forward(s, y), ref_v, rtol=1e-6)
        assert loss.backward().dtype == np.float32
        np.testing.assert_allclose(loss.backward(), ref_g, rtol=1e-6, atol=1e-7)
    t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    for kind, ref in (("mse", naive.mse), ("bce", naive.bce)):
        loss = Loss(LossSpec(kind))
        ref_v, ref_g = ref(s.astype(float), t.astype(float))
        np.testing.assert_allclose(loss.forward(s, t), ref_v, rtol=1e-6)
        np.testing.assert_allclose(loss.backward(), ref_g, rtol=1e-6, atol=1e-7)


# -------------------------------------------------------------- targets
def test_label_out_of_range():
    s = np.zeros((2, 3))
    for kind in ("softmax_ce", "hinge"):
        loss = Loss(LossSpec(kind))
        with pytest.raises(TuinnError, match="label 5 out of range for 3 classes"):
            loss.forward(s, np.array([0, 5]))
        with pytest.raises(TuinnError, match="label -1 out of range for 3 classes"):
            loss.forward(s, np.array([-1, 0]))
        with pytest.raises(TuinnError, match="label 3 out of range for 3 classes"):
            loss.check_targets(np.array([3.0, 1.0]), (2, 3))


def test_class_targets_are_converted_or_refused():
    loss = Loss(LossSpec("softmax_ce"))
    s = np.random.default_rng(0).normal(size=(3, 4))
    ref = loss.forward(s, np.array([0, 3, 1]))
    assert loss.forward(s, np.array([[0.0], [3.0], [1.0]])) == ref
    assert loss.forward(s, [0, 3, 1]) == ref
    np.testing.assert_array_equal(loss.check_targets([[1], [2]], (2, 4)), [1, 2])
    assert loss.check_targets(np.array([1.0, 2.0]), (2, 4)).dtype == np.int64
    with pytest.raises(TuinnError, match="integer class labels"):
        loss.forward(s, np.array([0.5, 1.0, 2.0]))
    with pytest.raises(TuinnError, match="one integer class label per sample"):
        loss.forward(s, np.array([0, 1]))
    with pytest.raises(TuinnError, match="scores of shape"):
        loss.check_targets(np.array([0]), (1, 2, 3, 4))


def test_regression_targets():
    mse = Loss(LossSpec("mse"))
    out = np.array([[1.0], [2.0], [4.0]])
    assert mse.forward(out, np.array([1.0, 1.0, 1.0])) == pytest.approx((0 + 1 + 9) / 3)
    assert mse.forward(out, np.array([1, 1, 1])) == pytest.approx(10 / 3)
    with pytest.raises(TuinnError, match="does not match the output shape"):
        mse.forward(out, np.zeros((3, 2)))
    bce = Loss(LossSpec("bce"))
    assert bce.forward(np.zeros((2, 1)), np.array([0, 1])) == pytest.approx(np.log(2))
    t = bce.check_targets(np.array([0, 1]), (2, 1), np.float32)
    assert t.shape == (2, 1) and t.dtype == np.float32 and t.flags.c_contiguous
    assert bce.check_targets(np.array([0, 1]), (2,)).dtype == np.float64


def test_unknown_loss_and_spec():
    with pytest.raises(TuinnError, match="unknown loss"):
        Loss(LossSpec("cross_entropy"))
    loss = Loss(type="hinge", margin=2.0)
    assert loss.spec.type == "hinge" and loss.margin == 2.0 and loss.is_classification
    with pytest.raises(RuntimeError):
        Loss(LossSpec("mse")).backward()


# ------------------------------------------------------------------- L2
@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=3),
       seeds, st.sampled_from([0.0, 1e-3, 0.5]))
def test_l2(shapes, seed, lam):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s) for s in shapes]
    value = l2_penalty(lam, weights)
    np.testing.assert_allclose(value, naive.l2(lam, weights), rtol=1e-12, atol=1e-300)
    for w in weights:
        numeric = naive.numeric_grad(lambda: l2_penalty(lam, weights), w)
        np.testing.assert_allclose(l2_grad(lam, w), numeric, rtol=1e-6, atol=1e-9)
        g = np.ones_like(w)
        add_l2_grad(lam, w, g)
        np.testing.assert_allclose(g, 1.0 + 2 * lam * w, rtol=1e-12)


# -------------------------------------------------------------- helpers
def test_probs_predict_accuracy():
    s = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    y = np.array([0, 1])
    for kind in ("softmax_ce", "hinge"):
        loss = Loss(LossSpec(kind))
        p = loss.probs(s)
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        np.testing.assert_allclose(p[0], np.exp([2, 1, 0]) / np.exp([2, 1, 0]).sum())
        np.testing.assert_array_equal(loss.predict(s), [0, 2])
        assert loss.accuracy(s, y) == 0.5
    bce = Loss(LossSpec("bce"))
    logits = np.array([[3.0], [-0.5], [0.2]])
    np.testing.assert_allclose(bce.probs(logits), naive.sigmoid(logits))
    np.testing.assert_array_equal(bce.predict(logits), [[1], [0], [1]])
    assert bce.accuracy(logits, np.array([1, 1, 1])) == pytest.approx(2 / 3)
    mse = Loss(LossSpec("mse"))
    assert mse.accuracy(logits, logits) is None
    assert mse.predict(logits) is logits
