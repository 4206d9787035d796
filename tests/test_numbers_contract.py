"""The contract's numeric rules, to the letter: L2 over parameters named W*, ties and
kinks in graphs, a short last batch kept, the losses' means."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import SCENARIOS
from tuinn.engine.build import build_session
from tuinn.engine.losses import Loss
from tuinn.scenario.loader import load_scenario, load_text
from tuinn.scenario.spec import LossSpec

LAM = 0.05


def _iteration(spec, l2: float):
    spec = copy.deepcopy(spec)
    spec.network.loss.l2 = l2
    s = build_session(spec)
    params = {k: v.copy() for k, v in s.program.params().items()}
    s.run_to_end()
    grads = {k: s.tape.grads[k].copy() for k in params}
    return params, grads, float(s.tape.values["loss"])


@pytest.mark.parametrize("name", ["xor", "cnn-bars", "gru", "lstm", "rnn-long-delay"])
def test_l2_is_lambda_sum_of_squares_over_w_named_parameters_only(name):
    spec = load_scenario(SCENARIOS / f"{name}.toml")
    p0, g0, loss0 = _iteration(spec, 0.0)
    p1, g1, loss1 = _iteration(spec, LAM)
    weights = [k for k in p0 if k.rpartition(".")[2].startswith("W")]
    assert weights and len(weights) < len(p0)             # biases exist and are spared
    assert loss1 - loss0 == pytest.approx(LAM * sum(np.sum(p0[k] ** 2) for k in weights),
                                          rel=1e-9)
    for k in p0:
        np.testing.assert_array_equal(p1[k], p0[k])
        extra = 2 * LAM * p0[k] if k in weights else np.zeros_like(p0[k])
        np.testing.assert_allclose(g1[k] - g0[k], extra, rtol=1e-7, atol=1e-12, err_msg=k)


def _graph(expr: str, inputs: str):
    text = (f'[scenario]\nname = "t"\nkind = "graph"\n[graph]\ninputs = {{ {inputs} }}\n'
            f'expr = """\n{expr}\n"""\n')
    s = build_session(load_text(text, "t.toml"))
    s.run_to_end()
    prog = s.program
    return {n: float(np.sum(prog.grad_of(s.tape, n))) for n in prog.names()}


@pytest.mark.parametrize("expr, want", [
    ("f = max(x, y)", {"x": 0.5, "y": 0.5}),
    ("f = min(x, y)", {"x": 0.5, "y": 0.5}),
    ("f = max(x, x)", {"x": 1.0}),
    ("f = max(x, 2)", {"x": 0.5}),
    ("f = min(x, 2)", {"x": 0.5}),
    ("f = relu(x - y)", {"x": 0.0, "y": 0.0}),
    ("f = abs(x - y)", {"x": 0.0, "y": 0.0}),
])
def test_ties_split_half_and_half_and_kinks_at_zero_have_zero_gradient(expr, want):
    g = _graph(expr, "x = 2.0, y = 2.0")
    for k, v in want.items():
        assert g[k] == v, (expr, k)


def test_relu_layer_gradient_at_zero_is_zero():
    text = '''
[scenario]
name = "kink"
kind = "network"
[data]
x = [[1.0, -1.0], [2.0, 3.0]]
y = [[0.5], [0.2]]
[model]
input = [2]
[[model.layers]]
type = "dense"
units = 1
[[model.layers]]
type = "relu"
[params]
"dense1.W" = [[1.0], [1.0]]
"dense1.b" = [0.0]
[loss]
type = "mse"
'''
    s = build_session(load_text(text, "t.toml"))
    s.run_to_end()
    # sample 0 sits at the kink (x W + b = 0): it adds nothing; sample 1: 2 (5 - 0.2) / 2
    np.testing.assert_allclose(s.tape.grads["dense1.b"], [4.8])
    np.testing.assert_allclose(s.tape.grads["dense1.W"], [[2 * 4.8], [3 * 4.8]])


def test_a_last_batch_smaller_than_batch_size_is_kept():
    text = '''
[scenario]
name = "short batch"
kind = "network"
[data]
x = [[1.0], [2.0], [3.0], [4.0], [5.0]]
y = [[1.0], [2.0], [3.0], [4.0], [5.0]]
[model]
input = [1]
[[model.layers]]
type = "dense"
units = 1
[params]
"dense1.W" = [[0.0]]
"dense1.b" = [0.0]
[loss]
type = "mse"
[optimizer]
lr = 1e-12
[train]
epochs = 2
batch_size = 2
shuffle = false
'''
    s = build_session(load_text(text, "t.toml"))
    prog = s.program
    assert prog.per_epoch == 3
    losses = []
    for _ in range(6):
        s.run_to_end()
        losses.append(float(s.tape.values["loss"]))
        s.next_iteration()
    assert prog.batch(2)[0].tolist() == [[5.0]]
    assert losses == pytest.approx([2.5, 12.5, 25.0, 2.5, 12.5, 25.0], rel=1e-9)


def test_the_losses_are_the_means_the_contract_writes():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((5, 3))
    y = np.array([0, 2, 1, 1, 0])
    t = rng.random((5, 3))
    b = (rng.random((5, 3)) > 0.5).astype(float)

    def value(kind, out, target, **kw):
        return Loss(LossSpec(type=kind, **kw)).forward(out, target)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert value("softmax_ce", s, y) == pytest.approx(np.mean(-np.log(p[np.arange(5), y])))
    margins = np.maximum(0.0, s - s[np.arange(5), y][:, None] + 0.7)
    margins[np.arange(5), y] = 0.0
    assert value("hinge", s, y, margin=0.7) == pytest.approx(np.mean(margins.sum(axis=1)))
    assert value("mse", s, t) == pytest.approx(np.mean((s - t) ** 2))
    sig = 1 / (1 + np.exp(-s))
    want = -np.mean(b * np.log(sig) + (1 - b) * np.log(1 - sig))
    assert value("bce", s, b) == pytest.approx(want)


SEQUENCE = '''
[scenario]
name = "sequence softmax"
kind = "network"
seed = 1
[data]
x = [[[0.5, -1.0], [1.0, 0.2], [0.3, 0.3]], [[-0.4, 0.9], [0.1, -0.6], [0.8, 0.5]]]
y = [[0, 2, 1], [1, 1, 0]]
[model]
input = [3, 2]
[[model.layers]]
type = "lstm"
hidden = 3
return_sequences = true
[loss]
type = "softmax_ce"
'''


def test_softmax_ce_on_a_sequence_is_the_mean_over_all_positions():
    from tuinn.engine.gradcheck import gradcheck
    s = build_session(load_text(SEQUENCE, "seq.toml"))
    s.run_to_end()
    out = s.tape.values["lstm1"]                                     # (N, T, C)
    y = np.array([[0, 2, 1], [1, 1, 0]])
    z = out - out.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    want = -np.mean(np.take_along_axis(logp, y[..., None], axis=-1))
    assert float(s.tape.values["loss"]) == pytest.approx(want, rel=1e-12)
    p = np.exp(logp)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(s.tape.grads["lstm1"], (p - onehot) / y.size, atol=1e-15)
    checks = gradcheck(load_text(SEQUENCE, "seq.toml"))
    assert all(c.ok for c in checks), [(c.name, c.worst_entry) for c in checks if not c.ok]
    loss = Loss(LossSpec(type="softmax_ce"))
    assert loss.predict(out).shape == (2, 3)


@pytest.mark.parametrize("kind, target, message", [
    ("softmax_ce", np.zeros((2, 2), np.int64), "one integer class label per position"),
    ("softmax_ce", np.full((2, 3), 5), "label 5 out of range for 3 classes"),
    ("hinge", np.zeros((2, 3), np.int64), "hinge needs scores of shape (N, classes)"),
])
def test_sequence_targets_are_checked(kind, target, message):
    from tuinn.errors import TuinnError
    with pytest.raises(TuinnError, match=None) as err:
        Loss(LossSpec(type=kind)).forward(np.zeros((2, 3, 3)), target)
    assert message in err.value.message


# ----------------------------------------------------- dense on the last axis

def test_dense_works_on_the_last_axis_of_a_sequence():
    from tuinn.engine.layers.dense import Dense
    rng = np.random.default_rng(4)
    layer = Dense("dense1", {"units": 3, "init": "xavier", "init_std": 0.01}, (4, 5), rng,
                  np.float64)
    assert layer.out_shape == (4, 3)
    x = rng.standard_normal((2, 4, 5))
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(layer.forward(x, True, None), x @ W + b, rtol=1e-12)
    dy = rng.standard_normal((2, 4, 3))
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, dy @ W.T, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], np.einsum("nti,nto->io", x, dy), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], dy.sum(axis=(0, 1)), rtol=1e-12)


def test_dense_still_refuses_an_image():
    from tuinn.engine.layers.dense import Dense
    from tuinn.errors import TuinnError
    with pytest.raises(TuinnError, match="put a flatten layer before it"):
        Dense("dense1", {"units": 3}, (1, 4, 4), np.random.default_rng(0), np.float64)


def test_a_sequence_model_with_dense_on_every_step_trains_and_gradchecks():
    from tuinn.engine.gradcheck import gradcheck
    text = SEQUENCE.replace('''hidden = 3
return_sequences = true''', '''hidden = 4
return_sequences = true
[[model.layers]]
type = "dense"
units = 3''').replace('type = "softmax_ce"', 'type = "softmax_ce"\nl2 = 0.01')
    s = build_session(load_text(text, "seq.toml"))
    s.run_to_end()
    h, out = s.tape.values["lstm1"], s.tape.values["dense1"]
    p = s.program.start.params                            # as the iteration began
    np.testing.assert_allclose(out, h @ p["dense1.W"] + p["dense1.b"], rtol=1e-12)
    assert out.shape == (2, 3, 3)
    checks = gradcheck(load_text(text, "seq.toml"))
    assert len(checks) == 5 and all(c.ok for c in checks), \
        [(c.name, c.worst_entry) for c in checks if not c.ok]
