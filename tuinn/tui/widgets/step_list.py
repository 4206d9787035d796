"""Provides StepList: every step of the pass, like a debugger's source pane."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuinn.fmt import safe

PHASE_STYLE = {"fwd": "green", "bwd": "red", "upd": "yellow"}


class StepList(OptionList):
    """Enter on a step runs (or rewinds) the pass to it."""

    DEFAULT_CSS = """
    StepList { border: round $primary-darken-2; }
    StepList:focus { border: round $accent; }
    """

    BINDINGS = [Binding("enter", "select", "Run to step")]

    @dataclass
    class Jump(Message):
        index: int

    def show(self, lines: list[tuple[str, str, str]], current: int | None, executed: int) -> None:
        """lines: (phase, node, what) per step; current: index of the step just run."""
        highlighted = self.highlighted
        options = []
        for i, (phase, node, what) in enumerate(lines):
            mark = "▶" if i == current else ("✓" if i < executed else " ")
            text = Text(f"{mark}{i + 1:>3} ", style="bold" if i == current else "")
            text.append(f"{phase} ", style=PHASE_STYLE.get(phase, ""))
            text.append(f"{safe(node):<8} ", style="bold" if i == current else "")
            text.append(safe(what), style="dim" if i >= executed else "")
            if i == current:
                text.stylize("reverse")
            options.append(Option(text, id=f"s{i}"))
        self.set_options(options)
        if current is not None:
            self.highlighted = current
            self.scroll_to_highlight()
        elif highlighted is not None and highlighted < len(options):
            self.highlighted = highlighted

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Jump(event.option_index))
