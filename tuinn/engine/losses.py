"""Provides the losses (softmax_ce, hinge, mse, bce on logits) and the L2 penalty.

`Loss.forward(out, target)` returns the batch-mean loss WITHOUT the L2 term (the
caller adds `l2_penalty`); `Loss.backward()` returns d(mean loss)/d(out). Both return
arrays the Loss reuses while the batch shape holds: copy them to keep them.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from tuinn.engine.kernels import loss as K
from tuinn.engine.scratch import Scratch
from tuinn.errors import TuinnError
from tuinn.scenario.spec import LossSpec

LOSSES = ("softmax_ce", "hinge", "mse", "bce")
CLASS_LOSSES = ("softmax_ce", "hinge")


def _c(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def l2_penalty(l2: float, weights: Iterable[np.ndarray]) -> float:
    """l2 * sum(W**2) summed over the weight matrices given (never biases)."""
    if l2 == 0.0:
        return 0.0
    return float(l2) * float(sum(K.sum_squares(_c(np.asarray(w))) for w in weights))


def l2_grad(l2: float, W: np.ndarray) -> np.ndarray:
    """The gradient of l2 * sum(W**2): 2 * l2 * W (a new array)."""
    return (2.0 * float(l2)) * W


def add_l2_grad(l2: float, W: np.ndarray, grad: np.ndarray) -> None:
    """grad += 2 * l2 * W, in place (grad must be C-contiguous)."""
    if l2 == 0.0:
        return
    if not grad.flags.c_contiguous or grad.shape != W.shape:
        raise ValueError("add_l2_grad: grad must be C-contiguous and shaped like W")
    K.add_scaled(grad, _c(W), 2.0 * float(l2))


class Loss:
    """One loss function from a LossSpec (type, margin, l2).

    cache (for the views): "dout", and "probs" for softmax_ce.
    """

    def __init__(self, spec=None, *, type: str | None = None, margin: float | None = None,
                 l2: float | None = None):
        self.type = type if type is not None else getattr(spec, "type", "softmax_ce")
        self.margin = float(margin if margin is not None else getattr(spec, "margin", 1.0))
        self.l2 = float(l2 if l2 is not None else getattr(spec, "l2", 0.0))
        if self.type not in LOSSES:
            raise TuinnError(f"unknown loss {self.type!r}", key="loss.type",
                             hint="one of " + ", ".join(LOSSES))
        self.spec = LossSpec(type=self.type, margin=self.margin, l2=self.l2)  # as in effect
        self.cache: dict[str, np.ndarray] = {}
        self._bufs = Scratch(zeros=False)
        self._bad = np.zeros(1, dtype=np.int64)
        self.value = float("nan")

    @property
    def is_classification(self) -> bool:
        """True when targets are integer classes (softmax_ce, hinge)."""
        return self.type in CLASS_LOSSES

    def _buf(self, key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        return self._bufs.get(key, shape, dtype)      # kept per shape (engine/scratch.py)

    # ------------------------------------------------------------------ targets
    def check_targets(self, target, out_shape: tuple[int, ...], dtype=None) -> np.ndarray:
        """Targets converted to what the kernels take, or a TuinnError saying why not.

        `out_shape` is the output's batch shape (N, ...). Class losses: an int64 vector
        (N,) of labels in range (an (N, 1) column or integral floats are accepted);
        softmax_ce on a sequence output (N, T, C): an int64 (N, T) array of labels.
        mse/bce: an array shaped like the output ((N,) accepted for an (N, 1) output), in
        `dtype` (pass the network's, so forward need not convert every batch; default:
        float64 for integer targets, else as given).
        """
        t = np.asarray(target)
        n = out_shape[0]
        if self.is_classification:
            seq = self.type == "softmax_ce" and len(out_shape) == 3
            if len(out_shape) != 2 and not seq:
                raise TuinnError(f"{self.type} needs scores of shape (N, classes)"
                                 f"{' or (N, T, classes)' if self.type == 'softmax_ce' else ''}"
                                 f", got {tuple(out_shape)}", hint="end the model with dense")
            if t.ndim == len(out_shape) and t.shape[-1] == 1:
                t = t[..., 0]
            if seq and t.shape != tuple(out_shape[:2]):
                raise TuinnError(f"softmax_ce on a sequence output {tuple(out_shape)} needs one "
                                 f"integer class label per position, (N, T) = "
                                 f"{tuple(out_shape[:2])}; got targets of shape {t.shape}")
            if not seq and (t.ndim != 1 or t.shape[0] != n):
                raise TuinnError(f"{self.type} needs one integer class label per sample; "
                                 f"got targets of shape {t.shape} for {n} samples")
            if t.dtype.kind == "f":
                if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
                    raise TuinnError(f"{self.type} needs integer class labels, got "
                                     f"{t[~(np.isfinite(t) & (t == np.round(t)))][0]}")
            elif t.dtype.kind not in "iub":
                raise TuinnError(f"{self.type} needs integer class labels, got {t.dtype}")
            t = np.ascontiguousarray(t, dtype=np.int64)
            c = out_shape[-1]
            out_of_range = (t < 0) | (t >= c)
            if out_of_range.any():
                self._label_error(int(t.reshape(-1)[np.argmax(out_of_range)]), c)
            return t
        if t.shape != tuple(out_shape):
            if t.ndim == 1 and tuple(out_shape) == (t.shape[0], 1):
                t = t.reshape(-1, 1)
            else:
                raise TuinnError(f"{self.type} target shape {t.shape[1:]} does not match the "
                                 f"output shape {tuple(out_shape[1:])}")
        if t.dtype.kind not in "iubf":
            raise TuinnError(f"{self.type} needs numeric targets, got {t.dtype}")
        if dtype is None:
            dtype = t.dtype if t.dtype.kind == "f" else np.float64
        return np.ascontiguousarray(t, dtype=dtype)

    def _label_error(self, label: int, classes: int):
        raise TuinnError(f"label {label} out of range for {classes} classes",
                         hint=f"labels run 0..{classes - 1}; the last layer needs "
                              "one output per class")

    # ---------------------------------------------------------- forward/backward
    def forward(self, out: np.ndarray, target) -> float:
        """The batch-mean loss (no L2); also computes and caches d loss / d out."""
        if out.dtype.kind != "f":
            out = out.astype(np.float64)
        if not out.flags.c_contiguous:
            out = np.ascontiguousarray(out)
        dout = self._buf("dout", out.shape, out.dtype)
        if self.is_classification:
            if not (isinstance(target, np.ndarray) and target.dtype == np.int64
                    and target.shape == out.shape[:-1] and target.flags.c_contiguous
                    and (out.ndim == 2 or (out.ndim == 3 and self.type == "softmax_ce"))):
                target = self.check_targets(target, out.shape)
            # a sequence (N, T, C) is N*T rows of scores: the kernels' mean is over N*T
            s2, t1 = out.reshape(-1, out.shape[-1]), target.reshape(-1)
            d2 = dout.reshape(s2.shape)
            if self.type == "softmax_ce":
                probs = self._buf("probs", out.shape, out.dtype)
                value = K.softmax_ce(s2, t1, probs.reshape(s2.shape), d2, self._bad)
                self.cache["probs"] = probs
            else:
                value = K.hinge(s2, t1, self.margin, d2, self._bad)
            if self._bad[0] >= 0:
                self._label_error(int(t1[self._bad[0]]), out.shape[-1])
        else:
            if not (isinstance(target, np.ndarray) and target.shape == out.shape
                    and target.dtype == out.dtype and target.flags.c_contiguous):
                target = self.check_targets(target, out.shape, out.dtype)
            kern = K.mse if self.type == "mse" else K.bce_logits
            value = kern(out, target, dout)
        self.cache["dout"] = dout
        self.value = float(value)
        return self.value

    def backward(self) -> np.ndarray:
        """d(mean loss)/d(out) of the last forward call (L2 not included)."""
        dout = self.cache.get("dout")
        if dout is None:
            raise RuntimeError("Loss.backward called before forward")
        return dout

    # ---------------------------------------------------------------- helpers
    def probs(self, out: np.ndarray) -> np.ndarray:
        """Class probabilities for display: softmax rows (softmax_ce; hinge scores too),
        sigmoid (bce); mse returns the output itself."""
        out = np.ascontiguousarray(out)
        if self.is_classification:
            p = np.empty_like(out, dtype=out.dtype if out.dtype.kind == "f" else np.float64)
            K.softmax_rows(out.reshape(-1, out.shape[-1]), p.reshape(-1, out.shape[-1]))
            return p
        if self.type == "bce":
            return 0.5 * (1.0 + np.tanh(0.5 * out))       # sigmoid, no overflow
        return out

    def predict(self, out: np.ndarray) -> np.ndarray:
        """Class argmax over the last axis (softmax_ce, hinge), 0/1 at logit threshold 0
        (bce), the output (mse)."""
        if self.is_classification:
            return np.argmax(out, axis=-1).astype(np.int64)
        if self.type == "bce":
            return (np.asarray(out) > 0).astype(np.int64)
        return out

    def accuracy(self, out: np.ndarray, target) -> float | None:
        """Share of correct predictions (elementwise for bce); None for mse."""
        if self.type == "mse":
            return None
        t = self.check_targets(target, np.shape(out))
        pred = self.predict(out)
        if pred.size == 0:
            return float("nan")
        return float(np.mean(pred == (t > 0.5) if self.type == "bce" else pred == t))
