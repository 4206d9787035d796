"""Helpers for driving the app in tests: build it, wait for the engine thread."""

from __future__ import annotations

import asyncio

from conftest import SCENARIOS


def make_app(name: str):
    from tuinn.engine.build import open_session
    from tuinn.tui.app import TuinnApp
    spec, session = open_session(str(SCENARIOS / f"{name}.toml"))
    return TuinnApp(spec, session)


async def settle(pilot, timeout: float = 60.0) -> None:
    """Wait until warm-up and every key's engine command has finished and been drawn."""
    app = pilot.app
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        screen = next((s for s in reversed(app.screen_stack) if hasattr(s, "controller")), None)
        ctl = getattr(screen, "controller", None)
        if ctl is not None and screen.ready and not ctl.busy and ctl._queue.empty() and not ctl.running:
            break
        await asyncio.sleep(0.02)
    for _ in range(3):
        await pilot.pause()


async def press(pilot, *keys: str) -> None:
    await settle(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def run_async(fn):
    """Run an async test body with asyncio (no pytest plugin needed)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return wrapper


def text_of(widget, width: int = 200) -> str:
    """The plain text a Static (or a widget's render()) shows."""
    from rich.console import Console
    content = getattr(widget, "content", None)
    if content is None or isinstance(content, str) and not content:
        content = widget.render()
    console = Console(width=width, record=True, color_system=None, file=__import__("io").StringIO())
    console.print(content)
    return console.export_text()
