"""Provides DepthPanel: the per-layer activation and gradient histograms (a side view
that `v` reaches in the network screen); it draws what present_depth computed."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tuinn.tui.present_depth import DepthStats
from tuinn.tui.render.depth import DepthTable


class DepthPanel(Widget):
    DEFAULT_CSS = """
    DepthPanel { border: round $primary-darken-2; height: 1fr; padding: 0 1; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stats: DepthStats | None = None
        self.border_title = "by depth: activations and gradients"

    def show(self, stats: DepthStats) -> None:
        self.stats = stats
        self.border_title = f"by depth  it {stats.iteration}"
        self.refresh()

    def render(self):
        if self.stats is None:
            return Text("measuring every layer…", style="italic")
        return DepthTable(self.stats, width=max(24, self.content_region.width or 60),
                          height=self.content_region.height or None,
                          mono=bool(self.app.no_color))
