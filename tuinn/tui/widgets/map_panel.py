"""Provides MapPanel: a focusable panel whose map the engine evaluates on a grid sized to
the panel; it keeps `grid_dims` up to date on resize and posts `Resized` when it changes.

KnnPlot and GanPlot are MapPanels; a screen handles `on_map_panel_resized` by asking for
a new frame (the engine thread reads `grid_dims` when it computes one).
"""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget

from tuinn.tui.render.decision import DecisionMap


class MapPanel(Widget):
    can_focus = True

    #: text lines below the map (its footer, a legend): the grid gets the rest
    TEXT_ROWS = 1
    #: the grid the engine evaluates, kept up to date on resize (read on the engine thread)
    grid_dims: tuple[int, int] = DecisionMap.grid_shape(40, 12)

    class Resized(Message):
        """The map's size changed: ask for a new frame."""

    def on_resize(self) -> None:
        dims = DecisionMap.grid_shape(max(8, self.size.width),
                                      max(3, self.size.height - self.TEXT_ROWS))
        if dims != self.grid_dims:
            self.grid_dims = dims
            self.post_message(self.Resized())
