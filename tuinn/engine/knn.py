"""Provides KnnProgram: k nearest neighbours as steps, five per query.

For each query: the distance to every training point, the sort (ties: the lower
training index first), the k nearest, the vote (uniform, or 1/d where a distance of 0
wins outright) and the prediction (a tie between classes goes to the class of the
nearest neighbour among the tied classes). The numbers are plain NumPy; `classify` is
the same computation in one call, for the decision regions and the accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinn.engine.program import Step
from tuinn.engine.tape import Tape
from tuinn.errors import TuinnError
from tuinn.scenario.data import load_csv, load_npz, load_data, split
from tuinn.scenario.preprocess import Preprocess, fit
from tuinn.scenario.schema import MAX_CLASSES
from tuinn.scenario.spec import Spec

STAGES = ("distances", "sort", "nearest", "vote", "predict")
METRICS = ("l2", "l1", "cosine")
WEIGHTS = ("uniform", "distance")


# ------------------------------------------------------------------ the numbers
def distances(x: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Distance from the point q (D,) to every row of x (N, D)."""
    if metric == "l2":
        return np.sqrt(((x - q) ** 2).sum(axis=1))
    if metric == "l1":
        return np.abs(x - q).sum(axis=1)
    if metric == "cosine":       # 1 - cos; a zero vector is at distance 1 from everything
        nx, nq = np.sqrt((x * x).sum(axis=1)), np.sqrt(float(q @ q))
        den = nx * nq
        sim = np.divide(x @ q, den, out=np.zeros(len(x)), where=den > 0)
        return 1.0 - np.clip(sim, -1.0, 1.0)
    raise ValueError(f"unknown metric {metric!r}")


def nearest(d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(the sort order, the k nearest indices): a stable sort, so ties keep index order."""
    order = np.argsort(d, kind="stable")
    return order, order[:k]


def k_nearest(d: np.ndarray, k: int) -> np.ndarray:
    """The k nearest indices, nearest first, ties by lower index: the same as
    `nearest(d, k)[1]` without sorting every distance (for the decision regions)."""
    if k >= len(d):
        return np.argsort(d, kind="stable")
    kth = np.partition(d, k - 1)[k - 1]
    near = np.flatnonzero(d <= kth)                 # ascending indices
    return near[np.argsort(d[near], kind="stable")][:k]


def vote(labels: np.ndarray, d: np.ndarray, weights: str) -> dict[int, float]:
    """Votes per class of the k nearest (labels and d nearest first); only classes with
    weight > 0. With weights = "distance" and a neighbour at distance 0, only the
    neighbours at distance 0 vote (weight 1 each)."""
    if weights == "distance":
        zero = d == 0
        w = zero.astype(float) if zero.any() else 1.0 / d
    else:
        w = np.ones(len(labels))
    out: dict[int, float] = {}
    for c, wi in zip(labels.tolist(), w.tolist()):
        if wi > 0:
            out[int(c)] = out.get(int(c), 0.0) + float(wi)
    return out


def predict(votes: dict[int, float], labels: np.ndarray) -> int:
    """The class with most weight; a tie goes to the tied class of the nearest neighbour."""
    top = max(votes.values())
    tied = {c for c, w in votes.items() if w == top}
    return next(int(c) for c in labels.tolist() if int(c) in tied)


def classify(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int, metric: str,
             weights: str) -> int:
    d = distances(x, q, metric)
    nn = k_nearest(d, k)
    return predict(vote(y[nn], d[nn], weights), y[nn])


CHUNK = 1 << 21            # distances computed at once by classify_many (G x N x D)


def classify_many(x: np.ndarray, y: np.ndarray, points: np.ndarray, k: int, metric: str,
                  weights: str) -> np.ndarray:
    """`classify` at every row of `points`, vectorised in chunks (the decision regions):
    the same distances, neighbours, sums in the same order and tie rules."""
    n, dims = x.shape
    k = min(k, n)
    classes = int(y.max()) + 1 if len(y) else 1
    out = np.empty(len(points), dtype=np.int64)
    step = max(1, CHUNK // max(1, n * dims))
    for lo in range(0, len(points), step):
        q = points[lo:lo + step]
        if metric == "l2":
            d = np.sqrt(((x[None, :, :] - q[:, None, :]) ** 2).sum(axis=2))
        elif metric == "l1":
            d = np.abs(x[None, :, :] - q[:, None, :]).sum(axis=2)
        else:
            d = np.stack([distances(x, p, metric) for p in q])
        nn = np.argsort(d, axis=1, kind="stable")[:, :k]
        dn = np.take_along_axis(d, nn, axis=1)
        labels = y[nn]
        if weights == "distance":
            zero = dn == 0
            w = np.where(zero.any(axis=1, keepdims=True), zero.astype(float),
                         1.0 / np.where(zero, 1.0, dn))
        else:
            w = np.ones_like(dn)
        votes = np.zeros((len(q), classes))
        rows = np.repeat(np.arange(len(q)), k)
        np.add.at(votes, (rows, labels.ravel()), w.ravel())      # in neighbour order
        tied = votes == votes.max(axis=1, keepdims=True)
        first = np.argmax(np.take_along_axis(tied, labels, axis=1), axis=1)
        out[lo:lo + step] = labels[np.arange(len(q)), first]
    return out


@dataclass
class Query:
    """One query's results so far (None: that stage has not run)."""
    index: int
    point: np.ndarray                  # as given (before preprocessing)
    at: np.ndarray                     # in the space distances are measured in
    label: int | None = None           # its true class, when it came from the data
    distances: np.ndarray | None = None
    order: np.ndarray | None = None
    neighbors: np.ndarray | None = None
    votes: dict | None = None
    prediction: int | None = None


# ------------------------------------------------------------------ the program
class KnnProgram:
    kind = "knn"

    def __init__(self, spec: Spec):
        knn = spec.knn
        self.spec = spec
        self.file = spec.info.path or None
        self.dtype = np.dtype(spec.info.dtype)
        rng = np.random.default_rng(int(spec.info.seed))
        x, y = self._load(spec, rng)
        if y.ndim != 1 or y.dtype.kind != "i":
            raise TuinnError("knn needs one integer class label per point", file=self.file,
                             line=spec.lines.get("data"), key="data")
        if len(y) and (y.min() < 0 or y.max() >= MAX_CLASSES):
            raise TuinnError(f"class labels must be in [0, {MAX_CLASSES - 1}], got "
                             f"{int(y.min() if y.min() < 0 else y.max())}", file=self.file,
                             line=spec.lines.get("data.y", spec.lines.get("data")),
                             key="data.y" if knn.data.y is not None else "data")
        x = x.reshape(len(x), -1)
        self.raw_x, self.y, raw_val, self.y_val = split(x, y, knn.data.validation, rng)
        try:
            self.prep: Preprocess = fit(self.raw_x, knn.data.preprocess)
        except TuinnError as err:
            err.file, err.line = self.file, spec.lines.get("data.preprocess")
            raise
        self.x = self.prep.apply(self.raw_x)
        self.prep_on = True                      # [data] preprocess applied (p toggles it)
        self.k, self.metric, self.weights = knn.k, knn.metric, knn.weights
        if knn.queries is not None:
            raw_q, labels = np.asarray(knn.queries, dtype=self.dtype), None
        else:
            raw_q, labels = raw_val, self.y_val
        if raw_q.shape[1:] != self.raw_x.shape[1:]:
            raise TuinnError(f"each query has {raw_q.shape[1]} numbers but each point has "
                             f"{self.raw_x.shape[1]}", file=self.file,
                             line=spec.lines.get("knn.queries"), key="knn.queries")
        if self.k > len(self.x):
            raise TuinnError(f"k = {self.k} but only {len(self.x)} training points",
                             file=self.file, line=spec.lines.get("knn.k"), key="knn.k",
                             hint=f"use k <= {len(self.x)}")
        self.queries = [Query(i, raw_q[i].copy(), self.prep.apply(raw_q[i:i + 1])[0],
                              None if labels is None else int(labels[i]))
                        for i in range(len(raw_q))]
        self.labelled = labels is not None
        self.classes = sorted({int(c) for c in self.y.tolist()} |
                              ({int(c) for c in labels.tolist()} if labels is not None else set()))
        self.steps = [Step(len(STAGES) * q.index + j, stage, f"q{q.index}", stage,
                           self._stage(q.index, stage), info={"query": q.index})
                      for q in self.queries for j, stage in enumerate(STAGES)]

    def _load(self, spec: Spec, rng):
        data = spec.knn.data
        shape = spec.knn.input
        if shape is None:                       # a data file: its rows' shape
            x, _ = (load_npz if str(data.file).lower().endswith(".npz") else load_csv)(
                str(data.file))
            shape = tuple(int(d) for d in np.shape(x)[1:]) or (1,)
        try:
            return load_data(data, shape, rng, self.dtype)
        except TuinnError as err:
            if err.key == "model.input":        # a generator that makes only 2-D points
                err.key, err.line = "knn.features", spec.lines.get("knn.features")
                err.message = err.message.replace("[model] input", "[knn] features")
                err.hint = "use features = 2"
            raise

    # ------------------------------------------------------------------ state
    def reset(self, tape: Tape) -> None:
        tape.clear()
        for q in self.queries:
            q.distances = q.order = q.neighbors = q.votes = q.prediction = None

    def query_of(self, step: Step | None) -> Query | None:
        return None if step is None else self.queries[step.info["query"]]

    def set_k(self, k: int) -> None:
        self.k = max(1, min(int(k), len(self.x)))

    def set_metric(self, metric: str) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        self.metric = metric

    def set_weights(self, weights: str) -> None:
        if weights not in WEIGHTS:
            raise ValueError(f"unknown weights {weights!r}")
        self.weights = weights

    def set_preprocess(self, on: bool) -> None:
        """Measure distances after [data] preprocess (on) or on the raw numbers (off)."""
        self.prep_on = bool(on) and bool(self.prep.steps)
        self.x = self.prep.apply(self.raw_x) if self.prep_on else self.raw_x
        for q in self.queries:
            q.at = self.prep.apply(q.point[None, :])[0] if self.prep_on else q.point.copy()

    def move_query(self, index: int, point: np.ndarray) -> None:
        """Put query `index` at `point` (in the space distances are measured in);
        its true label no longer applies."""
        q = self.queries[index]
        q.at = np.asarray(point, dtype=np.float64).reshape(q.at.shape)
        q.label = None
        q.point = self.prep.invert(q.at[None, :])[0] if self.prep_on else q.at.copy()

    def set_input(self, name: str, value) -> None:
        """Session.set_input: "q<i>" moves a query."""
        if not name.startswith("q") or not name[1:].isdigit():
            raise ValueError(f"no query named {name!r}")
        self.move_query(int(name[1:]), value)

    # ------------------------------------------------------------------ steps
    def _stage(self, i: int, stage: str):
        def run(tape: Tape) -> None:
            q = self.queries[i]
            if stage == "distances":
                q.distances = distances(self.x, q.at, self.metric)
            elif stage == "sort":
                q.order, _ = nearest(q.distances, self.k)
            elif stage == "nearest":
                q.neighbors = q.order[:self.k]
            elif stage == "vote":
                q.votes = vote(self.y[q.neighbors], q.distances[q.neighbors], self.weights)
            else:
                q.prediction = predict(q.votes, self.y[q.neighbors])
            tape.values[f"q{i}.{stage}"] = self._value(q, stage)
        return run

    def _value(self, q: Query, stage: str):
        if stage == "distances":
            return q.distances
        if stage == "sort":
            return q.order
        if stage == "nearest":
            return q.neighbors
        if stage == "vote":
            return np.array([q.votes.get(c, 0.0) for c in self.classes])
        return np.array(q.prediction)

    def step_record(self, tape: Tape, step: Step) -> dict:
        return {"value": tape.values[f"{step.node}.{step.phase}"]}

    # ------------------------------------------------------------------ results
    def event(self, q: Query) -> dict:
        """The contract's query event (after the query's predict step)."""
        nn = q.neighbors
        return {"event": "query", "index": q.index, "query": q.point.tolist(),
                "neighbors": [int(i) for i in nn],
                "distances": [float(v) for v in q.distances[nn]],
                "votes": {str(c): w for c, w in sorted(q.votes.items())},
                "prediction": int(q.prediction)}

    def accuracy(self) -> float | None:
        done = [q for q in self.queries if q.label is not None and q.prediction is not None]
        if not self.labelled or not done:
            return None
        return sum(q.prediction == q.label for q in done) / len(done)

    def classify(self, points: np.ndarray) -> np.ndarray:
        """The prediction at each row of `points` (in the preprocessed space)."""
        return classify_many(self.x, self.y, np.asarray(points, dtype=np.float64), self.k,
                             self.metric, self.weights)
