"""Provides DebugPanel: breakpoints (enabled, hit counts) and watches (live values)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuinn.fmt import safe


@dataclass(frozen=True)
class DebugRow:
    kind: str            # "breakpoint" | "watch"
    index: int
    text: str
    enabled: bool = True
    hits: int = 0
    value: str = ""


class DebugPanel(OptionList):
    """Space toggles the highlighted breakpoint; x (or delete) removes a row."""

    DEFAULT_CSS = """
    DebugPanel { height: auto; max-height: 45%; border: round $primary-darken-2; }
    DebugPanel:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("space,enter", "toggle_row", "Toggle breakpoint", show=False),
        Binding("x,delete", "remove_row", "Remove breakpoint/watch", show=False),
    ]

    @dataclass
    class Toggle(Message):
        index: int

    @dataclass
    class Remove(Message):
        kind: str
        index: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[DebugRow] = []

    def show(self, rows: list[DebugRow]) -> None:
        highlighted = self.highlighted
        self.rows = rows
        options: list[Option] = []
        for row in rows:
            if row.kind == "breakpoint":
                text = Text("● " if row.enabled else "○ ", style="bold red" if row.enabled else "dim")
                text.append(safe(row.text), style="" if row.enabled else "dim")
                text.append(f"  hits {row.hits}", style="dim")
            else:
                text = Text("= ", style="bold cyan")
                text.append(safe(row.text))
                text.append("  " + row.value, style="bold" if row.value != "not yet" else "dim")
            options.append(Option(text))
        if not options:
            options.append(Option(Text("no breakpoints or watches: B adds a breakpoint, "
                                       "W a watch", style="dim"), disabled=True))
        self.set_options(options)
        if highlighted is not None and highlighted < len(rows):
            self.highlighted = highlighted
        n_bp = sum(r.kind == "breakpoint" for r in rows)
        self.border_title = f"breakpoints {n_bp} · watches {len(rows) - n_bp}"

    def _row(self) -> DebugRow | None:
        i = self.highlighted
        return self.rows[i] if i is not None and i < len(self.rows) else None

    def action_toggle_row(self) -> None:
        row = self._row()
        if row is not None and row.kind == "breakpoint":
            self.post_message(self.Toggle(row.index))

    def action_remove_row(self) -> None:
        row = self._row()
        if row is not None:
            self.post_message(self.Remove(row.kind, row.index))
