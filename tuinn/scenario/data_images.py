"""Provides the image data generators "bars" and "shapes" for conv scenarios.

Both take the model's input shape [C, H, W] and return x (N, C, H, W) float64 and
integer labels y (N,) int64, classes balanced and shuffled by `rng`. Options: samples,
classes, noise (the standard deviation of Gaussian noise added to every pixel).
"""

from __future__ import annotations

import numpy as np

from tuinn.errors import TuinnError
from tuinn.scenario.data import register_generator
from tuinn.scenario.schema import in_range

#: every option each generator reads, with its default (for the loader's validation)
DEFAULTS = {
    "bars": {"samples": 200, "classes": 2, "noise": 0.1},
    "shapes": {"samples": 300, "classes": 3, "noise": 0.1},
}


def _options(name: str, options: dict) -> tuple[int, int, float]:
    opts = {**DEFAULTS[name], **{k: v for k, v in options.items() if v is not None}}
    samples, classes, noise = opts["samples"], opts["classes"], opts["noise"]
    for key, value in (("samples", samples), ("classes", classes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise TuinnError(f"{name}: {key} must be a positive integer, got {value!r}",
                             key=f"data.{key}")
    if not in_range(noise, 0):
        raise TuinnError(f"{name}: noise must be a number >= 0, got {noise!r}", key="data.noise")
    return int(samples), int(classes), float(noise)


def _image_shape(name: str, input_shape: tuple, minimum: int) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1 or min(shape[1:]) < minimum:
        raise TuinnError(f"{name}: needs [model] input = [channels, height, width] with "
                         f"height and width >= {minimum}, got {list(input_shape)}",
                         key="model.input", hint="for example input = [1, 8, 8]")
    return shape                                         # type: ignore[return-value]


def _labels(samples: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(samples) % classes).astype(np.int64)


@register_generator("bars")
def bars(options: dict, input_shape: tuple, rng: np.random.Generator):
    """A horizontal bar (class 0) at a random row or a vertical bar (class 1) at a random
    column, full length, value 1 on 0, in every channel, plus noise."""
    samples, classes, noise = _options("bars", options)
    if classes != 2:
        raise TuinnError(f"bars: has exactly 2 classes (horizontal, vertical), got {classes}",
                         key="data.classes", hint='use generator = "shapes" for more')
    C, H, W = _image_shape("bars", input_shape, 2)
    y = _labels(samples, 2, rng)
    x = np.zeros((samples, C, H, W))                     # (N, C, H, W)
    rows = rng.integers(0, H, size=samples)
    cols = rng.integers(0, W, size=samples)
    for i in range(samples):
        if y[i] == 0:
            x[i, :, rows[i], :] = 1.0
        else:
            x[i, :, :, cols[i]] = 1.0
    if noise:
        x += rng.normal(0.0, noise, size=x.shape)
    return x, y


def _ring(s: int) -> np.ndarray:
    r = (s - 1) / 2.0
    yy, xx = np.mgrid[0:s, 0:s]
    return np.abs(np.hypot(yy - r, xx - r) - r) <= 0.5


def _square(s: int) -> np.ndarray:
    m = np.zeros((s, s), bool)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    return m


def _cross(s: int) -> np.ndarray:
    m = np.zeros((s, s), bool)
    m[s // 2, :] = m[:, s // 2] = True
    return m


#: class index -> (name, drawing of an s x s boolean mask)
SHAPES = (
    ("square", _square),                                 # outline
    ("cross", _cross),                                   # a plus sign
    ("diagonal", lambda s: np.eye(s, dtype=bool)),       # top-left to bottom-right
    ("antidiagonal", lambda s: np.fliplr(np.eye(s, dtype=bool))),
    ("x", lambda s: np.eye(s, dtype=bool) | np.fliplr(np.eye(s, dtype=bool))),
    ("circle", _ring),                                   # outline
    ("block", lambda s: np.ones((s, s), bool)),          # filled square
)
SHAPE_NAMES = tuple(name for name, _ in SHAPES)


@register_generator("shapes")
def shapes(options: dict, input_shape: tuple, rng: np.random.Generator):
    """One simple shape per image (class i = SHAPE_NAMES[i]: square outline, cross,
    diagonal, antidiagonal, x, circle, block), of a random size (from half the image
    side, at least 5, up to the full side) at a random place, value 1 on 0, plus noise."""
    samples, classes, noise = _options("shapes", options)
    if not 2 <= classes <= len(SHAPES):
        raise TuinnError(f"shapes: classes must be 2..{len(SHAPES)}, got {classes}",
                         key="data.classes", hint="the shapes are " + ", ".join(SHAPE_NAMES))
    C, H, W = _image_shape("shapes", input_shape, 5)
    side = min(H, W)
    y = _labels(samples, classes, rng)
    sizes = rng.integers(max(5, side // 2), side + 1, size=samples)
    x = np.zeros((samples, C, H, W))                     # (N, C, H, W)
    for i in range(samples):
        s = int(sizes[i])
        r0 = int(rng.integers(0, H - s + 1))
        c0 = int(rng.integers(0, W - s + 1))
        x[i, :, r0:r0 + s, c0:c0 + s] = SHAPES[y[i]][1](s)
    if noise:
        x += rng.normal(0.0, noise, size=x.shape)
    return x, y
