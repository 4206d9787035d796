"""Provides ExportDialog: where to save the selected tensor (.npy/.csv) or the trace (.jsonl)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select


class ExportDialog(ModalScreen[tuple[str, str] | None]):
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 70; height: auto; border: round $accent;
        background: $surface; padding: 1 2; }
    ExportDialog Label#error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, path: str, choices: list[str], suffixes: tuple[str, ...]):
        super().__init__()
        self.title_text, self.path, self.choices, self.suffixes = title, path, choices, suffixes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.title_text} (Enter saves, Escape cancels)")
            if len(self.choices) > 1:
                yield Select([(c, c) for c in self.choices], value=self.choices[0],
                             allow_blank=False, id="what")
            yield Input(self.path, id="path")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path.endswith(self.suffixes):
            self.query_one("#error", Label).update("the file name must end in " + " or ".join(self.suffixes))
            return
        what = str(self.query_one("#what", Select).value) if len(self.choices) > 1 else self.choices[0]
        self.dismiss((what, path))

    def action_cancel(self) -> None:
        self.dismiss(None)
