"""Provides [data] preprocess: center, standardize, pca and whiten, fitted on the training
split and applied with the same statistics to every other split.

The steps run in the order given, which must follow center < standardize < pca < whiten
(each at most once): centring after a rotation, or scaling after whitening, undoes or
repeats work and is refused. `pca` rotates the centred data onto the eigenvectors of its
covariance (largest variance first, covariance = X^T X / N); `whiten` also divides each
rotated feature by the square root of its eigenvalue, so the training split's covariance
becomes the identity (`whiten` without `pca` rotates first as well: PCA whitening).
A sample of any shape is treated as its flat vector of features, and keeps its shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn.errors import TuinnError

STEPS = ("center", "standardize", "pca", "whiten")
WHAT = {"center": "subtract each feature's mean",
        "standardize": "subtract each feature's mean and divide by its standard deviation",
        "pca": "rotate onto the principal axes (largest variance first)",
        "whiten": "rotate onto the principal axes and scale each to variance 1"}
MAX_PCA_FEATURES = 2048        # an eigendecomposition of D x D: beyond, refuse
FLAT = 1e-12                   # a variance this small (relative) is a flat direction: kept


def order_problem(steps: list[str]) -> tuple[str, str] | None:
    """(what is wrong, a hint) for an order that is not sensible, else None."""
    seen: list[str] = []
    for s in steps:
        if s not in STEPS:
            return f"unknown step {s!r}", "steps: " + ", ".join(STEPS)
        if s in seen:
            return f"{s!r} appears twice", "give each step once"
        later = [p for p in seen if STEPS.index(p) > STEPS.index(s)]
        if later:
            return (f"{s!r} after {later[0]!r} undoes or repeats its work",
                    "use this order: " + ", ".join(x for x in STEPS if x in steps))
        seen.append(s)
    return None


@dataclass
class Preprocess:
    """Statistics fitted on a training split; `apply` transforms any split with them."""
    steps: list[str]
    mean: np.ndarray | None = None       # (D,) subtracted first (center, standardize, pca)
    scale: np.ndarray | None = None      # (D,) divides after centring (standardize)
    basis: np.ndarray | None = None      # (D, D) columns: the principal axes (pca, whiten)
    eigvals: np.ndarray | None = None    # (D,) variance along each axis, descending
    divide: np.ndarray | None = None     # (D,) sqrt(eigenvalue) (whiten; 1 on flat axes)
    before: dict = field(default_factory=dict)   # training split's mean / std, before
    after: dict = field(default_factory=dict)    # and after

    def apply(self, x: np.ndarray) -> np.ndarray:
        if not self.steps or len(x) == 0:
            return x
        shape, dtype = x.shape, x.dtype
        h = x.reshape(len(x), -1).astype(np.float64)
        if self.mean is not None:
            h = h - self.mean
        if self.scale is not None:
            h = h / self.scale
        if self.basis is not None:
            h = h @ self.basis
        if self.divide is not None:
            h = h / self.divide
        return np.ascontiguousarray(h.reshape(shape), dtype=dtype)


    def invert(self, h: np.ndarray) -> np.ndarray:
        """The point before preprocessing that `apply` maps to `h` (N, ...)."""
        if not self.steps or len(h) == 0:
            return h
        shape = h.shape
        x = h.reshape(len(h), -1).astype(np.float64)
        if self.divide is not None:
            x = x * self.divide
        if self.basis is not None:
            x = x @ self.basis.T                 # the basis is orthonormal
        if self.scale is not None:
            x = x * self.scale
        if self.mean is not None:
            x = x + self.mean
        return x.reshape(shape)


def _stats(h: np.ndarray) -> dict:
    return {"mean": h.mean(axis=0), "std": h.std(axis=0)}


def fit(x: np.ndarray, steps: list[str], key: str = "data.preprocess") -> Preprocess:
    """Fit the steps on the training split `x` (N, ...)."""
    steps = list(steps)
    bad = order_problem(steps)
    if bad:
        raise TuinnError(f"preprocess: {bad[0]}", key=key, hint=bad[1])
    prep = Preprocess(steps)
    if not steps:
        return prep
    if x.dtype.kind not in "fiu":
        raise TuinnError("preprocess needs numeric samples", key=key)
    h = x.reshape(len(x), -1).astype(np.float64)
    d = h.shape[1]
    rotate = "pca" in steps or "whiten" in steps
    if rotate and d > MAX_PCA_FEATURES:
        raise TuinnError(f"pca/whiten of {d:,} features per sample: at most "
                         f"{MAX_PCA_FEATURES:,}", key=key, hint="use center or standardize")
    prep.before = _stats(h)
    prep.mean = h.mean(axis=0)
    h = h - prep.mean
    if "standardize" in steps:
        std = h.std(axis=0)
        prep.scale = np.where(std > 0, std, 1.0)
        h = h / prep.scale
    if rotate:
        cov = h.T @ h / len(h)
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1]
        vals, vecs = np.clip(vals[order], 0.0, None), vecs[:, order]
        # a fixed sign per axis (largest entry positive), so a run is reproducible
        signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(d)])
        vecs = vecs * np.where(signs == 0, 1.0, signs)
        prep.basis, prep.eigvals = vecs, vals
        h = h @ vecs
        if "whiten" in steps:
            flat = vals <= FLAT * max(float(vals.max()), 1e-300)
            prep.divide = np.where(flat, 1.0, np.sqrt(np.where(flat, 1.0, vals)))
            h = h / prep.divide
    prep.after = _stats(h)
    return prep


def describe(prep: Preprocess) -> list[str]:
    """One line a step, for the check summary and the help."""
    return [f"{s}: {WHAT[s]}" for s in prep.steps]
