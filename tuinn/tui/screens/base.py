"""Provides DebuggerScreen: the keys, the engine thread and the status bar every
scenario kind shares; subclasses compose their panels and draw them in `redraw`."""

from __future__ import annotations

import threading
import time

from textual.binding import Binding
from textual.screen import Screen
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar

from tuinn.engine.run.controller import Controller, Progress
from tuinn.engine.session import Session
from tuinn.errors import TuinnError
from tuinn.tui.messages import EngineChanged
from tuinn.tui.present import output_value
from tuinn.tui.screens.scaffold import SCAFFOLD_KEYS, ScaffoldKeys, speed_text
from tuinn.tui.widgets.debug_panel import DebugPanel, DebugRow
from tuinn.tui.widgets.footer import KeyFooter
from tuinn.tui.widgets.status import StatusBar, history_figure
from tuinn.tui.widgets.step_list import StepList

STEP_KEYS = [
    Binding("n,right", "step", "Step", key_display="n/→", priority=True),
    Binding("b,left", "back", "Back", key_display="b/←", priority=True),
    Binding("s", "step_over", "Over", tooltip="Step over a whole gate or layer"),
    Binding("f", "finish", "Finish", tooltip="Finish pass"),
    Binding("g", "pass_start", "Pass start", show=False),
    Binding("r", "restart", "Restart", show=False),
    Binding("G", "gradcheck", "Check gradient", show=False),
    Binding("o", "export_tensor", "Export tensor", show=False),
    Binding("O", "export_trace", "Export trace", show=False),
    Binding("B", "add_breakpoint", "Add breakpoint", show=False),
    Binding("W", "add_watch", "Add watch", show=False),
]


def _latest_wins(event: object) -> str:
    """The kind of an event that a newer one of its kind makes stale, or ""."""
    if isinstance(event, Progress) and event.running:
        return "progress"
    if isinstance(event, tuple) and event and event[0] == "warm":
        return "warm"
    return ""


class DebuggerScreen(ScaffoldKeys, Screen):
    BINDINGS = STEP_KEYS + SCAFFOLD_KEYS
    #: the footer shows these actions first, as many as fit (then the rest in order)
    FOOTER_FIRST = ("step", "back", "step_over", "finish", "run", "continue", "pause",
                    "toggle_steps", "find", "switch_view", "edit", "slower")

    def __init__(self, spec, session: Session):
        super().__init__()
        self.spec = spec
        self.session = session
        self.message = ""
        self.ready = False                # the kernels are compiled (steps run before too)
        self.warmup = None                # the background compile (tuinn/engine/warmup.py)
        self.was_running = False          # run mode, as the footer last showed it
        self.warm_note = "compiling or loading kernels…"
        self.last_frame: dict = {}
        self._pending: dict[str, object] = {}      # kind -> newest undrawn event
        self._pending_lock = threading.Lock()
        self.controller = Controller(session, self._from_engine)
        self.controller.speed = spec.debug.speed or None      # run mode; 0: full speed

    # ------------------------------------------------------------------ layout
    def compose(self):
        yield StatusBar()
        yield ProgressBar(id="warm", show_eta=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield StepList(id="steps")
                yield DebugPanel(id="debug")
            with Vertical(id="right"):
                yield from self.compose_panels()
        yield KeyFooter()

    def compose_panels(self):
        """The kind's own panels, right of the step list."""
        return iter(())

    # ------------------------------------------------------------------ engine
    def _from_engine(self, event: object) -> None:
        """Called on the engine thread: hand the event to the UI thread without waiting
        for it to be drawn (post_message is thread-safe). A run-mode report or a
        compile-progress note replaces one of its kind the UI has not taken yet: only
        the newest is worth drawing, so a slow terminal never makes reports pile up and
        the engine never waits on the screen."""
        kind = _latest_wins(event)
        if kind:
            with self._pending_lock:
                stale = kind in self._pending
                self._pending[kind] = event
            if stale:
                return
        try:
            self.post_message(EngineChanged(event))
        except RuntimeError:       # the app has already shut down
            pass

    def _take(self, event: object) -> object:
        """On the UI thread: the newest event of `event`'s kind (see _from_engine)."""
        kind = _latest_wins(event)
        if not kind:
            return event
        with self._pending_lock:
            return self._pending.pop(kind, event)

    def on_mount(self) -> None:
        self.status()
        self.controller.submit(self.frame)          # the panels appear before the kernels
        self.start_warmup()

    def start_warmup(self) -> None:
        """Compile (or load) the kernels on a background thread; keys step meanwhile,
        uncompiled, and run mode waits for it (a cold compile takes seconds)."""
        from tuinn.engine.warmup import Warmup
        self.controller.compiled.clear()

        def finished() -> None:                     # on the warm-up thread
            self.controller.compiled.set()
            self.controller.submit(self._warm, "warm")
        self.warmup = Warmup(self.spec, lambda i, n, what: self._from_engine(("warm", i, n, what)),
                             finished, self.controller.stepping).start()

    def _warm(self, session: Session) -> str:
        """On the engine thread once the kernels are compiled: unless a step has been
        taken in this pass, run it once and go back to its start, so that its loss
        and values are known from the start (what the loss readout and chart show)."""
        if session.tick == 0:
            for _ in range(len(session.steps)):
                session.step_over()
            session.restart()
        return "warm"

    def on_engine_changed(self, message: EngineChanged) -> None:
        event = self._take(message.event)
        if isinstance(event, tuple) and event and event[0] == "warm":
            _, done, total, node = event
            self.warm_note = f"compiling or loading kernels {done}/{total}: {node}"
            now = time.monotonic()             # thousands of steps: redraw ~10 times a second
            if now - getattr(self, "_warm_drawn", -1.0) >= 0.1 or done + 1 >= total:
                self._warm_drawn = now
                for bar in self.query("#warm").results(ProgressBar):
                    bar.update(total=total, progress=done)
                self.status()
        elif event == "warm":
            self.ready = True
            self.query("#warm").remove()
            self.refresh_frame()
        elif isinstance(event, BaseException):
            self.message = f"error: {event}" if isinstance(event, TuinnError) else \
                f"engine error: {type(event).__name__}: {event}"
            self.refresh_frame()
        elif isinstance(event, Progress):
            self.on_progress(event)
            if not event.running:
                self.refresh_frame()
        elif isinstance(event, dict):
            self.draw(event)

    def on_progress(self, progress: Progress) -> None:
        """Run mode reported (networks)."""

    # ------------------------------------------------------------------ frames
    def frame(self, session: Session) -> dict:
        """Everything the screen shows, read off the session on the engine thread (so
        the UI never reads state the engine is changing)."""
        s = session
        extra: tuple[str, ...] = ()
        if s.iterative:                 # in the order they give way when the line is short
            prog = s.program
            extra = (f"iteration {s.iteration}", f"epoch {prog.epoch_of(s.iteration)}",
                     history_figure(prog.history.count, prog.history.limit,
                                    prog.history_bytes()))
        return {"status": (s.phase, s.tick, s.total, output_value(s), extra),
                "debug": self.debug_rows(s, s.watches.evaluate(s))}

    def step_lines(self, s: Session, line=None) -> list:
        """The step list's lines: made once per program and set of frozen parameters (a
        step changes none of them; the list redraws only the rows whose mark moved; `T`
        renames update steps "frozen"). line: (session, index) -> line."""
        if line is None:
            from tuinn.tui.present import step_line as line
        key = (id(s.steps), len(s.steps), line, getattr(s.program, "frozen", None))
        cached = getattr(self, "_step_lines", None)
        if cached is None or cached[0] != key:
            self._step_lines = (key, [line(s, i) for i in range(len(s.steps))])
        return self._step_lines[1]

    @staticmethod
    def debug_rows(s: Session, values) -> list:
        rows = [DebugRow("breakpoint", i, bp.text, bp.enabled, bp.hits)
                for i, bp in enumerate(s.breakpoints)]
        rows += [DebugRow("watch", i, w.text, value=v.format())
                 for i, (w, v) in enumerate(zip(s.watches, values))]
        return rows

    def refresh_frame(self) -> None:
        """Ask the engine thread for a new frame (after a UI-side change)."""
        if not self.controller.running:
            self.controller.submit(self.frame)

    def draw(self, frame: dict) -> None:
        """Draw a frame (UI thread)."""
        self.last_frame.update(frame)
        self.status()
        if "debug" in frame:
            panel = self.query_one(DebugPanel)
            if frame["debug"] != panel.rows or not panel.option_count:   # else as shown
                panel.show(frame["debug"])
            self.set_class(bool(frame["debug"]), "-has-debug")
        if "lines" in frame:
            self.query_one(StepList).show(frame["lines"], frame["current"], frame["done"])

    def on_step_list_jump(self, message) -> None:
        """Enter in the step list: run (or rewind) the pass to the end of that step."""
        target = message.index
        self._do(lambda s: s.goto(s.tick_of(target) + s.steps[target].substeps))

    def status(self, message: str = "") -> None:
        phase, tick, total, value, extra = self.last_frame.get("status", ("ready", 0, 0, "", ()))
        if self.controller.running != self.was_running:    # run or pause: the footer's keys
            self.was_running = self.controller.running
            self.refresh_bindings()
        if self.controller.running:
            phase = "running"
        elif not self.ready and tick == 0:      # not stepped yet: say what is happening
            phase = "compiling"
        if self.session.iterative:          # the run speed, second in line after the iteration
            extra = (*extra[:1], speed_text(self.controller.speed), *extra[1:])
        if not self.ready:
            message = message or self.warm_note
            if self.controller.running:               # c pressed: waits for the compiled path
                message += " · run mode starts when compiled"
            elif self.controller.waiting_for_compile:  # x or J: likewise
                message += " · training starts when compiled"
        self.query_one(StatusBar).show(self.spec.info.name, phase, tick, total, value, extra,
                                       message or self.message)

    # ------------------------------------------------------------------ keys
    def _do(self, fn, compiled: bool = False) -> None:
        """Run a session command on the engine thread, then draw the new frame;
        `compiled`: it trains many iterations, so it waits for the compiled kernels."""
        if self.controller.running:
            return
        self.message = ""
        self.controller.submit(lambda s: (fn(s), self.frame(s))[1], compiled=compiled)

    def action_step(self) -> None:
        self._do(lambda s: s.step())

    def action_back(self) -> None:
        self._do(lambda s: s.back())

    def action_step_over(self) -> None:
        self._do(lambda s: s.step_over())

    def action_finish(self) -> None:
        self._do(lambda s: s.finish_phase())

    def action_pass_start(self) -> None:
        self._do(lambda s: s.phase_start())

    def action_restart(self) -> None:
        self._do(lambda s: s.restart())

    # ------------------------------------------------------------------ tools
    def node_for_tools(self) -> str | None:
        """The node the inspector shows (selected, or the current step's)."""
        return self.last_frame.get("follow")

    def tensor_of(self, session: Session, node: str, what: str):
        """A node's value or gradient (engine thread); None when not computed yet."""
        raise NotImplementedError

    def check_node(self, session: Session, node: str):
        raise NotImplementedError

    def action_gradcheck(self) -> None:
        node = self.node_for_tools()
        if node is None or self.controller.running:
            return

        def check(s: Session) -> dict:
            from tuinn import fmt
            try:
                c = self.check_node(s, node)
            except (KeyError, ValueError, TuinnError) as err:
                self.message = f"gradient check: {err}"
            else:
                if c is None:
                    self.message = f"gradient check: {node} has no gradient to check (try a parameter or an input)"
                else:
                    from tuinn.engine.gradcheck import TOLERANCE
                    self.message = (f"gradient check {node}: {'ok' if c.ok else 'MISMATCH'}, "
                                    f"worst |a - n| is {fmt.num(c.worst, 2)} of {TOLERANCE}")
            return self.frame(s)
        self.message = f"checking {node}…"
        self.status()
        self.controller.submit(check)

    def action_export_tensor(self) -> None:
        from tuinn.tui.screens.export import ExportDialog
        node = self.node_for_tools()
        if node is None:
            return

        def done(result) -> None:
            if result is None:
                return
            what, path = result

            def save(s: Session) -> dict:
                from tuinn.engine.export import save_tensor
                arr = self.tensor_of(s, node, what)
                if arr is None:
                    self.message = f"{node}: its {what} is not computed yet"
                else:
                    self.message = f"saved {node} {what} to {save_tensor(arr, path)}"
                return self.frame(s)
            self.controller.submit(save)
        self.app.push_screen(ExportDialog(f"Export {node}", f"{node}.npy", ["value", "gradient"],
                                          (".npy", ".csv")), done)

    def action_export_trace(self) -> None:
        from pathlib import Path

        from tuinn.tui.screens.export import ExportDialog
        stem = Path(self.spec.info.path).stem if self.spec.info.path else "trace"

        def done(result) -> None:
            if result is None or self.controller.running:
                return

            def save(s: Session) -> dict:
                from tuinn.engine.export import save_events
                from tuinn.engine.trace import pass_events
                events = pass_events(s)
                self.message = f"saved {len(events)} events to {save_events(events, result[1])}"
                return self.frame(s)
            self.controller.submit(save)
        self.app.push_screen(ExportDialog("Export this pass's trace (JSON Lines)",
                                          f"{stem}-trace.jsonl", ["trace"], (".jsonl",)), done)

    # ------------------------------------------------------------------ breakpoints, watches
    def _ask(self, what: str, examples: str, parse, add) -> None:
        from tuinn.engine.debug import debug_names
        from tuinn.tui.screens.ask import AskText
        names = debug_names(self.session.program)

        def validate(text: str) -> str | None:
            try:
                parse(text, names)
            except TuinnError as err:
                return err.message + (f" ({err.hint})" if err.hint else "")
            return None

        def done(text: str | None) -> None:
            if text:
                self.controller.submit(lambda s: (add(s, text, names), self.frame(s))[1])
        self.app.push_screen(AskText(what, examples, validate), done)

    def action_add_breakpoint(self) -> None:
        from tuinn.engine.breakpoints import parse_breakpoint
        self._ask("Break when…", "e.g. nan · loss < 0.05 · grad_norm(dense1.W) > 10 · "
                  "dead_relu > 0.5 · saturated(lstm1) > 0.9 · iteration == 100 · step dense2",
                  parse_breakpoint, lambda s, text, names: s.breakpoints.add(text, names))

    def action_add_watch(self) -> None:
        from tuinn.engine.watches import parse_watch
        self._ask("Watch…", "e.g. loss · dense1.W.grad · norm(dense1.W.grad) · lstm1.f · "
                  "max(abs(dense1.W))", parse_watch,
                  lambda s, text, names: s.watches.add(text, names))

    def on_key(self, event) -> None:
        """Mark the key as typed on this screen: if it opens a dialog, the keys typed
        right after it (the terminal sent them at once) are on their way here too,
        and the app hands them to the dialog (type-ahead; TuinnApp.on_event)."""
        event.typed_on = self

    def on_debug_panel_toggle(self, message) -> None:
        self.controller.submit(lambda s: (s.breakpoints.toggle(message.index), self.frame(s))[1])

    def on_debug_panel_remove(self, message) -> None:
        def remove(s: Session) -> dict:
            (s.breakpoints if message.kind == "breakpoint" else s.watches).remove(message.index)
            return self.frame(s)
        self.controller.submit(remove)

    def on_unmount(self) -> None:
        if self.warmup is not None:
            self.warmup.cancel()
        self.controller.stop()

