"""Provides KnnScreen: k nearest neighbours stepped query by query: the points and the
query over the decision regions, the distances, the sort, the k nearest, the vote and the
prediction; k, the metric and the weights change live, and shift+arrows move the query."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from tuinn.engine.knn import METRICS, STAGES, WEIGHTS
from tuinn.tui.present_knn import KnnPresenter, step_line
from tuinn.tui.screens.base import DebuggerScreen
from tuinn.tui.widgets.knn_detail import KnnDetail
from tuinn.tui.widgets.knn_view import KnnPlot

#: the debugger's keys that have no meaning for knn (no gradients, breakpoints, names)
NOT_FOR_KNN = frozenset({"gradcheck", "export_tensor", "export_trace", "add_breakpoint",
                         "add_watch", "find", "slower", "faster"})
MOVE = 0.04        # shift+arrow moves the query by this share of the map's width


class KnnScreen(DebuggerScreen):
    BINDINGS = [b for b in DebuggerScreen.BINDINGS if b.action not in ("finish", "pass_start")] + [
        Binding("f", "finish", "Finish", tooltip="Finish the query: on to its prediction"),
        Binding("g", "pass_start", "Query start", show=False,
                tooltip="Back to the start of the query"),
        Binding("k", "more_k", "k+1", key_display="k/K",
                tooltip="One more neighbour (K: one fewer); the regions redraw"),
        Binding("K", "fewer_k", "k-1", show=False, tooltip="One neighbour fewer"),
        Binding("m", "metric", "Metric", tooltip="Next distance metric: l2, l1, cosine"),
        Binding("w", "weights", "Weights", tooltip="Votes uniform or weighted by 1/distance"),
        Binding("c", "run_all", "All queries", tooltip="Run every query to its prediction"),
        Binding("p", "preprocess", "Preprocess",
                tooltip="[data] preprocess on or off: distances on the raw numbers"),
        Binding("shift+left", "move(-1, 0)", "Move query", key_display="shift+←↑↓→",
                tooltip="Move the query (shift+arrows); it is classified again"),
        Binding("shift+right", "move(1, 0)", "Move right", show=False),
        Binding("shift+up", "move(0, 1)", "Move up", show=False),
        Binding("shift+down", "move(0, -1)", "Move down", show=False),
    ]
    UNUSED_ACTIONS = NOT_FOR_KNN
    FOOTER_FIRST = ("step", "back", "finish", "more_k", "metric", "preprocess", "move",
                    "weights", "run_all", "toggle_steps")

    def __init__(self, spec, session):
        super().__init__(spec, session)
        self.presenter = KnnPresenter(session.program)

    def compose_panels(self) -> ComposeResult:
        with Horizontal(id="knn"):
            yield KnnPlot(id="plot")
            yield KnnDetail(id="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one("#debug").display = False      # no breakpoints or watches in knn
        self.query_one(KnnPlot).focus()

    def _warm(self, session) -> str:
        """Nothing to compile: knn is plain NumPy."""
        return "warm"

    def check_action(self, action: str, parameters) -> bool | None:
        if action in NOT_FOR_KNN:
            return False
        if action == "preprocess":                 # only with [data] preprocess
            return bool(self.session.program.prep.steps)
        return super().check_action(action, parameters)

    # ------------------------------------------------------------------ frames
    def frame(self, s) -> dict:
        prog = s.program
        step = s.current
        q = prog.query_of(step) or prog.queries[0]
        value = f"q{q.index} → {q.prediction}" if q.prediction is not None else f"q{q.index}"
        acc = prog.accuracy()
        extra = (f"k {prog.k} · {prog.metric} · {prog.weights}"
                 + ("" if not prog.prep.steps else " · raw" if not prog.prep_on else ""),
                 *(() if acc is None else (f"accuracy {acc:.0%} so far",)))
        rows = self.query_one(KnnDetail).rows
        return {"status": (s.phase if step is None or s.at_end else step.phase, s.tick,
                           s.total, value, extra),
                "debug": [],
                "lines": [step_line(s, i) for i in range(len(s.steps))],
                "current": step.index if step else None, "done": s.done_steps,
                "knn": self.presenter.frame(s, self.query_one(KnnPlot).grid_dims, rows)}

    def draw(self, f: dict) -> None:
        super().draw(f)
        if "knn" in f:
            self.query_one(KnnPlot).show(f["knn"])
            self.query_one(KnnDetail).show(f["knn"])

    def on_map_panel_resized(self) -> None:
        self.refresh_frame()

    def on_resize(self) -> None:
        self.refresh_frame()

    # ------------------------------------------------------------------ keys
    def _again(self, change, message: str = "") -> None:
        """Change the program, then recompute up to where the cursor is."""
        def go(s):
            here = s.tick
            self.message = change(s.program) or message
            s.goto(0)
            s.goto(here)
        self._do(go)

    def action_more_k(self) -> None:
        self._again(lambda p: (p.set_k(p.k + 1), f"k = {p.k}: the regions redraw")[1])

    def action_fewer_k(self) -> None:
        self._again(lambda p: (p.set_k(p.k - 1), f"k = {p.k}: the regions redraw")[1])

    def action_metric(self) -> None:
        def nxt(p):
            p.set_metric(METRICS[(METRICS.index(p.metric) + 1) % len(METRICS)])
            return f"metric {p.metric}: distances measured again"
        self._again(nxt)

    def action_weights(self) -> None:
        def nxt(p):
            p.set_weights(WEIGHTS[(WEIGHTS.index(p.weights) + 1) % len(WEIGHTS)])
            return f"weights {p.weights}"
        self._again(nxt)

    def action_preprocess(self) -> None:
        def flip(p):
            p.set_preprocess(not p.prep_on)
            return ("distances after " + ", ".join(p.prep.steps) if p.prep_on
                    else "distances on the raw numbers (preprocess off)")
        self._again(flip)

    def action_move(self, dx: int, dy: int) -> None:
        def go(s):
            step = s.current
            qi = step.info["query"] if step is not None else 0
            self.presenter.move(qi, dx * MOVE, dy * MOVE, self.query_one(KnnPlot).grid_dims)
            here = s.tick
            if here == 0:               # before the first step: measure the moved query
                here = len(STAGES)
            s.goto(0)
            s.goto(here)
            self.message = f"q{qi} moved: classified again (its true class no longer applies)"
        self._do(go)

    def action_finish(self) -> None:
        """f: to the prediction of the current query (or of the next one, when there)."""
        def go(s):
            n = len(STAGES)
            done = s.tick
            target = (done // n + (0 if done % n else 1)) * n
            s.goto(min(target, s.total))
        self._do(go)

    def action_pass_start(self) -> None:
        """g: back to the start of the current query."""
        def go(s):
            n = len(STAGES)
            s.goto(max(0, (s.tick - 1) // n * n))
        self._do(go)

    def action_run_all(self) -> None:
        self._do(lambda s: s.run_to_end())
