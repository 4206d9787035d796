"""Provides NetworkView: the network as a layer picture sized to its panel, with a layer
selection (Up/Down) and one layer expanded into its gates below the picture (Enter)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Static

from tuinn.tui.render.circuit import CircuitDiagram
from tuinn.tui.render.layers import LayerDiagram


class NetworkView(ScrollableContainer, can_focus=True):
    """Up/Down select a layer (and an expanded layer's parameters) for the inspector;
    Enter expands the selected layer into its gates and collapses it again."""

    DEFAULT_CSS = """
    NetworkView { border: round $primary-darken-2; scrollbar-size: 1 1; }
    NetworkView:focus { border: round $accent; }
    NetworkView > #layers { width: 100%; height: auto; }
    NetworkView > #cell { width: auto; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "select(-1)", "Prev layer", show=False),
        Binding("down,j", "select(1)", "Next layer", show=False),
        Binding("enter", "expand", "Expand layer"),
        Binding("shift+left", "scroll_left", "Pan left", show=False),
        Binding("shift+right", "scroll_right", "Pan right", show=False),
        Binding("shift+up", "scroll_up", "Pan up", show=False),
        Binding("shift+down", "scroll_down", "Pan down", show=False),
    ]

    @dataclass
    class Selected(Message):
        node: str

    @dataclass
    class Expand(Message):
        node: str

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.order: list[str] = []      # boxes (and an expanded layer's parameters) in order
        self.selected: str | None = None
        self.diagram: LayerDiagram | None = None
        self.cell: tuple[CircuitDiagram, str] | None = None

    def compose(self):
        yield Static(id="layers")
        yield Static(id="cell")

    def show(self, diagram: LayerDiagram, order: list[str],
             cell: tuple[CircuitDiagram, str] | None = None) -> None:
        self.diagram, self.order, self.cell = diagram, order, cell
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.diagram is None:
            return
        height = self.content_region.height
        body = self.query_one("#cell", Static)
        if self.cell is None:
            self.diagram.height, self.diagram.max_level = height, 0
            self.border_subtitle = None
            body.display = False
        else:
            circuit, heading = self.cell
            # the picture gives the expanded circuit the room: small boxes at most, or a
            # line of names
            self.diagram.height = max(1, height - circuit.size()[1])
            self.diagram.max_level = 1
            self.border_subtitle = heading
            body.update(circuit)
            body.display = True
        self.query_one("#layers", Static).update(self.diagram)

    def action_select(self, delta: int) -> None:
        if not self.order:
            return
        i = self.order.index(self.selected) if self.selected in self.order else -1
        self.selected = self.order[(i + delta) % len(self.order)]
        self.post_message(self.Selected(self.selected))

    def action_expand(self) -> None:
        if self.selected is not None:
            self.post_message(self.Expand(self.selected))
