"""Provides the knn screen's presenter: everything it draws, read off a KnnProgram on the
engine thread (projection, decision regions, the stage's table, votes and prediction).

Points with more than two features are shown on the training split's first two
principal axes (a PCA projection); the decision regions are drawn only for 2-D points,
where every cell of the map is a point the classifier can be asked about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn import fmt

STAGE_SHORT = {"distances": "dist", "sort": "sort", "nearest": "near", "vote": "vote",
               "predict": "pred"}
METRIC_FORMULA = {"l2": "d = √Σ(xᵢ − qᵢ)²", "l1": "d = Σ|xᵢ − qᵢ|",
                  "cosine": "d = 1 − x·q / (‖x‖ ‖q‖)"}
MARGIN = 0.08


@dataclass
class KnnFrame:
    """One frame of the knn screen (plain numbers and strings; no math left to do)."""
    points: np.ndarray                  # (N, 2) training points as drawn
    classes: np.ndarray                 # (N,) their labels
    n_classes: int
    extent: tuple[float, float, float, float]
    grid: np.ndarray                    # decision regions (GH, GW) (zeros when not drawn)
    regions: bool                       # False: no regions (a projection)
    projected: bool                     # True: a PCA projection of more features
    k: int
    metric: str
    weights: str
    query_index: int                    # the query the cursor is on
    n_queries: int
    query_xy: tuple[float, float]       # where it is drawn
    query_text: str                     # its coordinates as given
    stage: str | None                   # the last stage run for this query (None: none)
    ranked: list[int] = field(default_factory=list)     # the k nearest, nearest first
    lines_to: list[int] = field(default_factory=list)   # training points with a line drawn
    rows: list[tuple[str, ...]] = field(default_factory=list)   # the table's rows
    header: tuple[str, ...] = ()
    cut: int | None = None              # the row after which "k nearest" ends
    votes: list[tuple[int, str, float]] = field(default_factory=list)   # class, weight, share
    prediction: int | None = None
    label: int | None = None
    done: tuple[int, int] = (0, 0)      # (right, labelled queries predicted)
    space: str = ""                     # "after standardize" / "raw numbers" / "" (none)
    formula: str = ""


def _projection(prog) -> tuple[np.ndarray, np.ndarray | None]:
    """(mean, basis (D, 2)) for more than 2 features; (0, None) for 2-D points."""
    x = prog.x
    if x.shape[1] <= 2:
        return np.zeros(x.shape[1]), None
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:2].T


class KnnPresenter:
    """Keeps the projection and the last decision grid (recomputed only when k, the
    metric, the weights or the grid's size change)."""

    def __init__(self, prog):
        self.prog = prog
        self._grid_key = None
        self._grid = None
        self._space = None
        self._fit_space()

    def _fit_space(self) -> None:
        """The projection and the map's base extent, for the space the distances are
        measured in now (after preprocessing, or the raw numbers)."""
        prog = self.prog
        if self._space == prog.prep_on:
            return
        self._space = prog.prep_on
        self.mean, self.basis = _projection(prog)
        self.points = self.project(prog.x)
        allq = np.array([q.at for q in prog.queries]).reshape(-1, prog.x.shape[1])
        self.base = np.vstack([self.points, self.project(allq)]) if len(allq) else self.points

    def project(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if self.basis is None:
            return x if x.shape[1] == 2 else np.column_stack([x[:, 0], np.zeros(len(x))])
        return (x - self.mean) @ self.basis

    def unproject(self, delta: tuple[float, float]) -> np.ndarray:
        """A move on the screen (dx, dy) as a move in the points' space."""
        d = np.asarray(delta, dtype=np.float64)
        if self.basis is None:
            return d[:self.prog.x.shape[1]]
        return self.basis @ d

    def move(self, qi: int, dx: float, dy: float, dims: tuple[int, int]) -> None:
        """Move query qi by (dx, dy) times the map's width, on the map."""
        q = self.prog.queries[qi]
        x0, x1, _, _ = self.extent(dims, self.project(q.at[None, :]))
        self.prog.move_query(qi, q.at + self.unproject((dx * (x1 - x0), dy * (x1 - x0))))

    def extent(self, dims: tuple[int, int], extra: np.ndarray) -> tuple[float, float, float, float]:
        """Covering the points and queries, with equal scales on both axes (a circle
        looks round: a grid cell is about as wide as it is tall)."""
        pts = np.vstack([self.base, extra.reshape(-1, 2)])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.maximum(hi - lo, 1e-9)
        lo, hi = lo - span * MARGIN, hi + span * MARGIN
        gh, gw = dims
        per = max((hi[0] - lo[0]) / gw, (hi[1] - lo[1]) / gh)
        cx, cy = (lo + hi) / 2
        cy += per / 2          # the centre mid-cell: points a hair apart share a cell
        return (cx - per * gw / 2, cx + per * gw / 2, cy - per * gh / 2, cy + per * gh / 2)

    def grid(self, dims: tuple[int, int], extent) -> np.ndarray | None:
        prog = self.prog
        if self.basis is not None or prog.x.shape[1] != 2:
            return None
        key = (dims, extent, prog.k, prog.metric, prog.weights, prog.prep_on)
        if key != self._grid_key:
            gh, gw = dims
            x0, x1, y0, y1 = extent
            xs = x0 + (np.arange(gw) + 0.5) * (x1 - x0) / gw      # cell centres
            ys = y1 - (np.arange(gh) + 0.5) * (y1 - y0) / gh
            gx, gy = np.meshgrid(xs, ys)
            pts = np.column_stack([gx.ravel(), gy.ravel()])
            self._grid = prog.classify(pts).reshape(gh, gw)
            self._grid_key = key
        return self._grid

    # ------------------------------------------------------------------ the frame
    def frame(self, session, dims: tuple[int, int], height: int) -> KnnFrame:
        """The frame for a map of `dims` and a detail panel `height` rows high."""
        prog = self.prog
        self._fit_space()
        table_rows = max(3, height - 9 - len(prog.classes))     # the votes stay in view
        step = session.current
        qi = step.info["query"] if step is not None else 0
        q = prog.queries[qi]
        stage = step.phase if step is not None else None
        qxy = self.project(q.at[None, :])[0]
        extent = self.extent(dims, qxy)
        labelled = [p for p in prog.queries if p.label is not None and p.prediction is not None]
        f = KnnFrame(points=self.points, classes=prog.y,
                     n_classes=max(prog.classes) + 1 if prog.classes else 1,
                     extent=extent, grid=self.grid(dims, extent), regions=True,
                     projected=self.basis is not None, k=prog.k, metric=prog.metric,
                     weights=prog.weights, query_index=qi, n_queries=len(prog.queries),
                     query_xy=(float(qxy[0]), float(qxy[1])), query_text=_point(q.point),
                     stage=stage, label=q.label, formula=METRIC_FORMULA[prog.metric],
                     done=(sum(p.prediction == p.label for p in labelled), len(labelled)),
                     space=("" if not prog.prep.steps else "after " + ", ".join(prog.prep.steps)
                            if prog.prep_on else "raw numbers"))
        if f.grid is None:
            f.grid, f.regions = np.zeros(dims, dtype=np.int64), False
        if q.distances is None:
            return f
        d = q.distances
        if q.order is None:                      # distances: the table in training order
            f.header = ("i", "class", "distance", "point")
            shown = list(range(min(table_rows, len(d))))
            f.rows = [(str(i), str(int(prog.y[i])), fmt.num(d[i], 4), _point(prog.raw_x[i]))
                      for i in shown]
            f.lines_to = shown
            return f
        f.header = ("#", "i", "class", "distance")
        rows = list(q.order[:max(table_rows, 1)])
        f.rows = [(str(r + 1), str(int(i)), str(int(prog.y[i])), fmt.num(d[i], 4))
                  for r, i in enumerate(rows)]
        f.cut = min(prog.k, len(rows)) if q.order is not None else None
        if q.neighbors is not None:
            f.ranked = [int(i) for i in q.neighbors]
            f.lines_to = f.ranked
        else:
            f.lines_to = [int(i) for i in q.order[:prog.k]]
        if q.votes is not None:
            top = max(q.votes.values())
            f.votes = [(c, fmt.num(w, 3), w / top)
                       for c, w in sorted(q.votes.items(), key=lambda cw: (-cw[1], cw[0]))]
        f.prediction = q.prediction
        return f


def _point(p: np.ndarray) -> str:
    p = np.asarray(p).ravel()
    if len(p) <= 3:
        return "(" + ", ".join(fmt.num(v, 3) for v in p) + ")"
    return f"({fmt.num(p[0], 3)}, {fmt.num(p[1], 3)}, … {len(p)} values)"


def step_line(session, index: int) -> tuple[str, str, str]:
    """(stage, query, what it does) for the step list."""
    step = session.steps[index]
    prog = session.program
    what = {"distances": "distances", "sort": "sort", "nearest": f"{prog.k} nearest",
            "vote": "vote", "predict": "predict"}[step.phase]
    return STAGE_SHORT[step.phase], step.node, what
