"""Provides DebuggerScreen: the keys, the engine thread and the status bar every
scenario kind shares; subclasses compose their panels and draw them in `redraw`."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ProgressBar

from tuinn.engine.controller import Controller, Progress
from tuinn.engine.session import Session
from tuinn.errors import TuinnError
from tuinn.tui.messages import EngineChanged
from tuinn.tui.present import output_value
from tuinn.tui.widgets.status import StatusBar

STEP_KEYS = [
    Binding("n,right", "step", "Step", key_display="n/→", priority=True),
    Binding("b,left", "back", "Back", key_display="b/←", priority=True),
    Binding("s", "step_over", "Step gate/layer"),
    Binding("f", "finish", "Finish pass"),
    Binding("g", "pass_start", "Pass start", show=False),
    Binding("r", "restart", "Restart"),
]


class DebuggerScreen(Screen):
    BINDINGS = STEP_KEYS

    def __init__(self, spec, session: Session):
        super().__init__()
        self.spec = spec
        self.session = session
        self.message = ""
        self.ready = False
        self.last_frame: dict = {}
        self.controller = Controller(session, self._from_engine)

    # ------------------------------------------------------------------ engine
    def _from_engine(self, event: object) -> None:
        """Called on the engine thread: hand the event to the UI thread."""
        try:
            self.app.call_from_thread(self.post_message, EngineChanged(event))
        except RuntimeError:       # the app has already shut down
            pass

    def on_mount(self) -> None:
        self.controller.submit(self._warm, "warm")

    def _warm(self, session: Session) -> str:
        """Run every step once so Numba compiles (or loads) each kernel, with progress."""
        n = len(session.steps)
        session.restart()
        for i in range(n):
            session.step_over()
            self._from_engine(("warm", i + 1, n, session.current.node))
        session.restart()
        return "warm"

    def on_engine_changed(self, message: EngineChanged) -> None:
        event = message.event
        if isinstance(event, tuple) and event and event[0] == "warm":
            _, done, total, node = event
            for bar in self.query("#warm").results(ProgressBar):
                bar.update(total=total, progress=done)
            self.status(f"preparing kernels {done}/{total} ({node})")
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
        extra = ""
        if s.iterative:
            extra = f"iteration {s.iteration}  epoch {s.program.epoch_of(s.iteration)}"
        return {"status": (s.phase, s.tick, s.total, output_value(s), extra)}

    def refresh_frame(self) -> None:
        """Ask the engine thread for a new frame (after a UI-side change)."""
        if not self.controller.running:
            self.controller.submit(self.frame)

    def draw(self, frame: dict) -> None:
        """Draw a frame (UI thread)."""
        self.last_frame.update(frame)
        self.status()

    def status(self, message: str = "") -> None:
        phase, tick, total, value, extra = self.last_frame.get("status", ("ready", 0, 0, "", ""))
        if self.controller.running:
            phase = "running"
        self.query_one(StatusBar).show(self.spec.info.name, phase, tick, total, value, extra,
                                       message or self.message)

    # ------------------------------------------------------------------ keys
    def _do(self, fn) -> None:
        """Run a session command on the engine thread, then draw the new frame."""
        if self.controller.running:
            return
        self.message = ""
        self.controller.submit(lambda s: (fn(s), self.frame(s))[1])

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

    def on_unmount(self) -> None:
        self.controller.stop()
