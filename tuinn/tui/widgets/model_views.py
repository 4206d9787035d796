"""Provides the side panel's model views: FitPanel (a 1-D regression's data and the
model's curve) and TextPanel (text a character model writes); they only draw what
present_side computed on the engine thread."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tuinn import fmt
from tuinn.tui.present_side import FitData, GeneratedText
from tuinn.tui.render.fit import FitPlot


class FitPanel(Widget):
    DEFAULT_CSS = """
    FitPanel { border: round $primary-darken-2; height: 1fr; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data: FitData | None = None
        self.border_title = "fit: data and prediction"

    def show(self, data: FitData, iteration: int) -> None:
        self.data = data
        self.border_title = f"fit  it {iteration}"
        self.refresh()

    def render(self):
        if self.data is None:
            return Text("evaluating the model…", style="italic")
        d = self.data
        return FitPlot(d.x, d.y, d.curve_x, d.curve_y, width=max(8, self.size.width),
                       height=max(4, self.size.height))


class TextPanel(Widget):
    DEFAULT_CSS = """
    TextPanel { border: round $primary-darken-2; height: 1fr; padding: 0 1; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data: GeneratedText | None = None
        self.border_title = "generated text"

    def show(self, data: GeneratedText, iteration: int) -> None:
        self.data = data
        self.border_title = f"generated text  it {iteration}"
        self.refresh()

    def render(self):
        if self.data is None:
            return Text("the model is writing…", style="italic")
        stream = Text()
        stream.append(fmt.safe(self.data.prompt), style="dim underline")
        stream.append(fmt.safe(self.data.text), style="bold")
        width = max(8, self.content_region.width or 36)      # a stream: cut anywhere
        text = Text("\n").join(stream.divide(range(width, len(stream), width)))
        text.append(f"\n\nafter the first {len(self.data.prompt)} characters (underlined), each "
                    "one is the model's most likely next character", style="dim italic")
        return text
