"""Provides `load_knn`: the [data] and [knn] tables of a kind = "knn" scenario -> KnnSpec.

The data are read as for networks (generator, inline x and y, or a file); generated
points have [knn] features dimensions. The queries are [knn] queries when given, else
the validation split (which then has labels, so the accuracy can be measured).
"""

from __future__ import annotations

from pathlib import Path

from tuinn.scenario import schema as S
from tuinn.scenario.data_load import load_data
from tuinn.scenario.locate import Where
from tuinn.scenario.spec import KnnSpec

MAX_POINTS = 100_000       # training points: every query measures its distance to each
MAX_QUERIES = 2_000        # queries stepped through (five steps each)


def load_knn(raw: dict, where: Where, dtype: str, base: Path) -> KnnSpec:
    vals = S.check_table(raw.get("knn", {}), S.KNN, "knn", where)
    if "data" not in raw:
        raise where.missing("data", "kind = 'knn' needs a [data] table (the training points)")
    table = raw["data"]
    shape: tuple[int, ...] | None = (vals["features"],)
    if "features" in raw.get("knn", {}) and not (isinstance(table, dict)
                                                 and table.get("generator") is not None):
        raise where.error("features sets the size of generated points; this data has its "
                          "own", "knn.features", "leave features out")
    if isinstance(table, dict) and table.get("x") is not None:
        x = S.to_array(table["x"], dtype, "data.x", where)
        if x.ndim != 2:
            raise where.error("each row of x must be one point: a list of numbers", "data.x",
                              "x = [[0.5, -1.1], [1.6, -1.5]]")
        shape = x.shape[1:]
    elif isinstance(table, dict) and table.get("file") is not None:
        shape = None
    data, samples, data_key = load_data(table, where, dtype, base, shape or (1,))
    if data.y is not None and (data.y.ndim != 1 or data.y.dtype.kind != "i"):
        raise where.error("knn needs one integer class label per point", "data.y",
                          "y = [0, 1, 1, 0]")
    if samples > MAX_POINTS:
        raise where.error(f"{samples:,} points: knn steps through at most {MAX_POINTS:,}",
                          data_key)
    spec = KnnSpec(data=data, k=vals["k"], metric=vals["metric"], weights=vals["weights"],
                   features=vals["features"], input=shape)
    n_val = _held_out(samples, data.validation)
    if vals["queries"] is not None:
        q = S.to_array(vals["queries"], dtype, "knn.queries", where)
        if q.ndim != 2:
            raise where.error("queries must be a list of points, one row each",
                              "knn.queries", "queries = [[0.1, 0.2]]")
        if shape is not None and q.shape[1:] != shape:
            raise where.error(f"each query has {q.shape[1]} numbers but each point has "
                              f"{shape[0]}", "knn.queries")
        if len(q) > MAX_QUERIES:
            raise where.error(f"{len(q):,} queries: at most {MAX_QUERIES:,}", "knn.queries")
        spec.queries = q
    elif n_val == 0:
        raise where.error("no queries: give [knn] queries, or hold some points out with "
                          "[data] validation", "knn" if "knn" in raw else "data",
                          "queries = [[0.1, 0.2]]  or  validation = 0.25")
    elif n_val > MAX_QUERIES:
        raise where.error(f"validation holds out {n_val:,} points: at most {MAX_QUERIES:,} "
                          "queries", "data.validation")
    if data.file is None and spec.k > samples - n_val:
        raise where.error(f"k = {spec.k} but only {samples - n_val} training points",
                          "knn.k", f"use k <= {samples - n_val}")
    return spec


def _held_out(n: int, fraction: float) -> int:
    """How many points data.split holds out for validation."""
    n_val = int(round(float(fraction) * n))
    return 1 if fraction > 0 and n_val == 0 else n_val
