"""Provides export: a tensor to .npy or .csv, a pass's trace to JSON Lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuinn.errors import TuinnError


def save_tensor(array, path: str) -> str:
    """Write a tensor: .npy keeps the shape; .csv writes rows of the last axis."""
    a = np.asarray(array, dtype=np.float64)
    p = Path(path)
    try:
        if p.suffix == ".npy":
            np.save(p, a, allow_pickle=False)
        elif p.suffix == ".csv":
            rows = a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
            np.savetxt(p, rows, delimiter=",", fmt="%.17g",
                       header=f"shape {tuple(a.shape)}; rows of the last axis")
        else:
            raise TuinnError(f"cannot export to {p.suffix or 'a file without suffix'}",
                             hint="use .npy or .csv")
    except OSError as err:
        raise TuinnError(f"cannot write {path}: {err.strerror}") from None
    return str(p)


def save_events(events: list[dict], path: str) -> str:
    """Write events as JSON Lines, strict JSON (NaN and Inf as "nan", "inf", "-inf")."""
    from tuinn.engine.trace import json_line
    try:
        with open(path, "w", encoding="utf-8") as f:
            for ev in events:
                f.write(json_line(ev) + "\n")
    except OSError as err:
        raise TuinnError(f"cannot write {path}: {err.strerror}") from None
    return path
