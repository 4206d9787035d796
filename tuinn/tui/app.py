"""Provides TuinnApp: pushes the screen for the scenario's kind; global keys."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding

from tuinn.errors import TuinnError
from tuinn.scenario.spec import Spec
from tuinn.tui.keyorder import KeysInOrder
from tuinn.tui.screens.help import HelpScreen

if TYPE_CHECKING:
    from tuinn.engine.session import Session


def key_name(key: str) -> str:
    """A key as a user types it: `,` `.` `?` `/` `-`, not comma, full_stop, question_mark."""
    from textual.keys import format_key
    key = key.strip()
    ch = format_key(key) if len(key) > 1 and "+" not in key else ""
    return ch if len(ch) == 1 and ch.isascii() and ch.isprintable() and not ch.isspace() else key


def long_description(binding) -> str:
    """What the help and the command palette say a key does: the footer's short word
    is the description, a longer one is the tooltip."""
    return binding.tooltip or binding.description


class TuinnApp(KeysInOrder, App):
    CSS_PATH = "app.tcss"
    TITLE = "tuinn"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("tab", "focus_next", "Panel", show=False),
        Binding("shift+tab", "focus_previous", "Panel", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, spec: Spec, session: "Session | None" = None, theme: str | None = None):
        """With no session, the app shows its first frame at once and builds the
        program on a worker thread (importing Numba and loading kernels takes a moment)."""
        super().__init__()
        self.spec = spec
        self.session = session
        self.build_error: TuinnError | None = None
        if theme:
            self.theme = theme

    def on_mount(self) -> None:
        if self.session is not None:
            self.push_screen(self.make_screen())
            return
        from tuinn.tui.screens.loading import LoadingScreen
        self.push_screen(LoadingScreen(self.spec.info.name))
        self.run_worker(self._build, thread=True, exit_on_error=False, group="build")

    def _build(self) -> None:
        from tuinn.engine import jit
        from tuinn.engine.build import build_session
        try:
            # a kernel the build calls (the epoch's shuffle) runs as Python if it is not
            # compiled yet: on an empty cache, compiling it here would hold the first
            # screen back by a second or more (the warm-up compiles it behind)
            with jit.uncompiled():
                session = build_session(self.spec)
        except TuinnError as err:
            self.call_from_thread(self._failed, err)
            return
        self.call_from_thread(self._built, session)

    def _built(self, session: "Session") -> None:
        self.session = session
        pending = list(getattr(self.screen, "pending", []))
        self.switch_screen(self.make_screen())
        for key in pending:                       # replay what was typed while loading
            self.simulate_key(key)

    def _failed(self, err: TuinnError) -> None:
        self.build_error = err
        self.exit(return_code=2)

    def make_screen(self):
        if self.spec.info.kind == "graph":
            from tuinn.tui.screens.graph import GraphScreen
            return GraphScreen(self.spec, self.session)
        if self.spec.info.kind == "knn":
            from tuinn.tui.screens.knn import KnnScreen
            return KnnScreen(self.spec, self.session)
        if self.spec.info.kind == "gan":
            from tuinn.tui.screens.gan import GanScreen
            return GanScreen(self.spec, self.session)
        from tuinn.tui.screens.network import NetworkScreen
        return NetworkScreen(self.spec, self.session)

    def key_list(self, screen=None) -> list[tuple[str, str]]:
        """Every key of the debugger screen, the graph panel and the app, for the help."""
        from tuinn.tui.widgets.conv_view import ConvView
        from tuinn.tui.widgets.graph_view import GraphView
        from tuinn.tui.widgets.network_view import NetworkView
        from tuinn.tui.widgets.rnn_view import RecurrentView
        screen = screen or self.screen
        panels = [(GraphView, "graph panel")]
        if self.spec.info.kind in ("knn", "gan"):
            panels = []
        elif self.spec.info.kind == "network":
            panels = [(NetworkView, "network panel"), (ConvView, "conv view"),
                      (RecurrentView, "recurrent view")]
        seen, out = set(), []
        unused = getattr(screen, "UNUSED_ACTIONS", frozenset())    # keys a kind has no use for
        tagged = [(b, "") for b in screen.BINDINGS if b.action not in unused]
        tagged += [(b, where) for cls, where in panels for b in cls.BINDINGS]
        tagged += [(b, "") for b in self.BINDINGS]
        for b, where in tagged:
            keys = "/".join(key_name(k) for k in b.key.split(","))
            if (keys, where) not in seen:
                seen.add((keys, where))
                out.append((keys, long_description(b) + (f" ({where})" if where else "")))
        out.append(("up/down, enter", "move in the step list; run or rewind to the highlighted step"))
        out.append(("ctrl+p", "command palette: every action by name"))
        return out

    def get_system_commands(self, screen):
        """The command palette offers every key's action by name, then Textual's own."""
        debugger = next((s for s in reversed(self.screen_stack) if hasattr(s, "controller")), None)
        if debugger is not None:
            for key, description in self.key_list(debugger):
                binding = next((b for b in debugger.BINDINGS if long_description(b) == description),
                               None)
                if binding is not None:
                    yield SystemCommand(description, f"key: {key}",
                                        partial(debugger.run_action, binding.action))
        yield SystemCommand("Help", "key: ?  every key and the scenario's description",
                            self.action_help)
        yield from super().get_system_commands(screen)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_list(self.screen), self.spec.info.name,
                                    self.spec.info.description))
