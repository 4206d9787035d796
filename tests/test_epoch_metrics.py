"""`tuinn train`'s per-epoch metrics come from the batches already trained, without extra passes.

The epoch's loss is the mean of its batches' losses and its accuracy the share of its
samples that their batch's forward pass predicted right (checked against a twin program
that predicts every batch itself before training on it); validation is one pass over
the held-out split only; and a smaller last batch or the validation pass never makes
the workspaces reallocate epoch after epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuinn.engine import scratch
from tuinn.engine.build import build_session
from tuinn.engine.kernels import metrics as M
from tuinn.engine.run.training import accuracy, train
from tuinn.scenario.loader import load_text

CNN = """
[[model.layers]]
type = "conv2d"
filters = 3
kernel = 3
padding = 1
[[model.layers]]
type = "relu"
[[model.layers]]
type = "maxpool"
size = 2
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dense"
units = 2
"""
MLP = """
[[model.layers]]
type = "dense"
units = 8
[[model.layers]]
type = "tanh"
[[model.layers]]
type = "dense"
units = {out}
"""
CASES = {   # name: (data, input, layers, loss, optimizer)
    "cnn": ('generator = "bars"\nsamples = 70', "[1, 6, 6]", CNN, "softmax_ce", "sgd"),
    "mlp-fused": ('generator = "blobs"\nsamples = 90\nclasses = 3', "[2]", MLP.format(out=3),
                  "softmax_ce", "sgd"),
    "mlp-adam-hinge": ('generator = "blobs"\nsamples = 90\nclasses = 3', "[2]",
                       MLP.format(out=3), "hinge", "adam"),
    "bce": ('generator = "moons"\nsamples = 75', "[2]", MLP.format(out=1), "bce", "sgd"),
    "mse": ('generator = "sine"\nsamples = 65', "[1]", MLP.format(out=1), "mse", "sgd"),
    "lstm": ('generator = "copy"\nsamples = 90', "[10, 4]",
             '[[model.layers]]\ntype = "lstm"\nhidden = 8\n' + MLP.format(out=4).split("\n", 4)[4],
             "softmax_ce", "adam"),
    "gru-sequence": ('file = "data/reverse.npz"', "[8, 4]",           # (N, T, C) outputs
                     '[[model.layers]]\ntype = "gru"\nhidden = 8\nbidirectional = true\n'
                     'return_sequences = true\n[[model.layers]]\ntype = "dense"\nunits = 4\n',
                     "softmax_ce", "adam"),
}
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def scenario(case: str, dtype: str = "float64", batch: int = 16) -> str:
    data, inp, layers, loss, optim = CASES[case]
    if case == "gru-sequence":
        batch *= 3                              # 800 training samples: a last batch of 32
    return f"""[scenario]
name = "metrics"
kind = "network"
seed = 5
dtype = "{dtype}"
[data]
{data}
validation = 0.2
[model]
input = {inp}
{layers}
[loss]
type = "{loss}"
[optimizer]
type = "{optim}"
lr = 0.05
[train]
epochs = 3
batch_size = {batch}
"""


def session(text: str):
    return build_session(load_text(text, str(SCENARIOS / "metrics.toml")))  # data/ beside


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_epoch_metrics_are_the_means_over_the_epochs_batches(case, dtype):
    text = scenario(case, dtype)
    s, twin = session(text), session(text).program
    assert len(twin.x) % twin.batch_size                      # a smaller last batch
    results = list(train(s, 3))
    counts = twin.loss.type != "mse"
    for r in results:
        losses, correct, seen = [], 0, 0
        for _ in range(twin.per_epoch):
            rows = twin.batch_rows(twin.iteration)
            xb, yb = twin.x[rows], twin.y[rows]
            if counts:   # the batch predicted by the parameters it is trained from
                pred = twin.loss.predict(twin.predict(xb)).reshape(yb.shape)
                correct += int(np.sum(pred == yb))
                seen += yb.size
            losses.append(twin.train_iteration())
        assert r.iteration == twin.iteration
        assert r.loss == pytest.approx(sum(losses) / len(losses), rel=1e-12, abs=0)
        if counts:
            assert r.accuracy == correct / seen
            assert r.val_accuracy == accuracy(twin, twin.x_val, twin.y_val)
        else:
            assert r.accuracy is None and r.val_accuracy is None
        assert r.val_loss == twin.validation_loss()


def test_only_the_held_out_split_is_predicted():
    s = session(scenario("cnn"))
    prog = s.program
    sizes = []
    real = prog.predict
    prog.predict = lambda x: sizes.append(len(x)) or real(x)
    list(train(s, 3))
    assert sizes == [len(prog.x_val)] * 3


@pytest.mark.parametrize("case", ["cnn", "mlp-fused", "bce"])
def test_workspaces_do_not_thrash_between_batch_sizes(case):
    s = session(scenario(case, batch=16))
    gen = train(s, 6)
    next(gen)                                                 # the first epoch allocates
    before = scratch.ALLOCATIONS[0]
    for _ in gen:
        pass
    assert scratch.ALLOCATIONS[0] == before


def test_scratch_keeps_a_few_shapes_per_name():
    ws = scratch.Scratch()
    before = scratch.ALLOCATIONS[0]
    a = ws.get("y", (4, 3), np.float64)
    b = ws.get("y", (2, 3), np.float64)
    assert ws.get("y", (4, 3), np.float64) is a and ws.get("y", (2, 3), np.float64) is b
    assert ws.get("y", (2, 3), np.float32) is not b                      # dtype counts
    assert scratch.ALLOCATIONS[0] == before + 3
    for n in range(5, 5 + scratch.KEEP):                                 # bounded
        ws.get("y", (n, 3), np.float64)
    assert ws.get("y", (4, 3), np.float64) is not a
    assert not a.any() and ws.get("z", (3,), np.float64).tolist() == [0, 0, 0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_counting_kernels_agree_with_numpy(dtype):
    rng = np.random.default_rng(0)
    out = rng.normal(size=(50, 4)).astype(dtype)
    out[3] = [1, 1, 0, 0]                                  # a tie: the first wins
    out[7, 2] = np.nan                                     # a NaN: the first NaN wins
    out[8] = [np.nan, 5, np.nan, 0]
    labels = rng.integers(0, 4, 50)
    labels[3], labels[7], labels[8] = 0, 2, 0
    assert M.count_correct_classes(out, labels) == int(np.sum(np.argmax(out, 1) == labels))
    t = (rng.random(50) > 0.5).astype(dtype)
    flat = out[:, 0].copy()
    assert M.count_correct_binary(flat, t) == int(np.sum((flat > 0).astype(np.int64) == t))
