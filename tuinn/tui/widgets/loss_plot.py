"""Provides LossPanel: training and validation loss per iteration, live in run mode."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from tuinn.tui.render.plot import LinePlot


class LossPanel(Widget):
    DEFAULT_CSS = """
    LossPanel { border: round $primary-darken-2; height: 1fr; }
    """
    log_y: reactive[bool | None] = reactive(None)     # None: log when the range is wide

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.train: list[float] = []
        self.val: list[float] = []
        self.marker: int | None = None
        self.wide = False
        self.x_scale, self.x_last, self.marker_value = 1.0, None, None

    @property
    def log_scale(self) -> bool:
        return self.wide if self.log_y is None else self.log_y

    def toggle_log(self) -> None:
        self.log_y = not self.log_scale
        self.show(self.train, self.val, self.marker, self.wide, self.x_scale, self.x_last,
                  self.marker_value)

    def show(self, train, val, marker: int | None, wide: bool = False, x_scale: float = 1.0,
             x_last: int | None = None, marker_value: float | None = None) -> None:
        """The engine's curves (tuinn.engine.lossseries.LossView: per iteration, or a
        long run's summary with `x_scale` iterations per point); wide: the losses span
        more than three decades; marker_value: the loss at iteration `marker`."""
        self.train, self.val, self.marker, self.wide = train, val, marker, wide
        self.x_scale, self.x_last, self.marker_value = x_scale, x_last, marker_value
        self.border_title = "loss" + (" (log)" if self.log_scale else "") + \
            (f"  it {marker}: {marker_value:.4g}" if marker is not None and marker_value is not None
             else "")
        self.refresh()

    def render(self):
        series = [("train", self.train, "cyan")]
        if any(v == v for v in self.val):
            series.append(("validation", self.val, "magenta"))
        return LinePlot(series, width=max(20, self.size.width), height=max(5, self.size.height),
                        log_y=self.log_scale, marker_x=self.marker, x_scale=self.x_scale,
                        x_last=self.x_last)
