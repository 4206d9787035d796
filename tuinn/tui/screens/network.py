"""Provides NetworkScreen: steps, the network drawn as gates, the tensor inspector, the
loss curve and the data panel; run mode trains at full speed on the engine thread."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher

from tuinn.engine.controller import Progress
from tuinn.engine.network import LOSS
from tuinn.tui.present import step_line
from tuinn.tui.present_conv import conv_view
from tuinn.tui.present_net import network_labels, network_nodes, tensor_view
from tuinn.tui.present_rnn import recurrent_layer_of, recurrent_view
from tuinn.tui.render.circuit import CircuitDiagram
from tuinn.tui.screens.base import DebuggerScreen
from tuinn.tui.widgets.conv_view import ConvView
from tuinn.tui.widgets.data_view import DataPanel
from tuinn.tui.widgets.graph_view import GraphView
from tuinn.tui.widgets.loss_plot import LossPanel
from tuinn.tui.widgets.rnn_view import RecurrentView
from tuinn.tui.widgets.tensor_view import TensorInspector


class NetworkScreen(DebuggerScreen):
    BINDINGS = DebuggerScreen.BINDINGS + [
        Binding("c", "run", "Run"),
        Binding("p,space", "pause", "Pause"),
        Binding("i", "next_iteration", "Iteration"),
        Binding("x", "next_epoch", "Epoch"),
        Binding("v", "switch_view", "View"),
        Binding("w", "toggle_layer_view", "Graph/layer"),
        Binding("t", "jump_sub", "Jump to t", show=False),
        Binding("J", "jump_iteration", "Jump to iteration", show=False),
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
        self.layer_view = True               # w: conv/recurrent steps show the layer view
        self.conv_pick = (None, None, 0)     # (layer, selected output cell, filter)
        self.data_panel: DataPanel | None = None
        self.rnn_pick: tuple[str | None, int] = (None, 0)      # (layer, selected unit)

    def compose_panels(self) -> ComposeResult:
        prog = self.session.program
        yield GraphView(self.order, id="graph")
        yield ConvView(id="conv")
        yield RecurrentView(id="rnn")
        with Horizontal(id="bottom"):
            yield TensorInspector(id="inspector")
            with ContentSwitcher(initial="loss", id="side"):
                yield LossPanel(id="loss")
                if "data" in self.views:
                    n_classes = int(prog.y.max()) + 1 if prog.loss.is_classification else 2
                    yield DataPanel(prog.x, prog.y, n_classes, False, id="data")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one("#graph").border_title = "network"
        self.query_one("#graph").focus()
        self.query_one(ConvView).display = False
        self.query_one(RecurrentView).display = False
        self.data_panel = self.query_one(DataPanel) if "data" in self.views else None
        if self.data_panel is not None:
            self.data_panel.grid_dims = self.data_panel.grid_shape()
        self.controller.report_extras = self.light_frame

    # ------------------------------------------------------------------ frames
    def light_frame(self, session) -> dict:
        """What run mode redraws on each report: status, losses, decision regions."""
        prog = session.program
        f = super().frame(session) if not self.controller.running else {
            "status": super().frame(session)["status"],
            "debug": self.debug_rows(session, session.watches.evaluate_program(prog))}
        train = list(prog.losses)
        positive = [v for v in train if 0 < v < float("inf")]
        wide = bool(positive) and max(positive) > 1000 * min(positive)
        f["losses"] = (train, [prog.val_losses.get(i, float("nan")) for i in range(len(train))],
                       prog.iteration, wide)
        if self.data_panel is not None:
            f["grid"] = prog.decision_grid(*self.data_panel.grid_dims)
        return f

    def frame(self, s) -> dict:
        f = self.light_frame(s)
        step = s.current
        current = None if step is None else (step.node if step.node in self.order else step.layer)
        shown = self.selected or current or LOSS
        f.update(
            lines=[step_line(s, i) for i in range(len(s.steps))],
            current=step.index if step else None, done=s.done_steps, follow=shown,
            diagram=CircuitDiagram(self.nodes, LOSS, network_labels(s), current=current,
                                   selected=self.selected, min_label_width=14,
                                   inputs_near=True),
            tensor=tensor_view(s, shown), conv=None, rnn=None)
        if self.layer_view and step is not None:
            picked, cell, filt = self.conv_pick
            if picked != step.layer:
                cell, filt = None, 0
            f["conv"] = conv_view(s, step.layer, cell, filt)
            layer = recurrent_layer_of(s)
            if layer is not None:
                picked, unit = self.rnn_pick
                f["rnn"] = recurrent_view(s, layer, unit=unit if picked == layer else 0)
        return f

    def draw(self, f: dict) -> None:
        super().draw(f)
        if "losses" in f:
            self.query_one(LossPanel).show(*f["losses"])
        if "grid" in f:
            self.query_one(DataPanel).show(*f["grid"])
        if "lines" not in f:
            return
        graph = self.query_one(GraphView)
        graph.show(f["diagram"], follow=f["follow"])
        graph.selected = f["follow"]          # up/down move on from the node on show
        self.query_one(TensorInspector).show(f["tensor"])
        self.draw_layer_view(f.get("conv"), f.get("rnn"))

    def draw_layer_view(self, conv_data, rnn_data) -> None:
        """The top panel: the layer's own view inside a conv or recurrent step, else the graph."""
        graph, conv, rnn = self.query_one(GraphView), self.query_one(ConvView), self.query_one(RecurrentView)
        if not self.layer_view:
            conv_data = rnn_data = None
        if conv_data is not None:
            conv.show(conv_data)
        if rnn_data is not None:
            rnn.show(rnn_data)
        shown = conv if conv_data is not None else rnn if rnn_data is not None else graph
        had_focus = self.focused in (graph, conv, rnn)
        graph.display, conv.display, rnn.display = shown is graph, shown is conv, shown is rnn
        if had_focus:                                  # the focus follows the panel
            shown.focus()

    def on_recurrent_view_unit_changed(self, message: RecurrentView.UnitChanged) -> None:
        self.rnn_pick = (message.layer, message.unit)
        self.refresh_frame()

    def on_progress(self, progress: Progress) -> None:
        if progress.stopped_because == "nan":
            self.message = f"stopped: {self.session.stopped_because}"
        elif progress.stopped_because == "paused":
            self.message = f"paused at iteration {progress.iteration}"
        elif progress.stopped_because == "breakpoint":
            self.message = f"breakpoint: {self.session.stopped_because}"
        elif progress.stopped_because == "done":
            self.message = f"trained {self.session.program.epochs} epochs"
        if progress.extras:
            self.draw(progress.extras)
        else:
            self.status()

    def on_data_panel_resized(self, message: DataPanel.Resized) -> None:
        self.refresh_frame()

    def on_graph_view_selected(self, message: GraphView.Selected) -> None:
        self.selected = message.node
        self.refresh_frame()

    def on_conv_view_changed(self, message: ConvView.Changed) -> None:
        self.conv_pick = (message.layer, message.cell, message.filter)
        self.refresh_frame()

    def tensor_of(self, s, node: str, what: str):
        from tuinn.tui.present_net import grad_of, value_of
        return value_of(s, node) if what == "value" else grad_of(s, node)

    def check_node(self, s, node: str):
        from tuinn.engine.gradcheck import param_check
        if node not in s.program.param_layers:
            return None
        return param_check(s, node)

    # ------------------------------------------------------------------ keys
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

    def action_jump_iteration(self) -> None:
        """Time travel: back into the kept history, or forward by training."""
        prog = self.session.program
        low = prog.history[0].iteration if prog.history else prog.iteration
        high = prog.epochs * prog.per_epoch

        def done(value: int | None) -> None:
            if value is not None:
                self._do(lambda s: s.goto_iteration(value))
                self.message = f"iteration {value}"
        from tuinn.tui.screens.ask import AskNumber
        self.app.push_screen(AskNumber("jump to iteration", low, high, prog.iteration), done)

    def action_switch_view(self) -> None:
        self.view = (self.view + 1) % len(self.views)
        self.query_one(ContentSwitcher).current = self.views[self.view]
        self.refresh_frame()

    def action_toggle_layer_view(self) -> None:
        self.layer_view = not self.layer_view
        self.refresh_frame()

    def _do(self, fn) -> None:
        self.selected = None
        super()._do(fn)

    def action_log_scale(self) -> None:
        self.query_one(LossPanel).toggle_log()
