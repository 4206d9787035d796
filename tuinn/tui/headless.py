"""Provides headless driving of the app: press keys, wait for the engine, export the
screen as SVG or plain text (`tuinn snapshot`, and the tests)."""

from __future__ import annotations

import asyncio
import html
import re

from tuinn.errors import TuinnError


def engine_idle(app) -> bool:
    """True when warm-up and every submitted engine command have finished."""
    screen = next((s for s in reversed(app.screen_stack) if hasattr(s, "controller")), None)
    if screen is None:
        return False
    ctl = screen.controller
    return screen.ready and not ctl.busy and not ctl.running


async def settle(pilot, timeout: float = 180.0) -> None:
    """Wait until the engine is idle and its last change has been drawn."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not engine_idle(pilot.app):
        await asyncio.sleep(0.02)
    for _ in range(3):
        await pilot.pause()


async def press(pilot, *keys: str, timeout: float = 180.0) -> None:
    """Press keys one at a time, letting the engine finish each one's work."""
    await settle(pilot, timeout)
    for key in keys:
        await pilot.press(key)
        await settle(pilot, timeout)


def svg_to_text(svg: str, width: int, height: int) -> str:
    """The characters of a Textual SVG screenshot, row by row."""
    char_w, line_h = 12.2, 24.4         # Rich's export_svg: 20px font, aspect 0.61, 1.22 lines
    rows = [[" "] * width for _ in range(height)]
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        x, y, text = float(m.group(1)), float(m.group(2)), html.unescape(m.group(3))
        col, row = round(x / char_w), round((y - 20) / line_h)
        if 0 <= row < height:
            for i, ch in enumerate(text.replace("\xa0", " ")):
                if 0 <= col + i < width:
                    rows[row][col + i] = ch
    return "\n".join("".join(r).rstrip() for r in rows) + "\n"


async def steady_screenshot(pilot, tries: int = 20) -> str:
    """The screen once two exports a moment apart agree: a change's layout can take a
    few idle cycles after its repaint (a panel resized, then its drawing refitted)."""
    svg = pilot.app.export_screenshot()
    for _ in range(tries):
        await pilot.pause(0.02)
        again = pilot.app.export_screenshot()
        if again == svg:
            break
        svg = again
    return svg


def check_keys(keys: list[str]) -> None:
    """Reject key names Textual does not know (it would ignore them silently)."""
    from textual.keys import Keys, format_key, key_to_character
    known = {k.value for k in Keys}
    for key in keys:
        base = key.split("+")[-1]
        if (len(base) == 1 or base in known or key_to_character(base) is not None
                or len(format_key(base)) == 1):           # slash, minus, plus: / - +
            continue
        raise TuinnError(f"unknown key {key!r}", key="--keys",
                         hint="use Textual key names: n, right, left, enter, space, escape, "
                              "tab, question_mark, ctrl+p")


def snapshot(app, keys: list[str], size: tuple[int, int], timeout: float = 60.0) -> str:
    """Run `app` headless at `size`, press `keys`, return the SVG screenshot."""
    check_keys(keys)
    result: dict[str, str] = {}

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            await press(pilot, *keys, timeout=timeout)
            result["svg"] = await steady_screenshot(pilot)
    asyncio.run(run())
    return result["svg"]
