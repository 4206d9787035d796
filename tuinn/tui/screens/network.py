"""Provides NetworkScreen: steps, the network drawn as gates, the tensor inspector, the
loss curve and the data panel; run mode trains at full speed on the engine thread."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Footer, ProgressBar

from tuinn.engine.controller import Progress
from tuinn.engine.network import LOSS
from tuinn.tui.present import step_line
from tuinn.tui.present_net import network_labels, network_nodes, tensor_view
from tuinn.tui.render.circuit import CircuitDiagram
from tuinn.tui.screens.base import DebuggerScreen
from tuinn.tui.widgets.data_view import DataPanel
from tuinn.tui.widgets.graph_view import GraphView
from tuinn.tui.widgets.loss_plot import LossPanel
from tuinn.tui.widgets.status import StatusBar
from tuinn.tui.widgets.step_list import StepList
from tuinn.tui.widgets.tensor_view import TensorInspector


class NetworkScreen(DebuggerScreen):
    BINDINGS = DebuggerScreen.BINDINGS + [
        Binding("c", "run", "Run"),
        Binding("p,space", "pause", "Pause"),
        Binding("i", "next_iteration", "Iteration"),
        Binding("x", "next_epoch", "Epoch"),
        Binding("v", "switch_view", "View"),
        Binding("t", "jump_sub", "Jump to t", show=False),
        Binding("l", "log_scale", "Log loss", show=False),
    ]

    def __init__(self, spec, session):
        super().__init__(spec, session)
        prog = session.program
        self.nodes = network_nodes(session)
        self.order = [n.id for n in self.nodes]
        self.selected: str | None = None
        self.views = ["loss"]
        if prog.input_shape == (2,) and (prog.loss.is_classification or prog.loss.type == "bce"):
            self.views.append("data")
        self.view = 0

    def compose(self) -> ComposeResult:
        prog = self.session.program
        yield StatusBar()
        yield ProgressBar(id="warm", show_eta=False)
        with Horizontal(id="main"):
            yield StepList(id="steps")
            with Vertical(id="right"):
                yield GraphView(self.order, id="graph")
                with Horizontal(id="bottom"):
                    yield TensorInspector(id="inspector")
                    with ContentSwitcher(initial="loss", id="side"):
                        yield LossPanel(id="loss")
                        if "data" in self.views:
                            n_classes = int(prog.y.max()) + 1 if prog.loss.is_classification else 2
                            yield DataPanel(prog.x, prog.y, n_classes, False, id="data")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one("#graph").border_title = "network"
        self.query_one("#graph").focus()
        self.controller.report_extras = self.extras
        self.redraw()

    # ------------------------------------------------------------------ engine
    def extras(self, session) -> dict:
        """Computed on the engine thread after a command or a run-mode report."""
        out = {}
        if "data" in self.views:
            gh, gw = self.query_one(DataPanel).grid_shape()
            out["grid"] = session.program.decision_grid(gh, gw)
        return out

    def _do(self, fn) -> None:
        self.selected = None
        super()._do(lambda s: (fn(s), self.extras(s))[1])

    def on_engine_changed(self, message) -> None:
        event = message.event
        extras = event.extras if isinstance(event, Progress) else event
        if isinstance(extras, dict) and "grid" in extras:
            self.query_one(DataPanel).show(*extras["grid"])
        if event == "warm":
            self.controller.submit(self.extras)
        super().on_engine_changed(message)

    def on_progress(self, progress: Progress) -> None:
        if progress.stopped_because == "nan":
            self.message = f"stopped: {self.session.stopped_because}"
        elif progress.stopped_because == "paused":
            self.message = f"paused at iteration {progress.iteration}"
        elif progress.stopped_because == "done":
            self.message = f"trained {self.session.program.epochs} epochs"
        self.draw_loss()
        if progress.running:
            self.status()

    # ------------------------------------------------------------------ drawing
    def draw_loss(self) -> None:
        prog = self.session.program
        val = [prog.val_losses.get(i, float("nan")) for i in range(len(prog.losses))]
        self.query_one(LossPanel).show(prog.losses, val, prog.iteration)

    def redraw(self) -> None:
        super().redraw()
        s = self.session
        step = s.current
        current = None if step is None else (step.node if step.node in self.order else step.layer)
        lines = [step_line(s, i) for i in range(len(s.steps))]
        self.query_one(StepList).show(lines, step.index if step else None, s.done_steps)
        shown = self.selected or current or LOSS
        diagram = CircuitDiagram(self.nodes, LOSS, network_labels(s), current=current,
                                 selected=self.selected, min_label_width=14)
        self.query_one(GraphView).show(diagram, follow=shown)
        self.query_one(TensorInspector).show(tensor_view(s, shown))
        self.draw_loss()

    def on_graph_view_selected(self, message: GraphView.Selected) -> None:
        self.selected = message.node
        self.redraw()

    def on_step_list_jump(self, message: StepList.Jump) -> None:
        target = message.index
        self._do(lambda s: s.goto(s.tick_of(target) + s.steps[target].substeps))

    # ------------------------------------------------------------------ keys
    def action_run(self) -> None:
        if self.ready and not self.controller.running:
            self.message = "running: p or space pauses"
            self.controller.run()
            self.status()

    def action_pause(self) -> None:
        if self.controller.running:
            self.controller.pause()

    def action_next_iteration(self) -> None:
        self._do(lambda s: s.next_iteration())

    def action_next_epoch(self) -> None:
        def epoch(s):
            prog = s.program
            target = (prog.epoch_of(prog.iteration) + 1) * prog.per_epoch
            s.goto_iteration(target)
        self._do(epoch)

    def action_jump_sub(self) -> None:
        """Jump to a timestep (recurrent) or window (conv) inside the current layer step."""
        pos = self.session.position
        step = pos.step
        if step is None or step.substeps < 1 or step.phase == "update" or step.substeps == 1:
            self.message = "t jumps within a layer that steps through time or windows: step into one first"
            self.status()
            return
        n = step.substeps
        recurrent = step.op in ("rnn", "lstm", "gru")
        what = "timestep t" if recurrent else "window k"
        backward = step.phase == "backward"
        current = (n - pos.sub if backward else pos.sub + 1) if recurrent else pos.sub + 1

        def done(value: int | None) -> None:
            if value is None:
                return
            sub = (n - value if backward else value - 1) if recurrent else value - 1
            start = self.session.tick_of(step.index)
            self._do(lambda s: s.goto(start + sub + 1))
        from tuinn.tui.screens.ask import AskNumber
        self.app.push_screen(AskNumber(f"{step.phase} {step.node}: {what}", 1, n, current), done)

    def action_switch_view(self) -> None:
        self.view = (self.view + 1) % len(self.views)
        self.query_one(ContentSwitcher).current = self.views[self.view]
        if self.views[self.view] == "data" and not self.controller.running:
            self.controller.submit(self.extras)

    def action_log_scale(self) -> None:
        panel = self.query_one(LossPanel)
        panel.log_y = not panel.log_y
        self.draw_loss()
