"""Provides GraphView: the circuit diagram, fitted to the panel or full size (scrolling),
with a node selection."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Static

from tuinn.tui.render.circuit import CircuitDiagram


class GraphView(ScrollableContainer, can_focus=True):
    """Up/Down select a node for the inspector; Shift+arrows pan."""

    DEFAULT_CSS = """
    GraphView { border: round $primary-darken-2; }
    GraphView:focus { border: round $accent; }
    GraphView { scrollbar-size: 1 1; }
    GraphView > Static { width: auto; height: auto; }
    """
    BINDINGS = [
        Binding("up,k", "select(-1)", "Prev node", show=False),
        Binding("down,j", "select(1)", "Next node", show=False),
        Binding("shift+left", "scroll_left", "Pan left", show=False),
        Binding("shift+right", "scroll_right", "Pan right", show=False),
        Binding("shift+up", "scroll_up", "Pan up", show=False),
        Binding("shift+down", "scroll_down", "Pan down", show=False),
    ]

    @dataclass
    class Selected(Message):
        node: str

    @dataclass
    class Fitted(Message):
        """The fitted picture needs this many rows (border included); the rest of its
        room can go to another panel."""
        rows: int

    def __init__(self, order: list[str], **kwargs):
        super().__init__(**kwargs)
        self.order = order            # nodes in selection order
        self.selected: str | None = None
        self.source = None            # what show() was given: a drawing, or a FitCircuit
        self.diagram: CircuitDiagram | None = None     # the drawing on screen
        self.fit = True               # FitCircuit: fitted to the panel, else full size
        self.room = None              # () -> the most rows the picture may take (else the panel's)
        self._follow_node: str | None = None

    def compose(self):
        yield Static(id="diagram")

    def show(self, diagram, follow: str | None) -> None:
        """diagram: a CircuitDiagram (drawn as it is), or a FitCircuit (laid out to fit
        the panel, or at full size after `toggle_fit`)."""
        self.source, self._follow_node = diagram, follow
        self._draw()

    def toggle_fit(self) -> None:
        self.fit = not self.fit
        self._draw()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        """Lay the picture out again for the panel's (or its room's) current size."""
        if hasattr(self.source, "fit"):
            self._draw()

    def _draw(self) -> None:
        source = self.source
        if source is None:
            return
        if hasattr(source, "fit"):
            width, height = self.content_region.size
            room = self.room() if self.room is not None else None
            height = room if room else height
            if self.fit and (width <= 0 or height <= 0):
                return                                  # not laid out yet: on_resize draws
            drawing = source.fit(width, height) if self.fit else source.full()
            other = "full size" if self.fit else "fit"
            self.border_subtitle = f"{drawing.layout} · z {other}"
            if room:
                w, h = drawing.size()
                rows = h if self.fit and w <= width and h <= room else room
                self.post_message(self.Fitted(rows + self.styles.gutter.height))
        else:
            drawing = source
        self.diagram = drawing
        self.query_one("#diagram", Static).update(drawing)
        if self._follow_node is not None:
            self.call_after_refresh(self._follow, self._follow_node)

    def _follow(self, node: str) -> None:
        if self.diagram is None or node not in self.diagram.nodes:
            return
        x, y, w, h = self.diagram.node_box(node)
        width, height = self.diagram.size()
        # the view from the panel's size and the drawing's (not from whichever
        # scrollbars happen to show right now), so the same state scrolls the same way
        view_w, view_h = self.content_region.size
        if height > view_h:
            view_w -= 1
        if width > view_w:
            view_h -= 1
        # centre the node when the drawing is larger than the panel: the most context around it
        sx = min(max(0, x + w // 2 - view_w // 2), max(0, width - view_w))
        sy = min(max(0, y + h // 2 - view_h // 2), max(0, height - view_h))
        self.scroll_to(sx, sy, animate=False)

    def action_select(self, delta: int) -> None:
        if not self.order:
            return
        i = self.order.index(self.selected) if self.selected in self.order else -1
        self.selected = self.order[(i + delta) % len(self.order)]
        self.post_message(self.Selected(self.selected))
