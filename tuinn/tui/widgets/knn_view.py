"""Provides KnnPlot: the knn screen's map of the points, the query and the k nearest over
the decision regions (KnnDetail, beside it, is in knn_detail.py)."""

from __future__ import annotations

from tuinn.tui.present_knn import KnnFrame
from tuinn.tui.render.decision import CLASS_GLYPHS
from tuinn.tui.render.knn_map import KnnMap
from tuinn.tui.widgets.map_panel import MapPanel


def glyph(k: int) -> str:
    return CLASS_GLYPHS[int(k) % len(CLASS_GLYPHS)]


class KnnPlot(MapPanel):
    DEFAULT_CSS = """
    KnnPlot { border: round $primary-darken-2; height: 1fr; width: 1fr; }
    KnnPlot:focus { border: round $accent; }
    """
    TEXT_ROWS = 2                          # the map's footer and the marks' legend

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.frame: KnnFrame | None = None
        self.border_title = "points and decision regions"

    def show(self, frame: KnnFrame) -> None:
        self.frame = frame
        self.border_title = ("points (PCA projection: the top two axes)" if frame.projected
                             else "points and decision regions")
        self.border_subtitle = (f"k = {frame.k} · {frame.metric} · {frame.weights}"
                                + (f" · {frame.space}" if frame.space else ""))
        self.refresh()

    def render(self):
        f = self.frame
        if f is None:
            return "measuring…"
        if f.stage is None:
            legend = f"query q{f.query_index}"
        elif f.ranked:
            legend = f"q{f.query_index}  1…{min(f.k, 9)} the nearest"
        else:
            dots = "•••" if self.app.no_color and f.regions else "···"
            legend = f"q{f.query_index}  {dots} measured"
        return KnnMap(f.grid, f.points, f.classes, extent=f.extent, n_classes=f.n_classes,
                      query_xy=f.query_xy, ranked=f.ranked, lines_to=f.lines_to,
                      prediction=f.prediction, regions=f.regions,
                      mono=True if self.app.no_color else None, legend=legend)
