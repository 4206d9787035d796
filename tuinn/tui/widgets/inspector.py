"""Provides GateInspector: op, inputs, output, local and upstream gradients of a gate,
and `upstream x local = downstream` with the numbers."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuinn.tui.present import GateView


def render_gate(view: GateView) -> Group:
    head = Text()
    if view.is_input:
        head.append(f"{view.node}", style="bold")
        head.append("  input\n", style="dim")
        head.append(view.pattern + "\n", style="italic")
        head.append("value     ", style="dim")
        head.append(view.output + "\n", style="green")
        head.append("gradient  ", style="dim")
        head.append("∇ " + view.total_grad if view.total_grad is not None
                    else "(not reached by the backward pass yet)", style="red")
        return Group(head)
    args = ", ".join(name for name, _ in view.inputs)
    head.append(f"{view.node}", style="bold")
    head.append(f" = {view.label}({args})" if len(view.inputs) == 1 or len(view.label) > 1
                else f" = {f' {view.label} '.join(n for n, _ in view.inputs)}", style="bold")
    head.append(f"   line {view.expr_line}\n" if view.expr_line else "\n", style="dim")
    head.append(view.pattern + "\n", style="italic")
    for name, value in view.inputs:
        head.append(f"in  {name:<6} ", style="dim")
        head.append(value + "\n", style="green")
    head.append(f"out {view.node:<6} ", style="dim")
    head.append((view.output or "(not computed yet)") + "\n", style="green")
    if view.upstream is None:
        head.append("backward: not reached yet", style="dim")
        return Group(head)
    head.append(f"upstream ∂{view.output_name}/∂{view.node} = ", style="dim")
    head.append("∇ " + view.upstream, style="red")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold dim")
    table.add_column("input")
    table.add_column("local ∂" + view.node + "/∂input")
    table.add_column("upstream × local = downstream")
    for arg, local, down, formula in view.rows:
        local_text = Text(local)
        if formula:
            local_text = Text.assemble((formula + " = ", "dim"), local)
        eq = Text.assemble(("∇ " + view.upstream, "red"), " × ", local, " = ", ("∇ " + down, "bold red")) \
            if "\n" not in view.upstream + local + down else Text.assemble(("∇ " + down, "bold red"))
        table.add_row(arg, local_text, eq)
    return Group(head, table)


class GateInspector(VerticalScroll):
    DEFAULT_CSS = """
    GateInspector { border: round $primary-darken-2; height: 12; padding: 0 1; }
    GateInspector:focus { border: round $accent; }
    GateInspector > Static { width: 100%; }
    """

    def compose(self):
        yield Static(id="gate")

    def show(self, view: GateView | None) -> None:
        self.border_title = "inspector" if view is None else f"inspector: {view.node}"
        self.query_one("#gate", Static).update("" if view is None else render_gate(view))
