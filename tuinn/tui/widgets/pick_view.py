"""Provides PickView: a layer's own view in which ↑/↓ pick one item (a word, a feature,
a position) and Shift+↑/↓ scroll; the screen hears `Changed` and redraws with it.

Subclasses name their item, count the items of their data, title the panel and render
the data; they declare `class Changed(PickView.Changed)` so each has its own handler
(`on_embed_view_changed`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import RenderableType
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static


def pick_bindings(item: str) -> list[Binding]:
    return [Binding("up,k", "pick(-1)", f"Prev {item}", show=False),
            Binding("down,j", "pick(1)", f"Next {item}", show=False),
            Binding("shift+up", "scroll_up", "Scroll up", show=False),
            Binding("shift+down", "scroll_down", "Scroll down", show=False)]


class PickView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    PickView { border: round $primary-darken-2; padding: 0 1; height: 1fr; min-height: 8; }
    PickView:focus { border: round $accent; }
    PickView > Static { width: 100%; height: auto; }
    """

    @dataclass
    class Changed(Message):
        layer: str
        selected: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.data = None

    def compose(self):
        yield Static()

    # what a subclass says
    def count(self, data) -> int:
        raise NotImplementedError

    def title(self, data) -> str:
        raise NotImplementedError

    def draw(self, data, width: int, height: int) -> RenderableType:
        raise NotImplementedError

    def show(self, data) -> None:
        self.data = data
        self.border_title = self.title(data)
        width = max(20, self.scrollable_content_region.width or 80)
        height = max(8, self.scrollable_content_region.height or 20)
        self.query_one(Static).update(self.draw(data, width, height))

    def on_resize(self) -> None:
        if self.data is not None:
            self.show(self.data)

    def action_pick(self, delta: int) -> None:
        d = self.data
        if d is None:
            return
        i = min(max(0, d.selected + delta), self.count(d) - 1)
        if i != d.selected:
            self.post_message(self.Changed(d.layer, i))
