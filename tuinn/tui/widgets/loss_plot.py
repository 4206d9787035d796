"""Provides LossPanel: training and validation loss per iteration, live in run mode."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from tuinn.tui.render.plot import LinePlot


class LossPanel(Widget):
    DEFAULT_CSS = """
    LossPanel { border: round $primary-darken-2; height: 1fr; }
    """
    log_y: reactive[bool] = reactive(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.train: list[float] = []
        self.val: list[float] = []
        self.marker: int | None = None

    def show(self, train: list[float], val: list[float], marker: int | None) -> None:
        self.train, self.val, self.marker = train, val, marker
        self.border_title = "loss" + (" (log)" if self.log_y else "") + \
            (f"  it {marker}: {train[marker]:.4g}" if marker is not None and marker < len(train) else "")
        self.refresh()

    def render(self):
        series = [("train", self.train, "cyan")]
        if any(v == v for v in self.val):
            series.append(("validation", self.val, "magenta"))
        return LinePlot(series, width=max(20, self.size.width), height=max(5, self.size.height),
                        log_y=self.log_y, marker_x=self.marker)
