"""Provides the accuracy-counting kernels: correct predictions in a batch's output, in one pass.

`tuinn train` counts each batch's correct predictions from the output its forward pass
already computed (no extra pass over the data); one small kernel call per batch.
"""

from __future__ import annotations

from tuinn.engine.jit import kernel


@kernel
def count_correct_classes(out, labels):
    """Rows of out (M, C) whose argmax is labels (M,) int64; the argmax as np.argmax
    takes it (the first maximum, and the first NaN where there is one)."""
    m, c = out.shape
    correct = 0
    for i in range(m):
        best = out[i, 0]
        idx = 0
        if best == best:
            for j in range(1, c):
                v = out[i, j]
                if v != v:
                    idx = j
                    break
                if v > best:
                    best = v
                    idx = j
        if idx == labels[i]:
            correct += 1
    return correct


@kernel
def count_correct_binary(out, target):
    """Elements where (out > 0) as 0/1 equals target (bce on logits); both flat (M,)."""
    correct = 0
    for i in range(out.size):
        if (1.0 if out[i] > 0.0 else 0.0) == target[i]:
            correct += 1
    return correct
