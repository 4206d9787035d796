"""Provides StatusBar: scenario, phase, step k/n, the output value, iteration; and on a
line of its own, why the engine stopped (a breakpoint, a NaN) or what a tool did."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

PHASE_STYLE = {"forward": "bold green", "backward": "bold red", "update": "bold yellow",
               "ready": "bold", "done": "bold cyan", "running": "bold magenta"}


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 3; background: $panel; color: $text; padding: 0 1;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, name: str, phase: str, tick: int, total: int, value: str,
             extra: str = "", message: str = "") -> None:
        line = Text.assemble(("tuinn ", "bold"), (name, "bold"), "  ", no_wrap=True,
                             overflow="ellipsis")
        line.append(f" {phase} ", style=PHASE_STYLE.get(phase, "bold") + " reverse")
        line.append(f"  step {tick}/{total}  ")
        line.append(value, style="bold")
        if extra:
            line.append("  " + extra, style="dim")
        if not message:
            self.update(line)
            return
        self.update(Group(line, Text("▸ " + message, style="bold yellow")))
