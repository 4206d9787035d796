"""Provides StatusBar: scenario, phase, step k/n, the output value, iteration, run speed;
and on a line of its own, why the engine stopped (a breakpoint, a NaN) or what a tool did.

The first line never ends in a cut word: when it is too wide, the lower-priority parts
go first (the trailing extras, then the word "tuinn"), then the scenario's name is
shortened; phase, step and value always show. The message line wraps.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from tuinn.fmt import safe

PHASE_STYLE = {"forward": "bold green", "backward": "bold red", "update": "bold yellow",
               "ready": "bold", "done": "bold cyan", "running": "bold magenta",
               "compiling": "bold yellow"}


def status_line(width: int, name: str, phase: str, tick: int, total: int, value: str,
                extras: tuple[str, ...] = (), important: int = 2) -> Text:
    """The first line fitted to `width` cells (see the module's docstring); the first
    `important` extras give way only after the name has been shortened to 10 cells."""
    core = Text()
    core.append(f" {phase} ", style=PHASE_STYLE.get(phase, "bold") + " reverse")
    core.append(f"  step {tick}/{total}")
    if value:
        core.append("  ")
        core.append(value, style="bold")
    extras = [e for e in extras if e]
    n = len(extras)
    room = width - core.cell_len
    short = min(len(name), 10)
    candidates = ([("tuinn ", n, len(name))]
                  + [("", k, len(name)) for k in range(n, min(n, important) - 1, -1)]
                  + [("", k, short) for k in range(min(n, important), -1, -1)])
    brand, keep = "", 0
    for brand, keep, least in candidates:
        tail = "".join("  " + e for e in extras[:keep])
        if len(brand) + least + 2 + len(tail) <= room:
            break
    else:
        brand, keep = "", 0
    tail = "".join("  " + e for e in extras[:keep])
    space = room - len(brand) - 2 - len(tail)
    shown = name if len(name) <= space else (name[:space - 1] + "…" if space > 1 else "")
    line = Text(brand, style="bold")
    line.append(shown, style="bold")
    if brand or shown:
        line.append("  ")
    line.append_text(core)
    if tail:
        line.append(tail, style="dim")
    return line


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 3; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._args: tuple | None = None

    def show(self, name: str, phase: str, tick: int, total: int, value: str,
             extras: tuple[str, ...] = (), message: str = "") -> None:
        name, message = safe(name), safe(message, newlines=True)     # text from the file
        self._args = (name, phase, tick, total, value, tuple(extras), message)
        self._draw()

    def _draw(self) -> None:
        if self._args is None:
            return
        *line_args, message = self._args
        width = self.content_size.width or max(self.app.size.width - 2, 20)
        line = status_line(width, *line_args)
        line.no_wrap = True
        if not message:
            self.update(line)
            return
        self.update(Group(line, Text("▸ " + message, style="bold")))

    def on_resize(self) -> None:
        self._draw()


def history_figure(count: int, limit: int, nbytes: int) -> str:
    """"history 12/200 3.4 MB": iterations one can step back into (never above the
    limit) and the memory every kept snapshot holds (parameters and optimizer state)."""
    count = max(0, min(count, limit))
    if nbytes < 1024 * 1024:
        size = f"{nbytes / 1024:.0f} KB"
    elif nbytes < 1024 ** 3:
        size = f"{nbytes / 1024 ** 2:.1f} MB"
    else:
        size = f"{nbytes / 1024 ** 3:.2f} GB"
    return f"history {count}/{limit} {size}"
