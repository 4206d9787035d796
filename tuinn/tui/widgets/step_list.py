"""Provides StepList: every step of the pass, like a debugger's source pane.

A step redraws only the rows whose mark changed (the step left, the step reached, the
steps run or undone between them): a pass of thousands of steps costs a few rows a step.
"""

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._steps: list[tuple[str, str, str]] | None = None    # what the options show
        self._state: tuple[int | None, int] = (None, 0)          # their (current, executed)
        self.rows_drawn = 0           # rows made so far (the work a step costs)

    def _row(self, i: int, line: tuple[str, str, str], current: int | None,
             executed: int) -> Text:
        self.rows_drawn += 1
        phase, node, what = line
        mark = "▶" if i == current else ("✓" if i < executed else " ")
        text = Text(f"{mark}{i + 1:>3} ", style="bold" if i == current else "")
        text.append(f"{phase} ", style=PHASE_STYLE.get(phase, ""))
        text.append(f"{safe(node):<8} ", style="bold" if i == current else "")
        text.append(safe(what), style="dim" if i >= executed else "")
        if i == current:
            text.stylize("reverse")
        return text

    def show(self, lines: list[tuple[str, str, str]], current: int | None, executed: int) -> None:
        """lines: (phase, node, what) per step; current: index of the step just run."""
        highlighted = self.highlighted
        if lines == self._steps and len(lines) == self.option_count:
            self._update(current, executed)
        else:
            self._steps = list(lines)
            self.set_options([Option(self._row(i, line, current, executed), id=f"s{i}")
                              for i, line in enumerate(lines)])
        self._state = (current, executed)
        if current is not None:
            self.highlighted = current
            self.scroll_to_highlight()
        elif highlighted is not None and highlighted < len(lines):
            self.highlighted = highlighted

    def _update(self, current: int | None, executed: int) -> None:
        """Redraw the rows whose mark differs between the state shown and this one."""
        was, ran = self._state
        rows = {i for i in (was, current) if i is not None}
        rows.update(range(min(ran, executed), max(ran, executed)))
        for i in sorted(rows):
            if 0 <= i < len(self._steps):
                self._swap(i, self._row(i, self._steps[i], current, executed))
        if rows:
            self.refresh()

    def _swap(self, index: int, prompt: Text) -> None:
        """Give option `index` a new prompt without re-measuring every option: the marks
        (▶ ✓ and a blank) take one cell each, so no row's height changes. A new Option
        object, so no cached rendering of the old one is used."""
        try:
            old = self._options[index]
            new = Option(prompt, id=old.id)
            self._options[index] = new
            self._id_to_option[old.id] = new
            del self._option_to_index[old]
            self._option_to_index[new] = index
        except (AttributeError, KeyError, IndexError):   # another Textual: the public way
            self.replace_option_prompt_at_index(index, prompt)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Jump(event.option_index))
