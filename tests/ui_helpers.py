"""Helpers for driving the app in tests: build it, wait for the engine thread."""

from __future__ import annotations

import asyncio

from conftest import SCENARIOS


def make_app(name: str):
    from tuinn.engine.build import open_session
    from tuinn.tui.app import TuinnApp
    spec, session = open_session(str(SCENARIOS / f"{name}.toml"))
    return TuinnApp(spec, session)


from tuinn.tui.headless import press, settle  # noqa: E402,F401  (one driver for app and tests)


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
