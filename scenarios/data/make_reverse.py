"""Provides the data of the bundled scenario `bigru-reverse`: sequences and their reversal.

    python scenarios/data/make_reverse.py [--out scenarios/data/reverse.npz]

x (N, T, S): N = 1000 sequences of T = 8 symbols drawn uniformly from S = 4, one-hot;
y (N, T): at every position t the symbol at T-1-t, the sequence read backwards. The
first half of the answer is the end of the input, which a left-to-right network has
not read yet when it must answer: only a bidirectional one can. A fixed seed (0): the
file is the same every time it is made. Saved as a plain .npz (no pickles).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "reverse.npz"
N, T, S = 1000, 8, 4


def make(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, T, S) one-hot float64, y (N, T) int64 reversed symbols)."""
    rng = np.random.default_rng(seed)
    sym = rng.integers(0, S, size=(N, T))                       # (N, T)
    x = np.zeros((N, T, S))
    np.put_along_axis(x, sym[:, :, None], 1.0, axis=2)
    return x, sym[:, ::-1].astype(np.int64).copy()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    out = ap.parse_args(argv).out
    x, y = make()
    np.savez(out, x=x, y=y)
    print(f"wrote {out}: x {x.shape}, y {y.shape}")


if __name__ == "__main__":
    main()
