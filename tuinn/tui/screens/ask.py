"""Provides AskNumber and AskText, small dialogs for a number or a line of text; and
TypeAhead, which every dialog with an Input mixes in so that nothing typed is lost.

Dialogs size to their content: at most 72 columns (90% of a narrow terminal), their
text wrapping inside, never cut off.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tuinn.fmt import safe


DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90%; max-width: {width}; height: auto; max-height: 100%;
    border: round $accent; background: $surface; padding: 0 1; }}
{name} Label {{ width: 100%; }}
{name} Label#error {{ color: $text-error; }}
{name} Label#hint {{ color: $text-muted; }}
"""


def dialog_css(name: str, width: int = 72) -> str:
    """The layout every dialog shares: centred, sized to its content, text wrapping."""
    return DIALOG_CSS.format(name=name, width=width)


class TypeAhead:
    """Keys typed right after the key that opened the dialog go into its Input, in
    order (a typed `J3100⏎` jumps to 3100), whether the terminal delivered them to
    the screen below (TuinnApp.on_event hands them on) or to this one before its
    Input had the focus: the first character replaces the prefilled value, as typing into
    the focused, selected Input would; Enter submits, Backspace deletes."""

    typed_over = False      # the prefilled value has been replaced
    settled = False         # the Input has had the focus: keys reach it by themselves
    after: list | None = None   # keys typed after a typed-ahead Enter: they follow the dialog

    def type_ahead(self, event: events.Key) -> bool:
        """Apply an early key to the Input; False when it is not one to apply."""
        boxes = self.query(Input)
        if not boxes:
            return False
        box = boxes.first()
        if self.after is not None:
            self.after.append((event.key, event.character))
            return True
        if event.key == "enter":
            self.after = []
            self.call_later(box.action_submit)
        elif event.key == "backspace":
            box.value = box.value[:-1]
        elif event.is_printable and event.character:
            if not self.typed_over:
                self.typed_over, box.value = True, ""
                box.select_on_focus = False           # keep what was typed when focused
            box.value += event.character
        else:
            return False
        box.cursor_position = len(box.value)
        return True

    def on_unmount(self) -> None:
        """The keys typed after the Enter go on to the screen the dialog uncovers."""
        for key, char in self.after or ():
            self.app.post_message(events.Key(key, char))

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, Input):
            self.settled = True

    def on_key(self, event: events.Key) -> None:
        if not self.settled and self.type_ahead(event):
            event.stop()
            event.prevent_default()


class AskNumber(TypeAhead, ModalScreen[int | None]):
    DEFAULT_CSS = dialog_css("AskNumber", 56)
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, low: int, high: int, value: int):
        super().__init__()
        self.prompt, self.low, self.high, self.value = prompt, low, high, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.prompt} ({self.low}..{self.high})")
            yield Label("Enter goes there, Escape cancels", id="hint")
            yield Input(str(self.value), type="integer", id="number")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            n = int(event.value)
        except ValueError:
            n = None
        if n is None or not self.low <= n <= self.high:
            self.query_one("#error", Label).update(f"enter a whole number from {self.low} to {self.high}")
            return
        self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskText(TypeAhead, ModalScreen[str | None]):
    """A line of text (a breakpoint condition, a watch expression), checked by `validate`
    (which returns an error message, or None when the text is fine)."""

    DEFAULT_CSS = dialog_css("AskText", 80) + "AskText Label#examples { color: $text-muted; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, examples: str, validate):
        super().__init__()
        self.prompt, self.examples, self.validate = prompt, examples, validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.prompt} (Enter adds, Escape cancels)")
            yield Label(self.examples, id="examples")
            yield Input(id="text")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = self.validate(event.value)
        if error:
            self.query_one("#error", Label).update(Text(safe(error)))   # echoes what was typed
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
