"""Provides EditInput: a dialog to change an input's value ("what if x were 4?")."""

from __future__ import annotations

import json

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from tuinn.tui.screens.ask import TypeAhead, dialog_css


def parse_value(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """A number or nested list (JSON syntax, data only) of the given shape."""
    try:
        value = np.asarray(json.loads(text), dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError("enter a number, or nested lists like [[1, 2], [3, 4]]") from None
    if value.shape != shape:
        raise ValueError(f"needs shape {shape}, got {value.shape}")
    return value


class EditInput(TypeAhead, ModalScreen[tuple[str, np.ndarray] | None]):
    DEFAULT_CSS = dialog_css("EditInput", 64)
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, inputs: dict[str, np.ndarray], selected: str):
        super().__init__()
        self.inputs = inputs
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Change an input and recompute")
            yield Label("Enter applies, Escape cancels", id="hint")
            yield Select([(n, n) for n in self.inputs], value=self.selected, allow_blank=False,
                         id="name")
            yield Input(self._text(self.selected), id="value")
            yield Label("", id="error")

    def _text(self, name: str) -> str:
        return json.dumps(np.asarray(self.inputs[name]).tolist())

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.query_one("#value", Input).value = self._text(str(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = str(self.query_one("#name", Select).value)
        try:
            value = parse_value(event.value, np.shape(self.inputs[name]))
        except ValueError as err:
            self.query_one("#error", Label).update(str(err))
            return
        self.dismiss((name, value))

    def action_cancel(self) -> None:
        self.dismiss(None)
