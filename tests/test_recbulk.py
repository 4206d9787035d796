"""`tuinn train`'s bulk path for an LSTM with a dense head (tuinn/engine/run/recbulk.py,
kernels/recchain.py) leaves what the per-iteration path leaves, bit for bit: the epochs'
results, every loss, parameter, gradient, cache (the lstm's gate views included), the
last batch, the history and the loss series; a NaN mid-epoch stops both alike; networks
it cannot run train one by one."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

from test_bulk import (both, everything, fresh_epoch_args, recording_chunks,
                       runs_uncompiled_as_compiled, same_results, stops_alike)
from test_fastpath import assert_same
from tuinn.engine.build import build_session
from tuinn.engine.kernels.recchain import epoch_lstm_classes, epoch_lstm_values
from tuinn.engine.run import bulk, training
from tuinn.engine.run.recbulk import lstm_plan, lstm_supported
from tuinn.scenario.loader import load_text

OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
T, I, M = 6, 3, 37                                # 37 sequences: batches of 8, last one 5


def lstm(loss="softmax_ce", optim="adam", dtype="float64", batch=8, head="",
         extra="") -> str:
    """lstm 5 over T steps of I features, [head], dense out; a classification loss on
    the "copy" task, mse or bce on random sequences (an .npz written beside it)."""
    if loss in ("softmax_ce", "hinge"):
        data, out = f'generator = "copy"\nsamples = {M}', 4
        inp = f"[{T}, 4]"
    else:
        data, out, inp = f'file = "{DATA}"', 1, f"[{T}, {I}]"
    return f"""[scenario]
name = "lstm bulk"
kind = "network"
seed = 5
dtype = "{dtype}"
[data]
{data}
[model]
input = {inp}
[[model.layers]]
type = "lstm"
hidden = 5
{extra}{head}[[model.layers]]
type = "dense"
units = {out}
[loss]
type = "{loss}"
[optimizer]
type = "{optim}"
lr = 0.05
[train]
batch_size = {batch}
[debug]
history = 1
"""


def write_data(folder: str) -> str:
    """seq.npz in `folder`: random sequences and targets (mse: values; bce: 0 or 1)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((M, T, I))
    path = os.path.join(folder, "seq.npz")
    np.savez(path, x=x, y=(x[:, :, :1].mean(axis=1) > 0).astype(float))
    return path


_FOLDER = tempfile.mkdtemp(prefix="tuinn-recbulk-")
atexit.register(shutil.rmtree, _FOLDER, True)
DATA = write_data(_FOLDER)                          # the scenarios' data (an absolute path)


def session(text: str):
    return build_session(load_text(text, "lstm.toml"))


HIDDEN = '[[model.layers]]\ntype = "dense"\nunits = 4\n[[model.layers]]\ntype = "tanh"\n'


@pytest.mark.parametrize("optim", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss,head", [("softmax_ce", ""), ("hinge", HIDDEN), ("mse", ""),
                                       ("bce", HIDDEN)])
def test_lstm_epochs_in_bulk_equal_iteration_by_iteration(optim, dtype, loss, head):
    fast, got, slow, want = both(lstm(loss, optim, dtype, head=head), 3)
    assert lstm_supported(fast.program)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


@pytest.mark.parametrize("before", [0, 1, 3])
@pytest.mark.parametrize("batch,min_chunk", [(8, 1), (8, 2), (37, 1)])
def test_lstm_bulk_mid_epoch_and_batch_sizes(before, batch, min_chunk, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", min_chunk)
    fast, got, slow, want = both(lstm("mse", batch=batch), 2, before=before)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


def test_the_lstm_bulk_path_runs_its_kernel():
    s = session(lstm("mse"))
    _, chunks = recording_chunks(s, lambda s: list(training.train(s, 2)))
    # the first iteration one by one (adam's state starts), then 3 of 8 (a last one of 5:
    # a call of its own is fewer than MIN_CHUNK), then 4 of 8
    assert [c.losses.size for c in chunks if c is not None] == [3, 4]
    assert s.program.layers[0].cache["h"].shape == (5, T, 5)


def test_a_nan_mid_epoch_stops_where_and_as_one_by_one_does():
    text = lstm("mse", optim="sgd")
    fast, slow = session(text), session(text)
    for s in (fast, slow):                       # a NaN in the batch of iteration 2
        s.program.batch_rows(0)
        s.program.x[s.program._order[1][2 * 8 + 3], 2, 1] = np.nan
    assert stops_alike(fast, slow) == 2


@pytest.mark.parametrize("extra", ['bidirectional = true\n', 'return_sequences = true\n',
                                   "gru", "dropout"])
def test_networks_it_cannot_run_train_one_by_one(extra):
    if extra == "gru":
        text = lstm("mse").replace('type = "lstm"', 'type = "gru"')
    elif extra == "dropout":
        text = lstm("mse", head='[[model.layers]]\ntype = "dropout"\np = 0.5\n')
    else:
        text = lstm("mse", extra=extra).replace(
            'type = "dense"', 'type = "flatten"\n[[model.layers]]\ntype = "dense"'
        ) if "return" in extra else lstm("mse", extra=extra)
    prog = session(text).program
    assert not lstm_supported(prog) and lstm_plan(prog, 8) is None
    assert not training.bulk_supported(prog)


def test_targets_that_do_not_fit_the_output_train_one_by_one():
    """The kernel reads Y[row, :O] unchecked: data whose targets are not (M, O) in the
    network's dtype (or not one per sequence) never reach it."""
    prog = session(lstm("mse")).program
    assert lstm_plan(prog, 8) is not None
    for y in (np.zeros((M, 2)), np.zeros((M, 1), np.float32), np.zeros((M - 1, 1))):
        prog.y = y
        assert not lstm_supported(prog) and lstm_plan(prog, 8) is None


def lstm_epoch_kernel_args(loss: str = "softmax_ce", optim: str = "adam") -> tuple:
    """Fresh arguments of an LSTM epoch kernel, one iteration trained (the optimizer's
    state started): two batches of 8."""
    prog = session(lstm(loss, optim)).program
    prog.train_iteration()
    return fresh_epoch_args(prog, lstm_plan(prog, 8), 11)


@pytest.mark.parametrize("loss,optim", [("softmax_ce", "adam"), ("mse", "momentum")])
def test_the_lstm_epoch_kernels_run_uncompiled_as_compiled(loss, optim):
    kern = epoch_lstm_classes if loss == "softmax_ce" else epoch_lstm_values
    runs_uncompiled_as_compiled(kern, lstm_epoch_kernel_args(loss, optim))
