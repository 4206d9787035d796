"""Provides the side panel's model views, computed on the engine thread: the fitted
curve of a 1-D regression and text written by a character model (no UI imports)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn.scenario.data_seq import CORPUS, vocabulary

CURVE_POINTS = 160          # where the prediction curve is evaluated
TEXT_CHARS = 160            # characters a character model writes per frame


def side_views(prog) -> list[str]:
    """The side panel's views for this program, `v` cycles through them: the loss curve,
    then the decision regions (2-D classification), the fitted curve (1-D regression) or
    the generated text (a character model), and for a deep network the per-layer
    activation and gradient histograms (tuinn/tui/present_depth.py)."""
    views = ["loss"]
    if prog.input_shape == (2,) and (prog.loss.is_classification or prog.loss.type == "bce") \
            and not getattr(prog, "takes_ids", False):    # skipgram's (center, word) ids
        views.append("data")
    if is_curve_fit(prog):
        views.append("fit")
    if is_char_model(prog):
        views.append("text")
    from tuinn.tui.present_depth import is_deep
    if is_deep(prog):                   # per-layer activation and gradient histograms
        views.append("depth")
    return views


def is_curve_fit(prog) -> bool:
    """A regression of one number on one number (mse): its fit can be drawn as a curve."""
    return prog.input_shape == (1,) and tuple(prog.out_shape) == (1,) and \
        prog.loss.type == "mse" and not getattr(prog, "takes_ids", False)


def is_char_model(prog) -> bool:
    return prog.spec.network.data.generator == "chars"


@dataclass
class FitData:
    """The training points and the model's prediction on CURVE_POINTS x's across them."""
    x: np.ndarray
    y: np.ndarray
    curve_x: np.ndarray
    curve_y: np.ndarray


def fit_curve(prog, n: int = CURVE_POINTS) -> FitData:
    """The model's current prediction over the data's x range (a tenth beyond each end)."""
    x = np.asarray(prog.x, dtype=np.float64).reshape(-1)
    y = np.asarray(prog.y, dtype=np.float64).reshape(-1)
    lo, hi = float(x.min()), float(x.max())
    pad = (hi - lo) / 10 if hi > lo else 1.0
    cx = np.linspace(lo - pad, hi + pad, n)
    with np.errstate(all="ignore"):
        cy = prog.predict(cx.reshape(-1, 1)).reshape(-1).astype(np.float64)
    return FitData(x, y, cx, cy)


@dataclass
class GeneratedText:
    prompt: str             # the window the model starts from (the corpus's beginning)
    text: str               # what it wrote after it, one most likely character at a time


def generate_text(prog, n: int = TEXT_CHARS) -> GeneratedText:
    """Greedy decoding: from the corpus's first T characters, the model's most likely next
    character, appended, and the window slides on, `n` times. Deterministic: the same
    parameters write the same text."""
    vocab = vocabulary()
    if len(prog.input_shape) == 1:                  # ids into an embedding (a transformer)
        return _generate_ids(prog, vocab, int(prog.input_shape[0]), n)
    T, V = (int(d) for d in prog.input_shape)
    codes = [vocab.index(ch) for ch in CORPUS[:T]]
    window = np.zeros((1, T, V), dtype=np.float64)
    window[0, np.arange(T), codes] = 1.0
    out = []
    for _ in range(n):
        scores = prog.predict(window).reshape(-1)
        k = int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf))) if np.isfinite(
            scores).any() else 0
        out.append(vocab[k])
        window[0, :-1] = window[0, 1:]
        window[0, -1] = 0.0
        window[0, -1, k] = 1.0
    return GeneratedText(CORPUS[:T], "".join(out))


def _generate_ids(prog, vocab: str, T: int, n: int) -> GeneratedText:
    """As generate_text, for a model that takes a window of ids (1, T) and scores the next
    character at every position (1, T, V): the last position's best is appended."""
    window = np.array([[vocab.index(ch) for ch in CORPUS[:T]]], dtype=np.float64)  # (1, T)
    out = []
    for _ in range(n):
        scores = prog.predict(window)[0, -1].astype(np.float64)                    # (V,)
        k = int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf))) if np.isfinite(
            scores).any() else 0
        out.append(vocab[k])
        window[0, :-1] = window[0, 1:]
        window[0, -1] = k
    return GeneratedText(CORPUS[:T], "".join(out))
