"""Provides HelpScreen: every key, and the scenario's description."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from tuinn.fmt import safe


def description_parser():
    """Markdown for a description from someone else's file: emphasis, lists, tables and
    code, but no links, images or HTML (a URL stays plain text, nothing to click)."""
    from markdown_it import MarkdownIt
    return MarkdownIt("gfm-like").disable(
        ["linkify", "link", "image", "autolink", "html_inline", "html_block"], ignoreInvalid=True)


def md_literal(text: str) -> str:
    """Text shown as itself inside Markdown: every ASCII punctuation mark backslashed."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


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
        # the scenario's name is plain text; its description is Markdown (never Rich
        # markup), control characters escaped, without links
        text = (f"# {md_literal(safe(self.title_text))}\n\n"
                f"{safe(self.description.strip(), newlines=True)}\n\n## Keys\n\n"
                f"| key | what it does |\n|---|---|\n{rows}\n\n"
                "Values are green, gradients red and marked ∇. Press Escape to close.")
        with VerticalScroll():
            yield Markdown(text, open_links=False, parser_factory=description_parser)
