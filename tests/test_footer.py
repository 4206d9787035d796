"""The footer's own key (KeyLabel) in place of Textual's private FooterKey: it draws
"key description" in the width the footer budgets, a click presses the key (or rings
the bell when the key does nothing now), and no module reaches into Textual's privates."""

import re
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup

from tuinn.tui.widgets.footer import KeyLabel, key_width
from ui_helpers import make_app, run_async, settle

ROOT = Path(__file__).resolve().parent.parent / "tuinn"


def test_no_module_imports_a_private_textual_module_or_attribute():
    private = re.compile(r"^\s*(from|import)\s+textual(\.\w+)*\._\w+|\._bindings_ready\b", re.M)
    found = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if private.search(p.read_text(encoding="utf-8"))]
    assert not found, found


class Keys(App):
    BINDINGS = [Binding("x", "hit", "Hit")]

    def __init__(self):
        super().__init__()
        self.hits, self.bells = 0, 0

    def compose(self) -> ComposeResult:
        with HorizontalGroup():
            yield KeyLabel("x", "x", "Hit", id="on")
            yield KeyLabel("y", "y", "Off", enabled=False, tooltip="does nothing now", id="off")
            yield KeyLabel("x", "x", "", id="bare")

    def action_hit(self) -> None:
        self.hits += 1

    def bell(self) -> None:
        self.bells += 1


@run_async
async def test_a_key_is_as_wide_as_the_footer_budgets_and_a_click_presses_it():
    app = Keys()
    async with app.run_test(size=(40, 3)) as pilot:
        on, off, bare = (app.query_one(f"#{i}", KeyLabel) for i in ("on", "off", "bare"))
        for label in (on, off, bare):
            width = label.region.width + label.styles.margin.right
            assert width == key_width(label.key_display, label.description)
        assert on.render().plain == "x Hit" and bare.render().plain == "x"
        assert off.has_class("-disabled") and not on.has_class("-disabled")
        await pilot.click("#on")
        await pilot.pause()
        assert (app.hits, app.bells) == (1, 0)
        await pilot.click("#off")
        await pilot.pause()
        assert (app.hits, app.bells) == (1, 1)


@run_async
async def test_the_app_footer_is_made_of_key_labels_and_its_help_key_opens_help():
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = {label.key_display: label for label in app.screen.query(KeyLabel)}
        assert {"?", "q"} <= set(keys), sorted(keys)
        await pilot.click(keys["?"])
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen", type(app.screen).__name__
