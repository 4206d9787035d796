"""Provides TrainingScreen: the screens whose program trains (network, gan), with run
mode's keys (`c` runs, `p`/space pauses, `i` one iteration) and its reports."""

from __future__ import annotations

from tuinn.engine.run.controller import Progress
from tuinn.tui.screens.base import DebuggerScreen


class TrainingScreen(DebuggerScreen):
    """A screen whose program trains (network, gan): run mode's keys and reports."""

    def on_progress(self, progress: Progress) -> None:
        why = progress.stopped_because
        if why == "nan":
            self.message = f"stopped: {self.session.stopped_because}"
        elif why == "paused":
            self.message = f"paused at iteration {progress.iteration}"
        elif why == "breakpoint":
            self.message = f"breakpoint: {self.session.stopped_because}"
        elif why == "done":
            self.message = f"trained {self.session.program.epochs} epochs"
        if progress.extras:
            self.draw(progress.extras)
        else:
            self.status()

    def action_run(self) -> None:
        if not self.controller.running:               # queued behind warm-up if need be
            self.message = "running: p or space pauses"
            self.controller.run()
            self.status()

    def action_pause(self) -> None:
        if self.controller.running:
            self.controller.pause()

    def action_next_iteration(self) -> None:
        self._do(lambda s: s.next_iteration())
