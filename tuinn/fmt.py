"""Provides number and tensor formatting shared by the CLI and the TUI (no UI imports)."""

from __future__ import annotations

import numpy as np


def num(x: float, digits: int = 4) -> str:
    """A compact number: 0.7311, -12, 1.2e-07, nan, inf."""
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    if 10 ** -digits <= abs(x) < 10 ** 6:
        text = f"{x:.{digits}f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else "0"
    return f"{x:.{max(1, digits - 2)}e}"


def shape(a: np.ndarray) -> str:
    return "(" + ",".join(str(d) for d in np.shape(a)) + ")"


def summary(a, digits: int = 3) -> str:
    """A scalar's value, or a tensor's shape with its mean: "(2,3) μ=0.12"."""
    a = np.asarray(a)
    if a.size == 1 and a.ndim <= 1 or a.ndim == 0:
        return num(a.reshape(-1)[0], digits)
    finite = a[np.isfinite(a)]
    bad = a.size - finite.size
    mean = num(finite.mean(), digits) if finite.size else "nan"
    return f"{shape(a)} μ={mean}" + (f" {bad}✗" if bad else "")


def norm_summary(a, digits: int = 3) -> str:
    """A scalar's value, or a tensor's Euclidean norm: "‖0.12‖" (gradients)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0 or a.size == 1:
        return num(a.reshape(-1)[0], digits)
    return "‖" + num(np.sqrt(np.sum(a * a)), digits) + "‖"


def stats(a) -> dict[str, float]:
    """Statistics for the tensor inspector."""
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    out = {
        "size": float(a.size),
        "nan": float(np.isnan(a).sum()),
        "inf": float(np.isinf(a).sum()),
        "zeros": float((a == 0).sum()) / max(1, a.size),
    }
    if finite.size:
        out.update(mean=float(finite.mean()), std=float(finite.std()),
                   min=float(finite.min()), max=float(finite.max()),
                   norm=float(np.sqrt((finite ** 2).sum())))
    else:
        out.update(mean=np.nan, std=np.nan, min=np.nan, max=np.nan, norm=np.nan)
    return out


def array_text(a, digits: int = 4, max_items: int = 64) -> str:
    """Numbers of a small tensor as text, rows on lines."""
    a = np.asarray(a)
    if a.ndim == 0:
        return num(a, digits)
    if a.size > max_items:
        return shape(a) + " (too large to list; see the heatmap)"
    if a.ndim == 1:
        return "[" + "  ".join(num(v, digits) for v in a) + "]"
    rows = a.reshape(-1, a.shape[-1])
    return "\n".join("[" + "  ".join(num(v, digits) for v in r) + "]" for r in rows)


def to_json(a):
    """A float or nested lists of floats (NaN/Inf as JSON's NaN/Infinity)."""
    a = np.asarray(a, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


# C0 controls (but tab and newline), DEL, C1 controls, and the bidirectional overrides that
# can reorder what a terminal shows
_UNSAFE = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F,
                             *range(0x80, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F),
                             *range(0x2066, 0x206A)]}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object, limit: int | None = None, newlines: bool = False) -> str:
    """Text from a user's file, fit for a terminal: control characters written as `\\x1b`.

    Tabs stay; newlines stay only with `newlines=True` (descriptions), else they show as
    `\\n`. `limit` cuts the text to that many characters with "…". This is about raw
    bytes reaching the terminal; Rich markup is a separate matter: pass the result to
    `rich.text.Text` (never to a markup string) or through `rich.markup.escape`.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif code in _UNSAFE:
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)
