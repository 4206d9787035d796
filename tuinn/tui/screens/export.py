"""Provides ExportDialog: where to save the selected tensor (.npy/.csv) or the trace (.jsonl),
asking before it overwrites a file that exists (ConfirmOverwrite)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from tuinn.fmt import safe
from tuinn.tui.screens.ask import TypeAhead, dialog_css


class ConfirmOverwrite(ModalScreen[bool]):
    """"FILE exists: overwrite it?" y or Enter overwrites; n or Escape goes back."""

    DEFAULT_CSS = """
    ConfirmOverwrite { align: center middle; }
    ConfirmOverwrite > Vertical { width: 64; height: auto; border: round $warning;
        background: $surface; padding: 1 2; }
    ConfirmOverwrite Label { width: 100%; }
    ConfirmOverwrite Label#keys { color: $text-muted; }
    """
    BINDINGS = [Binding("y,enter", "answer(True)", "Overwrite"),
                Binding("n,escape", "answer(False)", "Go back")]

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text.assemble((safe(self.path, limit=200), "bold"),
                                      " exists. Overwrite it?"), id="question")
            yield Label(Text("y or Enter overwrites it · n or Escape goes back"),
                        id="keys")

    def action_answer(self, overwrite: bool) -> None:
        self.dismiss(overwrite)


class ExportDialog(TypeAhead, ModalScreen[tuple[str, str] | None]):
    DEFAULT_CSS = dialog_css("ExportDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, path: str, choices: list[str], suffixes: tuple[str, ...]):
        super().__init__()
        self.title_text, self.path, self.choices, self.suffixes = title, path, choices, suffixes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"{safe(self.title_text)} (Enter saves, Escape cancels)"))
            if len(self.choices) > 1:
                yield Select([(c, c) for c in self.choices], value=self.choices[0],
                             allow_blank=False, id="what")
            yield Input(self.path, id="path")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        error = self.query_one("#error", Label)
        if not path.endswith(self.suffixes):
            error.update("the file name must end in " + " or ".join(self.suffixes))
            return
        if Path(path).is_dir():
            error.update(Text(f"{safe(path, limit=60)} is a folder: give a file name"))
            return
        what = str(self.query_one("#what", Select).value) if len(self.choices) > 1 else self.choices[0]
        if not Path(path).exists():
            self.dismiss((what, path))
            return

        def answered(overwrite: bool | None) -> None:
            if overwrite:
                self.dismiss((what, path))
            else:
                error.update("")
                self.query_one("#path", Input).focus()
        self.app.push_screen(ConfirmOverwrite(path), answered)

    def action_cancel(self) -> None:
        self.dismiss(None)
