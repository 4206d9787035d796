"""Provides AskNumber: a small dialog asking for an integer in a range."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class AskNumber(ModalScreen[int | None]):
    DEFAULT_CSS = """
    AskNumber { align: center middle; }
    AskNumber > Vertical { width: 50; height: auto; border: round $accent;
        background: $surface; padding: 1 2; }
    AskNumber Label#error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, low: int, high: int, value: int):
        super().__init__()
        self.prompt, self.low, self.high, self.value = prompt, low, high, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.prompt} ({self.low}..{self.high}); Enter, or Escape")
            yield Input(str(self.value), type="integer", id="number")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            n = int(event.value)
        except ValueError:
            n = None
        if n is None or not self.low <= n <= self.high:
            self.query_one("#error", Label).update(f"enter a whole number from {self.low} to {self.high}")
            return
        self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskText(ModalScreen[str | None]):
    """A line of text (a breakpoint condition, a watch expression), checked by `validate`
    (which returns an error message, or None when the text is fine)."""

    DEFAULT_CSS = """
    AskText { align: center middle; }
    AskText > Vertical { width: 80; height: auto; border: round $accent;
        background: $surface; padding: 1 2; }
    AskText Label#error { color: $error; }
    AskText Label { width: 100%; }
    AskText Label#examples { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, examples: str, validate):
        super().__init__()
        self.prompt, self.examples, self.validate = prompt, examples, validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.prompt} (Enter adds, Escape cancels)")
            yield Label(self.examples, id="examples")
            yield Input(id="text")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = self.validate(event.value)
        if error:
            self.query_one("#error", Label).update(error)
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
