"""Provides the GAN screen's panels: GanPlot (real and generated points over D's belief,
with G's push as arrows) and GanSide (the numbers, what the step does, both losses)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from tuinn.tui.present_gan import GanFrame
from tuinn.tui.render.gan_map import GanMap
from tuinn.tui.render.plot import LinePlot
from tuinn.tui.widgets.map_panel import MapPanel


class GanPlot(MapPanel):
    """The grid it keeps (`grid_dims`) is where the engine evaluates D."""

    DEFAULT_CSS = """
    GanPlot { border: round $primary-darken-2; height: 1fr; width: 1fr; }
    GanPlot:focus { border: round $accent; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.frame: GanFrame | None = None
        self.border_title = "real ● and generated ◆ over D(x)"

    def show(self, frame: GanFrame) -> None:
        self.frame = frame
        where = "+ D says real, = fake" if self.app.no_color else "blue: D says real"
        self.border_subtitle = f"◆ {frame.which} · {where}"
        self.refresh()

    def render(self):
        f = self.frame
        if f is None:
            return "measuring…"
        return GanMap(f.grid, f.real, f.fake, f.push, extent=f.extent,
                      mono=True if self.app.no_color else None)


class GanSide(Widget):
    DEFAULT_CSS = """
    GanSide { border: round $primary-darken-2; height: 1fr; width: 32; padding: 0 1; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.frame: GanFrame | None = None
        self.border_title = "the duel"

    def show(self, frame: GanFrame) -> None:
        self.frame = frame
        self.refresh()

    def render(self):
        f = self.frame
        if f is None:
            return ""
        out = [Text(f.explain, style="italic")]
        width = max(len(k) for k, _ in f.rows)
        for key, value in f.rows:
            out.append(Text.assemble((key.ljust(width), "bold"), "  ", value))
        used = len(out) + (len(f.explain) // max(1, self.size.width - 2))
        height = self.size.height - used
        if height >= 5 and (f.d_loss or f.g_loss):
            out.append(LinePlot([("D loss", f.d_loss, "magenta"), ("G loss", f.g_loss, "cyan")],
                                width=max(20, self.size.width - 2), height=height))
        return Group(*out)
