"""Provides Finder (key `/`): a fuzzy finder over every node, layer, parameter and
tensor of the scenario (with the arrays a layer's view shows and the running
statistics: every name a watch or breakpoint takes); Enter selects the highlighted one
(an array selects its layer), Escape closes.

Keyboard only: type to filter (textual.fuzzy.Matcher, best match first), up/down
move, Enter picks. The dialog returns the node to select: a tensor's gradient entry
(`dense1.grad`) selects `dense1`, whose panel shows value and gradient side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tuinn import fmt
from tuinn.tui.screens.ask import TypeAhead

MATCHED = Style(bold=True, underline=True)


@dataclass(frozen=True)
class Item:
    name: str          # what the user types and sees
    kind: str          # input, gate mul, layer dense, parameter of dense1 (2, 32), ...
    target: str        # the node the screen selects


def find_items(session) -> list[Item]:
    """Every findable name of the session's program, in the program's order."""
    prog = session.program
    if prog.kind == "graph":
        items = [Item(n, f"input {fmt.shape(v)}".rstrip(), n) for n, v in prog.inputs.items()]
        gates = {g.id: g for g in prog.spec.gates}
        items += [Item(g.id, f"gate {g.op}", g.id) for g in prog.spec.gates]
        items += [Item(name, f"= {node}", node) for name, node in prog.spec.names.items()
                  if name not in gates and node in gates]
        return items
    from tuinn.engine.debug_names import cache_keys, debug_names
    from tuinn.engine.network import INPUT, LOSS
    names = debug_names(prog)              # what watches and breakpoints may name
    items = [Item(INPUT, "input batch", INPUT)]
    for top in prog.layers:
        for layer in (top, *top.sublayers()):
            items.append(Item(layer.name, f"layer {layer.type} · value and gradient", layer.name))
            items.append(Item(f"{layer.name}.grad", f"gradient of {layer.name}'s output",
                              layer.name))
            for k, arr in layer.params.items():
                key = f"{layer.name}.{k}"
                if key in prog.param_layers:
                    items.append(Item(key, f"parameter {fmt.shape(arr)}", key))
            for key, (owner, _) in getattr(prog, "buffer_layers", {}).items():
                if owner is layer:             # bn1.running_mean
                    items.append(Item(key, "running statistic (not trained)", layer.name))
            for k in cache_keys(layer):        # the arrays its view shows: lstm1.f, attn1.A
                key = f"{layer.name}.{k}"
                if k not in ("x", "y") and names.get(key) == "cache":
                    items.append(Item(key, f"tensor of {layer.name}'s view (watch, break on it)",
                                      layer.name))
    items.append(Item(LOSS, f"loss {prog.loss.type}", LOSS))
    return items


def marked(matcher: Matcher | None, name: str) -> Content:
    """The name with the letters the query matched in bold underline (never parsed as
    markup: Matcher.highlight would read `[` in a name as markup)."""
    content = Content(name)
    if matcher is not None:
        for offset in matcher.fuzzy_search.match(matcher.query, name)[1]:
            content = content.stylize(MATCHED, offset, offset + 1)
    return content


class Finder(TypeAhead, ModalScreen[str | None]):
    DEFAULT_CSS = """
    Finder { align: center top; }
    Finder > Vertical { width: 90%; max-width: 72; height: auto; max-height: 90%;
        margin-top: 2; border: round $accent; background: $surface; padding: 0 1; }
    Finder Label { width: 100%; color: $text-muted; }
    Finder OptionList { height: auto; max-height: 14; border: none; padding: 0; }
    Finder OptionList > .option-list--option-highlighted { text-style: bold reverse; }
    """
    BINDINGS = [Binding("escape", "cancel", "Close"),
                Binding("down", "move(1)", "Next", show=False),
                Binding("up", "move(-1)", "Previous", show=False),
                Binding("pagedown", "move(8)", "Page down", show=False),
                Binding("pageup", "move(-8)", "Page up", show=False)]

    def __init__(self, items: list[Item]):
        super().__init__()
        self.items = [Item(fmt.safe(it.name), fmt.safe(it.kind), it.target) for it in items]
        self.shown: list[Item] = list(items)
        self.last_query = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Find by name: type, ↑/↓, Enter selects, Escape closes")
            yield Input(placeholder="node, layer, parameter or tensor", id="query")
            yield OptionList(id="matches")

    def on_mount(self) -> None:
        self.query_one(OptionList).can_focus = False      # the keys stay in the Input
        self.query_one(Input).focus()
        self.refilter("")

    def refilter(self, query: str) -> None:
        query = self.last_query = query.strip()
        if query:
            matcher = Matcher(query, match_style=MATCHED)
            scored = [(matcher.match(it.name), i, it) for i, it in enumerate(self.items)]
            self.shown = [it for score, _, it in sorted(scored, key=lambda t: (-t[0], t[1]))
                          if score > 0]
        else:
            matcher, self.shown = None, list(self.items)
        width = max((len(it.name) for it in self.shown), default=0)
        options = [Option(Content.assemble(marked(matcher, it.name),
                                           " " * (width - len(it.name) + 2), (it.kind, "dim")))
                   for it in self.shown]
        matches = self.query_one(OptionList)
        matches.set_options(options)
        if options:
            matches.highlighted = 0
        else:
            matches.add_option(Option(Content(f"no name matches {query!r}"), disabled=True))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refilter(event.value)

    def action_move(self, by: int) -> None:
        matches = self.query_one(OptionList)
        if self.shown:
            here = matches.highlighted or 0
            matches.highlighted = max(0, min(len(self.shown) - 1, here + by))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() != self.last_query:       # typed ahead: not filtered yet
            self.refilter(event.value)
        index = self.query_one(OptionList).highlighted
        if self.shown and index is not None:
            self.dismiss(self.shown[index].target)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()                                   # a mouse click on a match
        self.dismiss(self.shown[event.option_index].target)

    def action_cancel(self) -> None:
        self.dismiss(None)
