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

    @property
    def log_scale(self) -> bool:
        return self.wide if self.log_y is None else self.log_y

    def toggle_log(self) -> None:
        self.log_y = not self.log_scale
        self.show(self.train, self.val, self.marker, self.wide)

    def show(self, train: list[float], val: list[float], marker: int | None,
             wide: bool = False) -> None:
        """wide: the losses span more than three decades (the engine says so)."""
        self.train, self.val, self.marker, self.wide = train, val, marker, wide
        self.border_title = "loss" + (" (log)" if self.log_scale else "") + \
            (f"  it {marker}: {train[marker]:.4g}" if marker is not None and marker < len(train) else "")
        self.refresh()

    def render(self):
        series = [("train", self.train, "cyan")]
        if any(v == v for v in self.val):
            series.append(("validation", self.val, "magenta"))
        return LinePlot(series, width=max(20, self.size.width), height=max(5, self.size.height),
                        log_y=self.log_scale, marker_x=self.marker)
