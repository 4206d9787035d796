"""Provides HelpScreen: every key, and the scenario's description."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def __init__(self, keys: list[tuple[str, str]], title: str, description: str):
        super().__init__()
        self.keys = keys
        self.title_text = title
        self.description = description

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"| `{k}` | {what} |" for k, what in self.keys)
        text = (f"# {self.title_text}\n\n{self.description.strip()}\n\n## Keys\n\n"
                f"| key | what it does |\n|---|---|\n{rows}\n\n"
                "Values are green, gradients red and marked ∇. Press Escape to close.")
        with VerticalScroll():
            yield Markdown(text)
