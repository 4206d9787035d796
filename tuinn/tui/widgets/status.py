"""Provides StatusBar: scenario, phase, step k/n, iteration and the output value."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

PHASE_STYLE = {"forward": "bold green", "backward": "bold red", "update": "bold yellow",
               "ready": "bold", "done": "bold cyan", "running": "bold magenta"}


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def show(self, name: str, phase: str, tick: int, total: int, value: str,
             extra: str = "", message: str = "") -> None:
        text = Text.assemble(("tuinn ", "bold"), (name, "bold"), "  ")
        text.append(f" {phase} ", style=PHASE_STYLE.get(phase, "bold") + " reverse")
        text.append(f"  step {tick}/{total}  ")
        text.append(value, style="bold")
        if extra:
            text.append("  " + extra)
        if message:
            text.append("  " + message, style="bold yellow")
        self.update(text)
