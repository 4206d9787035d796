"""Provides NetworkScreen: steps, the network drawn as gates, the tensor inspector, the
loss curve and the data panel; run mode trains at full speed on the engine thread."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher

from tuinn import fmt
from tuinn.engine.network import LOSS
from tuinn.tui.present_conv import conv_view
from tuinn.tui.present_cells import layer_circuit
from tuinn.tui.present_layers import layer_picture
from tuinn.tui.present_net import network_labels, network_nodes, tensor_view
from tuinn.tui.present_rnn import recurrent_layer_of, recurrent_view
from tuinn.tui.present_depth import depth_stats
from tuinn.tui.present_data import data_view, has_preprocess
from tuinn.tui.present_side import fit_curve, generate_text, side_views
from tuinn.tui.render.circuit import CircuitDiagram
from tuinn.tui.render.layers import LayerDiagram
from tuinn.tui.screens.training import TrainingScreen
from tuinn.tui.screens.params_keys import PARAMS_KEYS, ParamsKeys
from tuinn.tui.widgets.conv_view import ConvView
from tuinn.tui.widgets.data_view import DataPanel
from tuinn.tui.widgets.loss_plot import LossPanel
from tuinn.tui.widgets.depth_view import DepthPanel
from tuinn.tui.widgets.model_views import FitPanel, TextPanel
from tuinn.tui.widgets.network_view import NetworkView
from tuinn.tui.widgets.rnn_view import RecurrentView
from tuinn.tui.present_embed import embed_view
from tuinn.tui.present_views import layer_views
from tuinn.tui.widgets.attention_view import AttentionView
from tuinn.tui.widgets.embed_view import EmbedView
from tuinn.tui.widgets.norm_view import NormView

LAYER_VIEWS = {"attn": AttentionView, "norm": NormView, "embed": EmbedView}
from tuinn.tui.widgets.tensor_view import TensorInspector


ALL = "\x00all"           # `expanded` when the whole network is drawn as gates


class NetworkScreen(ParamsKeys, TrainingScreen):
    BINDINGS = TrainingScreen.BINDINGS + [
        Binding("c", "run", "Run"),
        Binding("p,space", "pause", "Pause"),
        Binding("i", "next_iteration", "Iteration"),
        Binding("x", "next_epoch", "Epoch"),
        Binding("v", "switch_view", "View"),
        Binding("w", "toggle_layer_view", "Graph/layer"),
        Binding("d", "flow", "Grad flow"),
        Binding("t", "jump_sub", "Jump to t", show=False),
        Binding("J", "jump_iteration", "Jump to iteration", show=False),
        Binding("l", "log_scale", "Log loss", show=False),
        Binding("P", "data_space", "Raw/preprocessed",
                tooltip="The data view: the points before or after [data] preprocess"),
    ] + PARAMS_KEYS                          # S saves the parameters, T freezes a layer

    def __init__(self, spec, session):
        super().__init__(spec, session)
        prog = session.program
        self.nodes = network_nodes(session)
        self.order = [n.id for n in self.nodes]
        self.selected: str | None = None
        self.views = side_views(prog)       # v cycles: loss, then data / fit / text
        self.view = 0
        self.layer_view = True               # w: conv/recurrent steps show the layer view
        self.conv_pick = (None, None, 0)     # (layer, selected output cell, filter)
        self.data_panel: DataPanel | None = None
        self.data_raw = False                # P: the data view before [data] preprocess
        self.rnn_pick: tuple[str | None, int] = (None, 0)      # (layer, selected unit)
        self.view_picks: dict[str, tuple] = {}   # attention / norm / embedding selections
        self.live_embed: tuple[str, int] | None = None   # the embedding view on screen
        self.flow: str | None = None         # d: None, "grad" or "ratio" colouring
        self.expanded: str | None = None     # Enter: the layer drawn as its gates

    def compose_panels(self) -> ComposeResult:
        prog = self.session.program
        yield NetworkView(id="graph")
        yield ConvView(id="conv")
        yield RecurrentView(id="rnn")
        for key, view in LAYER_VIEWS.items():   # attention, normalisation, embedding
            yield view(id=key)
        with Horizontal(id="bottom"):
            yield TensorInspector(id="inspector")
            with ContentSwitcher(initial="loss", id="side"):
                yield LossPanel(id="loss")
                if "data" in self.views:
                    n_classes = int(prog.y.max()) + 1 if prog.loss.is_classification else 2
                    yield DataPanel(prog.x, prog.y, n_classes, False, id="data")
                if "fit" in self.views:
                    yield FitPanel(id="fit")
                if "text" in self.views:
                    yield TextPanel(id="text")
                if "depth" in self.views:
                    yield DepthPanel(id="depth")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one("#graph").border_title = "network"
        self.query_one("#graph").focus()
        self.query_one(ConvView).display = False
        self.query_one(RecurrentView).display = False
        for view in LAYER_VIEWS.values():
            self.query_one(view).display = False
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
        f["losses"] = prog.losses.plot_args(prog.iteration)     # bounded: O(1) in the run
        if self.data_panel is not None:
            view = data_view(prog, *self.data_panel.grid_dims, raw=self.data_raw)
            f["grid"] = (view.grid, view.extent) if not view.title else (
                view.grid, view.extent, view.points, view.title, view.subtitle)
        shown = self.views[self.view]           # the model views cost a few predictions:
        if shown == "fit":                      # only the one on screen is computed
            f["fit"] = (fit_curve(prog), prog.iteration)
        elif shown == "text":
            f["text"] = (generate_text(prog), prog.iteration)
        elif shown == "depth":
            f["depth"] = depth_stats(prog)
        live = self.live_embed
        if live is not None and self.controller.running:    # nearest words as it trains
            f["embed_live"] = embed_view(session, *live)
        return f

    def frame(self, s) -> dict:
        f = self.light_frame(s)
        step = s.current
        current = None if step is None else (step.node if step.node in self.order else step.layer)
        shown = self.selected or current or LOSS
        f.update(
            lines=self.step_lines(s),
            current=step.index if step else None, done=s.done_steps, follow=shown,
            tensor=tensor_view(s, shown), conv=None, rnn=None, attn=None, norm=None, embed=None)
        f.update(self.layer_frame(s, current))
        if self.layer_view and step is not None:
            picked, cell, filt = self.conv_pick
            if picked != step.layer:
                cell, filt = None, 0
            f["conv"] = conv_view(s, step.layer, cell, filt)
            layer = recurrent_layer_of(s)
            if layer is not None:
                picked, unit = self.rnn_pick
                f["rnn"] = recurrent_view(s, layer, unit=unit if picked == layer else 0)
            f.update(layer_views(s, self.view_picks))
        return f

    def layer_frame(self, s, current: str | None) -> dict:
        """The top panel: the layer picture, and the expanded layer's circuit."""
        picture = layer_picture(s)
        step = s.current
        here = None if step is None else (step.layer or step.node)
        keys: dict[str, list[str]] = {}
        for key, (layer, _) in s.program.param_layers.items():
            keys.setdefault(layer.name, []).append(key)
        # up/down: each layer after its parameters (x, W, b, then the layer, as in a circuit)
        boxes = [k for box in picture.ids() for k in keys.get(box, []) + [box]]
        owner = s.program.param_layers.get(self.selected or "")
        mark = owner[0].name if owner else self.selected
        f = {"diagram": LayerDiagram(picture, current=here, selected=mark, flow=self.flow),
             "boxes": boxes, "cell": None}
        if self.expanded == ALL:
            f["cell"] = (CircuitDiagram(self.nodes, LOSS, network_labels(s), current=current,
                                        selected=self.selected, min_label_width=14,
                                        inputs_near=True),
                         "every layer as gates · Enter on the input or the loss collapses")
            return f
        cell = layer_circuit(s, self.expanded) if self.expanded else None
        if cell is not None:
            inner = {n.id for n in cell.nodes}
            circuit = CircuitDiagram(cell.nodes, self.expanded, cell.labels,
                                     current=current if current in inner else None,
                                     selected=self.selected if self.selected in inner else None,
                                     min_label_width=cell.label_width, inputs_near=True)
            heading = f"{escape(fmt.safe(self.expanded, 24))}: {cell.formula} · Enter collapses"
            f["cell"] = (circuit, heading)
        return f

    def draw(self, f: dict) -> None:
        super().draw(f)
        if "losses" in f:
            self.query_one(LossPanel).show(*f["losses"])
        if "grid" in f:
            self.query_one(DataPanel).show(*f["grid"])
        if "fit" in f:
            self.query_one(FitPanel).show(*f["fit"])
        if "text" in f:
            self.query_one(TextPanel).show(*f["text"])
        if "depth" in f:
            self.query_one(DepthPanel).show(f["depth"])
        if f.get("embed_live") is not None and "lines" not in f:
            self.query_one(EmbedView).show(f["embed_live"])
        if "lines" not in f:
            return
        graph = self.query_one(NetworkView)
        graph.show(f["diagram"], f["boxes"], f.get("cell"))
        graph.selected = f["follow"]          # up/down move on from the node on show
        self.query_one(TensorInspector).show(f["tensor"])
        self.draw_layer_view(f.get("conv"), f.get("rnn"),
                             {key: f.get(key) for key in LAYER_VIEWS})

    def draw_layer_view(self, conv_data, rnn_data, others: dict | None = None) -> None:
        """The top panel: the layer's own view inside a conv, recurrent, attention,
        normalisation or embedding step, else the graph."""
        graph, conv, rnn = self.query_one(NetworkView), self.query_one(ConvView), self.query_one(RecurrentView)
        others = {k: v for k, v in (others or {}).items() if v is not None}
        if not self.layer_view:
            conv_data = rnn_data = None
            others = {}
        if conv_data is not None:
            conv.show(conv_data)
        if rnn_data is not None:
            rnn.show(rnn_data)
        extra = {key: self.query_one(view) for key, view in LAYER_VIEWS.items()}
        shown = conv if conv_data is not None else rnn if rnn_data is not None else graph
        if shown is graph and others:
            key, data = next(iter(others.items()))
            extra[key].show(data)
            shown = extra[key]
        had_focus = self.focused in (graph, conv, rnn, *extra.values())
        graph.display, conv.display, rnn.display = shown is graph, shown is conv, shown is rnn
        for view in extra.values():
            view.display = shown is view
        embed = others.get("embed") if shown is extra["embed"] else None
        self.live_embed = None if embed is None else (embed.layer, embed.selected)
        if had_focus:                                  # the focus follows the panel
            shown.focus()

    def on_attention_view_changed(self, message: AttentionView.Changed) -> None:
        self.view_picks[message.layer] = (message.head, message.query, message.key)
        self.refresh_frame()

    def on_norm_view_changed(self, message: NormView.Changed) -> None:
        self.view_picks[message.layer] = (message.selected,)
        self.refresh_frame()

    def on_embed_view_changed(self, message: EmbedView.Changed) -> None:
        self.view_picks[message.layer] = (message.selected,)
        self.refresh_frame()

    def on_recurrent_view_unit_changed(self, message: RecurrentView.UnitChanged) -> None:
        self.rnn_pick = (message.layer, message.unit)
        self.refresh_frame()

    def on_data_panel_resized(self, message: DataPanel.Resized) -> None:
        self.refresh_frame()

    def on_network_view_selected(self, message: NetworkView.Selected) -> None:
        self.selected = message.node
        self.refresh_frame()

    def on_network_view_expand(self, message: NetworkView.Expand) -> None:
        """Enter: expand the selected layer into its gates; on it again, collapse."""
        node = message.node
        owner = self.session.program.param_layers.get(node)
        layer = owner[0].name if owner else node.removesuffix(".matmul")
        if layer in ("input", LOSS):                  # the whole network as gates
            self.expanded = None if self.expanded == ALL else ALL
            self.message = "" if self.expanded is None else \
                "every layer as gates: Enter on the input or the loss collapses"
        else:
            self.expanded = None if self.expanded == layer else layer
            self.selected = layer
            self.message = "" if self.expanded is None else f"{layer} expanded: Enter collapses"
        self.refresh_frame()

    def action_flow(self) -> None:
        """d: colour the picture by gradient norm, then by update/weight ratio, then off."""
        self.flow = {None: "grad", "grad": "ratio"}.get(self.flow)
        self.message = {"grad": "gradient flow: each layer by ‖∇‖ of its parameters (d: ratio)",
                        "ratio": "gradient flow: each layer by ‖Δw‖/‖w‖ of its last update (d: off)",
                        None: "gradient flow off"}[self.flow]
        if self.flow and not self.query_one(NetworkView).display:
            self.message += " · w shows the network picture"      # a layer view is up
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
    def action_next_epoch(self) -> None:
        def epoch(s):
            prog = s.program
            target = (prog.epoch_of(prog.iteration) + 1) * prog.per_epoch
            s.goto_iteration(target)
        self._do(epoch, compiled=True)                 # trains: waits for the kernels

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
                self._do(lambda s: s.goto_iteration(value), compiled=True)
                self.message = f"iteration {value}"
        from tuinn.tui.screens.ask import AskNumber
        self.app.push_screen(AskNumber("jump to iteration", low, high, prog.iteration), done)

    def action_switch_view(self) -> None:
        self.view = (self.view + 1) % len(self.views)
        self.query_one(ContentSwitcher).current = self.views[self.view]
        if self.data_panel is not None:         # the slot's size, before the first grid
            self.data_panel.grid_dims = self.data_panel.grid_shape()
        self.refresh_frame()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "data_space":              # only for a data view with [data] preprocess
            return "data" in self.views and has_preprocess(self.session.program)
        return super().check_action(action, parameters)

    def action_data_space(self) -> None:
        """The data view: the raw points or the preprocessed ones (it comes on screen)."""
        self.data_raw = not self.data_raw
        if self.views[self.view] != "data":
            self.view = self.views.index("data")
            self.query_one(ContentSwitcher).current = "data"
            self.data_panel.grid_dims = self.data_panel.grid_shape()
        self.message = ("data view: the raw numbers, before preprocess" if self.data_raw
                        else "data view: after preprocess, as the model sees them")
        self.refresh_frame()

    def action_toggle_layer_view(self) -> None:
        self.layer_view = not self.layer_view
        self.refresh_frame()

    def _do(self, fn, compiled: bool = False) -> None:
        self.selected = None
        super()._do(fn, compiled)

    def action_log_scale(self) -> None:
        self.query_one(LossPanel).toggle_log()
