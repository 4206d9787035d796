"""Provides KeyFooter: the footer that always shows `? Help` and `q Quit` (pinned on
the right) and, left of them, as many of the current panel's and screen's keys as fit.

The focused panel's shown keys come first, then the screen's in the order of its
`FOOTER_FIRST` actions, then the rest in binding order; a key that does not fit is
left out (the help screen lists every key), never cut in half.

Only Textual's public API: `Footer` for the bar (docking, colours, the bindings signal)
and `KeyLabel`, this module's own key, in place of Textual's FooterKey (which
textual.widgets does not export).
"""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widget import Widget
from textual.widgets import Footer

PINNED = ("help", "quit")          # app actions always on screen


def key_width(key_display: str, description: str) -> int:
    """Cells a KeyLabel takes, with its right margin."""
    return len(key_display) + (1 + len(description) if description else 0) + 1


class KeyLabel(Widget):
    """One key of the footer, "key description" (as Textual's compact footer draws its
    keys); a click presses the key, or rings the bell when the key does nothing now."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-label--key", "key-label--description"}
    DEFAULT_CSS = """
    KeyLabel {
        width: auto; height: 1; margin-right: 1; text-wrap: nowrap;
        background: $footer-item-background;
        .key-label--key { color: $footer-key-foreground; background: $footer-key-background;
                          text-style: bold; }
        .key-label--description { color: $footer-description-foreground;
                                  background: $footer-description-background; }
        &:hover { pointer: pointer; color: $footer-key-foreground;
                  background: $block-hover-background; }
        &.-disabled { text-style: dim; }
    }
    """

    def __init__(self, key: str, key_display: str, description: str, enabled: bool = True,
                 tooltip: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_class(not enabled, "-disabled")
        self.key, self.key_display, self.description = key, key_display, description
        self.enabled = enabled
        self.set_reactive(Widget.shrink, False)
        if tooltip:
            self.tooltip = tooltip

    def render(self) -> Text:
        text = Text.assemble((self.key_display, self.get_component_rich_style("key-label--key")))
        if self.description:              # spans, not a base style: rich_style goes under both
            text.append(" " + self.description,
                        self.get_component_rich_style("key-label--description"))
        text.stylize_before(self.rich_style)
        return text

    def on_mouse_down(self) -> None:
        if self.enabled:
            self.app.simulate_key(self.key)
        else:
            self.app.bell()


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter HorizontalGroup#pinned { dock: right; width: auto; height: 1;
        background: $footer-background; padding-left: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(show_command_palette=False, compact=True, **kwargs)
        self._width = 0
        self.ready = False            # the screen has published its bindings

    def bindings_changed(self, screen) -> None:
        self.ready = True
        super().bindings_changed(screen)

    def ordered(self) -> tuple[list, list]:
        """(pinned, others): one (binding, enabled, tooltip) per action, in footer order."""
        by_action: dict[str, list] = defaultdict(list)
        focused_actions: list[str] = []
        focused = self.screen.focused
        local = {b.action for _, b in focused._bindings} if focused is not None else set()
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show:
                continue
            if binding.action in local and binding.action not in focused_actions:
                focused_actions.append(binding.action)
            by_action[binding.action].append((binding, enabled, tooltip))
        pinned = [by_action.pop(a)[0] for a in PINNED if a in by_action]
        first = list(getattr(self.screen, "FOOTER_FIRST", ()))
        order = focused_actions + [a for a in first if a not in focused_actions]
        rank = {a: i for i, a in enumerate(order)}
        actions = sorted(by_action, key=lambda a: rank.get(a, len(rank)))   # stable
        return pinned, [by_action[a][0] for a in actions]

    def compose(self) -> ComposeResult:
        if not self.ready:
            return
        pinned, others = self.ordered()
        width = self.size.width or self.app.size.width
        room = width - 1 - sum(key_width(self.app.get_key_display(b), b.description)
                               for b, _, _ in pinned)
        for binding, enabled, tooltip in others:
            display = self.app.get_key_display(binding)
            need = key_width(display, binding.description)
            if need > room:
                break
            room -= need
            yield self._key(binding, display, enabled, tooltip)
        with HorizontalGroup(id="pinned"):
            for binding, enabled, tooltip in pinned:
                yield self._key(binding, self.app.get_key_display(binding), enabled, tooltip)

    def _key(self, binding, display: str, enabled: bool, tooltip: str) -> KeyLabel:
        return KeyLabel(binding.key, display, binding.description, enabled, tooltip)

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            self.call_after_refresh(self.recompose)
