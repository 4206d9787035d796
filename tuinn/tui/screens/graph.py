"""Provides GraphScreen: step list, circuit diagram and gate inspector for graphs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from tuinn.tui.present import diagram_labels, diagram_nodes, gate_view, pass_end
from tuinn.tui.render.circuit_fit import FitCircuit
from tuinn.tui.screens.base import DebuggerScreen
from tuinn.tui.screens.edit import EditInput
from tuinn.tui.widgets.graph_view import GraphView
from tuinn.tui.widgets.inspector import GateInspector


class GraphScreen(DebuggerScreen):
    BINDINGS = DebuggerScreen.BINDINGS + [
        Binding("e", "edit", "Edit input"),
        Binding("c", "continue", "Continue"),
        Binding("z", "toggle_fit", "Fit/full",
                tooltip="The graph fitted to its panel, or full size (scrolls)")]

    def __init__(self, spec, session):
        super().__init__(spec, session)
        prog = session.program
        self.order = list(prog.inputs) + [g.id for g in prog.spec.gates]
        self.selected: str | None = None     # None: follow the current step
        self.reserve: dict[str, tuple[int, ...]] = {}   # label widths at the pass's end
        self.edited_output: str | None = None          # the output after an edit (header)
        self.colours: dict[str, str] = {}              # NO_COLOR: none (greys read badly)

    def compose_panels(self) -> ComposeResult:
        yield GraphView(self.order, id="graph")
        yield GateInspector(id="inspector")

    def on_mount(self) -> None:
        if self.app.no_color:
            self.colours = {"value_style": "", "grad_style": "italic"}
        super().on_mount()
        self.query_one("#steps").border_title = "steps"
        self.query_one("#graph").border_title = "graph"
        self.query_one("#graph").focus()
        self.query_one(GraphView).room = self.graph_room

    def graph_room(self) -> int | None:
        """The rows the graph's picture may take: all but the inspector's least height."""
        graph, inspector = self.query_one(GraphView), self.query_one(GateInspector)
        total = graph.parent.content_size.height          # the two of them share #right
        least = inspector.styles.min_height
        if not total or least is None:
            return None
        return max(1, total - int(least.value) - graph.styles.gutter.height)

    def on_graph_view_fitted(self, message: GraphView.Fitted) -> None:
        """What the fitted picture leaves free goes to the inspector (a matrix's numbers)."""
        inspector = self.query_one(GateInspector)
        total = inspector.parent.content_size.height
        least = int(inspector.styles.min_height.value) if inspector.styles.min_height else 8
        inspector.styles.height = max(least, total - message.rows)

    def _warm(self, session) -> str:
        done = super()._warm(session)
        self.reserve, _ = pass_end(session)     # label widths of the whole pass: no jumps
        return done

    def frame(self, s) -> dict:
        f = super().frame(s)
        step = s.current
        current = step.node if step is not None else None
        shown = self.selected or current
        if self.edited_output and s.program.output not in s.tape.values:
            phase, tick, total, _, extra = f["status"]      # not computed here yet: the
            f["status"] = (phase, tick, total, f"{self.edited_output} at the end", extra)
        f.update(
            lines=self.step_lines(s),
            current=step.index if step else None, done=s.done_steps,
            diagram=FitCircuit(diagram_nodes(s), s.program.output, diagram_labels(s),
                               current=current, selected=self.selected,
                               output_name=s.program.output, min_label_width=8,
                               label_reserve=self.reserve, **self.colours),
            follow=shown, gate=gate_view(s, shown) if shown else None)
        return f

    def action_toggle_fit(self) -> None:
        """z: the graph fitted to its panel (less detail), or at full size (scrolls)."""
        self.query_one(GraphView).toggle_fit()     # the panel's subtitle says which

    def draw(self, f: dict) -> None:
        super().draw(f)
        graph = self.query_one(GraphView)
        graph.show(f["diagram"], follow=f["follow"])
        graph.selected = f["follow"]          # up/down move on from the node on show
        self.query_one(GateInspector).show(f["gate"])

    def on_graph_view_selected(self, message: GraphView.Selected) -> None:
        self.selected = message.node
        self.refresh_frame()

    def _do(self, fn) -> None:
        self.selected = None
        super()._do(fn)

    def action_continue(self) -> None:
        """Run to the next breakpoint that holds, or to the end of the pass."""
        def go(s):
            from tuinn.engine.breakpoints import run_to_hit
            hit = run_to_hit(s, s.breakpoints)
            self.message = f"breakpoint: {hit[1]}" if hit else "no breakpoint hit: at the end"
        self._do(go)

    def tensor_of(self, s, node: str, what: str):
        prog = s.program
        return prog.value_of(s.tape, node) if what == "value" else prog.grad_of(s.tape, node)

    def check_node(self, s, node: str):
        from tuinn.engine.gradcheck import graph_node_check
        here = s.tick
        result = graph_node_check(s, node)
        s.goto(here)
        return result

    def action_edit(self) -> None:
        prog = self.session.program
        node = self.selected or (self.session.current.node if self.session.current else None)
        if node not in prog.inputs:
            gate = prog.nodes.get(node)
            node = next((a for a in (gate.args if gate else ()) if a in prog.inputs), next(iter(prog.inputs)))

        def edit(s, name, value) -> None:
            s.set_input(name, value)
            self.reserve, self.edited_output = pass_end(s)

        def done(result) -> None:
            if result is not None:
                name, value = result
                self._do(lambda s: edit(s, name, value))
                self.message = f"{name} = {value.tolist()}: recomputed"
        self.app.push_screen(EditInput(dict(prog.inputs), node), done)
