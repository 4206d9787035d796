"""Provides DataPanel: 2-D data points by class over the model's decision regions."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget

from tuinn.tui.render.decision import DecisionMap


class DataPanel(Widget):
    DEFAULT_CSS = """
    DataPanel { border: round $primary-darken-2; height: 1fr; }
    """

    def __init__(self, points, classes, n_classes: int, regression: bool, **kwargs):
        super().__init__(**kwargs)
        self.points, self.point_classes = points, classes
        self.n_classes, self.regression = n_classes, regression
        self.grid = None
        self.extent = None
        self.border_title = "data and decision regions"

    #: the grid the engine evaluates, kept up to date on resize (read from the engine thread)
    grid_dims: tuple[int, int] = DecisionMap.grid_shape(36, 8)

    class Resized(Message):
        """The grid the engine evaluates has changed size: ask for a new frame."""

    def on_resize(self) -> None:
        dims = self.grid_shape()
        if dims != self.grid_dims:
            self.grid_dims = dims
            self.post_message(self.Resized())

    def grid_shape(self) -> tuple[int, int]:
        """The grid for the current size (the slot's size while hidden)."""
        if self.size.width:
            width, height = self.size.width, self.size.height
        else:                                   # the slot less this panel's border
            gutter = self.styles.gutter
            width = self.parent.size.width - gutter.width
            height = self.parent.size.height - gutter.height
        return DecisionMap.grid_shape(max(8, width), max(3, height - 1))

    def show(self, grid, extent, points=None, title: str = "", subtitle: str = "") -> None:
        """A new grid over extent; with [data] preprocess, also the points it is drawn with
        (raw or preprocessed), a title saying which and a subtitle with their statistics."""
        self.grid, self.extent = grid, extent
        if points is not None:
            self.points = points
        if title:
            self.border_title, self.border_subtitle = title, subtitle
        self.refresh()

    def render(self):
        if self.grid is None:
            return "evaluating the model…"
        return DecisionMap(self.grid, self.points, self.point_classes, extent=self.extent,
                           n_classes=self.n_classes, regression=self.regression,
                           mono=True if self.app.no_color else None)   # NO_COLOR: textures
