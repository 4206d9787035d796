"""Provides LoadingScreen: the first frame, shown while the engine builds the scenario."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static

from tuinn.fmt import safe


class LoadingScreen(Screen):
    DEFAULT_CSS = """
    LoadingScreen Static { width: auto; padding: 1 2; }
    LoadingScreen LoadingIndicator { height: 3; }
    """

    def __init__(self, name: str):
        super().__init__()
        self.scenario_name = name
        self.pending: list[str] = []       # keys typed before the debugger was ready

    def on_key(self, event: events.Key) -> None:
        if event.key not in ("ctrl+c", "ctrl+q"):
            self.pending.append(event.key)
            event.stop()

    def compose(self) -> ComposeResult:
        with Middle():
            with Center():
                yield Static(Text(f"tuinn · {safe(self.scenario_name)}\nbuilding the network "
                                  "and loading the compiled kernels…"))   # the name: text, not markup
            yield LoadingIndicator()
        yield Footer()
