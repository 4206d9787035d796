"""Provides GanScreen: a generator against a discriminator, stepped or trained: the real and
generated points over D's belief with G's push as arrows, the numbers and both losses."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from tuinn.tui.present_gan import GanPresenter, losses_text, step_line
from tuinn.tui.screens.training import TrainingScreen
from tuinn.tui.widgets.gan_view import GanPlot, GanSide

#: the debugger's keys that have no meaning here (no single tensor under a cursor, no watches)
NOT_FOR_GAN = frozenset({"gradcheck", "export_tensor", "add_watch", "find"})


class GanScreen(TrainingScreen):
    BINDINGS = TrainingScreen.BINDINGS + [
        Binding("c", "run", "Run", tooltip="Train until a breakpoint, p or the last epoch"),
        Binding("p,space", "pause", "Pause"),
        Binding("i", "next_iteration", "Iteration", tooltip="To the start of the next iteration"),
    ]
    UNUSED_ACTIONS = NOT_FOR_GAN
    FOOTER_FIRST = ("step", "back", "step_over", "finish", "run", "pause", "next_iteration",
                    "toggle_steps", "slower")

    def __init__(self, spec, session):
        super().__init__(spec, session)
        self.presenter = GanPresenter(session.program)
        self.controller.report_extras = self.light_frame

    def compose_panels(self) -> ComposeResult:
        with Horizontal(id="gan"):
            yield GanPlot(id="plot")
            yield GanSide(id="gan-side")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one(GanPlot).focus()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in NOT_FOR_GAN:
            return False
        return super().check_action(action, parameters)

    # ------------------------------------------------------------------ frames
    def light_frame(self, s) -> dict:
        """What run mode redraws: the status, the map and the losses."""
        f = super().frame(s)
        phase, tick, total, _, extra = f["status"]
        f["status"] = (phase, tick, total, losses_text(s), extra)
        f["gan"] = self.presenter.frame(s, self.query_one(GanPlot).grid_dims)
        return f

    def frame(self, s) -> dict:
        f = self.light_frame(s)
        step = s.current
        f.update(lines=[step_line(s, i) for i in range(len(s.steps))],
                 current=step.index if step else None, done=s.done_steps)
        return f

    def draw(self, f: dict) -> None:
        super().draw(f)
        if "gan" in f:
            self.query_one(GanPlot).show(f["gan"])
            self.query_one(GanSide).show(f["gan"])

    def on_map_panel_resized(self) -> None:
        self.refresh_frame()

    # ------------------------------------------------------------------ keys
    def action_continue(self) -> None:
        def go(s):
            from tuinn.engine.breakpoints import run_to_hit
            hit = run_to_hit(s, s.breakpoints)
            self.message = f"breakpoint: {hit[1]}" if hit else "no breakpoint hit"
        self._do(go, compiled=True)                    # trains: waits for the kernels

    def action_add_breakpoint(self) -> None:
        from tuinn.engine.breakpoints import parse_breakpoint
        self._ask("Break when…", "e.g. spread < 0.05 (mode collapse) · d_wins · d_loss < 0.1 · "
                  "g_loss > 5 · nan · iteration == 500 · step gen",
                  parse_breakpoint, lambda s, text, names: s.breakpoints.add(text, names))

    def tensor_of(self, s, node: str, what: str):
        tape = s.tape
        return (tape.values if what == "value" else tape.grads).get(node)
