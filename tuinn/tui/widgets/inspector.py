"""Provides GateInspector: op, inputs, output, local and upstream gradients of a gate,
and `upstream x local = downstream` with the numbers."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuinn.tui.present import GateView


def render_gate(view: GateView, mono: bool = False) -> Group:
    """Compact, so the chain rule shows at 80x24: the gate and its output on one line, its
    pattern, then one row per input: value, local gradient, upstream × local = downstream.
    mono (NO_COLOR): no colours, which would turn into greys of poor contrast; the "∇"
    marks gradients, italics set them apart."""
    green, red = ("", "italic") if mono else ("green", "red")
    head = Text()
    if view.is_input:
        head.append(f"{view.node}", style="bold")
        head.append("  input  ", style="dim")
        head.append(view.output, style=green)
        head.append("   gradient ", style="dim")
        head.append("∇ " + view.total_grad if view.total_grad is not None
                    else "(not reached by the backward pass yet)", style=red)
        head.append("\n" + view.pattern, style="italic")
        return Group(head)
    args = ", ".join(name for name, _ in view.inputs)
    head.append(f"{view.node}", style="bold")
    head.append(f" = {view.label}({args})" if len(view.inputs) == 1 or len(view.label) > 1
                else f" = {f' {view.label} '.join(n for n, _ in view.inputs)}", style="bold")
    out = view.output or "(not computed yet)"
    head.append(" = " if "\n" not in out else "\n", style="bold")
    head.append(out, style=green)
    if view.upstream is None:
        head.append("   backward: not reached yet", style="dim")
    else:
        head.append(f"   upstream ∂{view.output_name}/∂{view.node} = ", style="dim")
        head.append("∇ " + view.upstream, style=red)
    head.append(f"   line {view.expr_line}" if view.expr_line else "", style="dim")
    head.append("\n" + view.pattern, style="italic")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold dim")
    table.add_column("input")
    table.add_column("value", style=green)
    backward = view.upstream is not None and any(local for _, local, _, _ in view.rows)
    if backward:
        table.add_column("local ∂" + view.node + "/∂input")
        table.add_column("upstream × local = downstream")
    for (arg, local, down, formula), (_, value) in zip(view.rows, view.inputs):
        if not backward:
            table.add_row(arg, value)
            continue
        local_text = Text.assemble((formula + " = ", "dim"), local) if formula and formula != local \
            else Text(local)
        eq = Text.assemble(("∇ " + view.upstream, red), " × ", local, " = ", ("∇ " + down, "bold " + red)) \
            if "\n" not in view.upstream + local + down else Text.assemble(("∇ " + down, "bold " + red))
        table.add_row(arg, value, local_text, eq)
    return Group(head, table)


class GateInspector(VerticalScroll):
    DEFAULT_CSS = """
    GateInspector { border: round $primary-darken-2; height: 12; min-height: 12; padding: 0 1; }
    GateInspector:focus { border: round $accent; }
    GateInspector > Static { width: 100%; }
    """

    def compose(self):
        yield Static(id="gate")

    def show(self, view: GateView | None) -> None:
        self.border_title = "inspector" if view is None else f"inspector: {view.node}"
        self.query_one("#gate", Static).update(
            Text("n steps into the first gate; ↑/↓ in the graph select any node", style="dim")
            if view is None else render_gate(view, mono=self.app.no_color))
