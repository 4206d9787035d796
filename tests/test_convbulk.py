"""`tuinn train`'s bulk path for a small CNN (conv2d -> relu -> maxpool, flatten, a dense
chain, softmax_ce or hinge: tuinn/engine/run/convbulk.py, kernels/convchain.py) leaves
what the per-iteration path leaves, bit for bit: the epochs' results, every loss,
parameter, gradient, cache (the group's, made when read, included), the last batch, the
history and the loss series; a NaN mid-epoch stops both alike; networks it cannot run
train one by one."""

from __future__ import annotations

import numpy as np
import pytest

from test_bulk import (both, everything, fresh_epoch_args, recording_chunks,
                       runs_uncompiled_as_compiled, same_results, session, stops_alike)
from test_conv_lean import CONV_FIRST
from test_fastpath import assert_same
from test_fused import scenario
from tuinn.engine.kernels.convchain import epoch_conv_classes
from tuinn.engine.run import bulk, training
from tuinn.engine.run.convbulk import conv_plan, conv_supported

OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]


def cnn(dtype="float64", optim="sgd", loss="softmax_ce", history=1, batch=16,
        head="", lr=0.1) -> str:
    """45 7x7 'bars' images in batches of `batch` (16: two of 16, a last one of 13);
    conv 3 3x3 pad 1, relu, maxpool 2, flatten, [head], dense 2."""
    text = scenario(CONV_FIRST, dtype, optim=optim)
    text = text.replace('type = "softmax_ce"', f'type = "{loss}"')
    text = text.replace("lr = 0.1", f"lr = {lr}")
    text = text.replace("history = 5", f"history = {history}")
    text = text.replace("batch_size = 16", f"batch_size = {batch}")
    if head:
        text = text.replace('type = "flatten"\n', 'type = "flatten"\n' + head, 1)
    return text


HIDDEN = '[[model.layers]]\ntype = "dense"\nunits = 5\n[[model.layers]]\ntype = "tanh"\n'


@pytest.mark.parametrize("optim", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss,head", [("softmax_ce", ""), ("hinge", HIDDEN)])
def test_cnn_epochs_in_bulk_equal_iteration_by_iteration(optim, dtype, loss, head):
    text = cnn(dtype, optim, loss, head=head)
    assert "batch_size = 16" in scenario(CONV_FIRST)          # the fixture cnn() edits
    fast, got, slow, want = both(text, 3)
    assert conv_supported(fast.program)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


@pytest.mark.parametrize("history", [0, 1, 200])
@pytest.mark.parametrize("before", [0, 1, 2])
@pytest.mark.parametrize("batch,min_chunk", [(16, 1), (16, 2), (9, 2), (45, 1)])
def test_cnn_bulk_mid_epoch_any_history_and_batch(history, before, batch, min_chunk,
                                                   monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", min_chunk)
    fast, got, slow, want = both(cnn(history=history, batch=batch), 2, before=before)
    same_results(got, want)
    assert_same(everything(fast), everything(slow))


def test_the_cnn_bulk_path_runs_its_kernel():
    s = session(cnn())
    _, chunks = recording_chunks(s, lambda s: list(training.train(s, 2)))
    assert [c.losses.size for c in chunks if c is not None] == [2, 2]   # 16 + 16, then 13
    assert s.program.__dict__["_conv_plans"][16].n == 16


def test_a_nan_mid_epoch_stops_where_and_as_one_by_one_does():
    # a NaN pixel in the batch of iteration 2: relu turns the NaN into 0, the conv's dW
    # (x times the gradient) into NaN, so the update leaves NaN in the parameters
    text = cnn(batch=9)                                          # 5 iterations an epoch
    fast, slow = session(text), session(text)
    for s in (fast, slow):
        s.program.batch_rows(0)                                  # the epoch's order
        row = s.program._order[1][2 * 9 + 4]
        s.program.x[row, 0, 3, 3] = np.nan
    assert stops_alike(fast, slow) == 2


@pytest.mark.parametrize("change", ["dropout", "no-flatten-first", "avgpool", "l2", "fortran"])
def test_networks_it_cannot_run_train_one_by_one(change):
    text = cnn()
    if change == "dropout":
        text = text.replace('type = "flatten"\n',
                            'type = "flatten"\n[[model.layers]]\ntype = "dropout"\np = 0.5\n')
    elif change == "no-flatten-first":
        text = text.replace(CONV_FIRST, '[[model.layers]]\ntype = "tanh"\n' + CONV_FIRST)
    elif change == "avgpool":
        text = text.replace('type = "maxpool"', 'type = "avgpool"')
    elif change == "l2":
        text = text.replace("l2 = 0.0", "l2 = 0.01")
    prog = session(text).program
    if change == "fortran":
        prog.x = np.asfortranarray(prog.x)
    assert not training.bulk_supported(prog) or conv_plan(prog, 16) is None


def test_a_plan_is_made_again_for_new_data():
    prog = session(cnn()).program
    plan = conv_plan(prog, 16)
    assert plan is not None and conv_plan(prog, 16) is plan         # kept
    prog.x = prog.x.copy()
    assert conv_plan(prog, 16) not in (None, plan)                  # checked, made anew
    prog.x = np.asfortranarray(prog.x)                              # the kernel cannot
    assert conv_plan(prog, 16) is None                              # gather from it


def conv_epoch_kernel_args(optim: str = "adam") -> tuple:
    """Fresh arguments of the CNN epoch kernel, one iteration trained (the optimizer's
    state started): two batches of 16."""
    prog = session(cnn(optim=optim)).program
    prog.train_iteration()
    return fresh_epoch_args(prog, conv_plan(prog, 16), 13)


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_the_cnn_epoch_kernel_runs_uncompiled_as_compiled(optim):
    runs_uncompiled_as_compiled(epoch_conv_classes, conv_epoch_kernel_args(optim))
