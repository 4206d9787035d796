"""Provides the headless commands' printers: rich tables for check, trace and scenarios."""

from __future__ import annotations

from typing import Iterable

from rich.console import Console
from rich.table import Table

from tuinn import fmt
from tuinn.scenario.spec import Spec

console = Console(highlight=False)


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip().lstrip("# ")
    return ""


def print_scenarios() -> None:
    from tuinn.scenario.bundled import bundled
    from tuinn.scenario.loader import load_scenario
    table = Table(title="Bundled scenarios (tuinn run NAME)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("what it shows")
    for path in bundled():
        spec = load_scenario(path)
        table.add_row(path.stem, spec.info.kind, _first_line(spec.info.description) or spec.info.name)
    console.print(table)


def print_check(spec: Spec, session) -> None:
    prog = session.program
    console.print(f"[bold]{spec.info.name}[/]  ({spec.info.kind}, {spec.info.dtype}, seed {spec.info.seed})  [green]valid[/]")
    if spec.info.kind == "graph":
        table = Table(title="inputs", title_justify="left")
        table.add_column("name"); table.add_column("shape"); table.add_column("value")
        for name, value in prog.inputs.items():
            table.add_row(name, fmt.shape(value), fmt.summary(value))
        console.print(table)
        gates = Table(title=f"{len(spec.graph.gates)} gates, output {spec.graph.output!r}", title_justify="left")
        gates.add_column("line", justify="right"); gates.add_column("node"); gates.add_column("gate")
        gates.add_column("inputs")
        for g in spec.graph.gates:
            gates.add_row(str(g.line), g.id, prog.label(g.id), ", ".join(g.args))
        console.print(gates)
    else:
        print_layers(prog)


def print_layers(prog) -> None:
    table = Table(title="layers", title_justify="left")
    for col in ("layer", "type", "output shape", "parameters", "note"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    total = 0
    for row in prog.layer_table():
        total += row["params"]
        table.add_row(row["name"], row["type"], str(row["shape"]), f"{row['params']:,}", row.get("note", ""))
    table.add_row("", "", "total", f"{total:,}", "")
    console.print(table)


def print_trace(spec: Spec, session, events: Iterable[dict]) -> None:
    table = Table(title=f"{spec.info.name}: trace", title_justify="left")
    for col in ("#", "phase", "node", "op", "value", "gradient"):
        table.add_column(col)
    final = None
    prog = session.program
    for n, ev in enumerate(events):
        if ev["event"] == "step":
            value = fmt.summary(ev["value"]) if "value" in ev else ""
            grad = fmt.summary(ev["grad"]) if "grad" in ev else ""
            style = "green" if ev["phase"] == "forward" else ("red" if ev["phase"] == "backward" else "yellow")
            label = prog.label(ev["node"]) if hasattr(prog, "label") else ev["op"]
            table.add_row(str(n + 1), f"[{style}]{ev['phase']}[/]", ev["node"], label, value, grad)
        elif ev["event"] == "iteration":
            table.add_row("", "[bold]iteration[/]", str(ev["iteration"]), f"epoch {ev['epoch']}",
                          f"loss {fmt.num(ev['loss'], 6)}", "")
        else:
            final = ev
    console.print(table)
    if final is not None and final["event"] == "graph":
        res = Table(title=f"output {prog.output} = {fmt.summary(final['output'], 4)}", title_justify="left")
        res.add_column("name"); res.add_column("value"); res.add_column(f"d{prog.output}/dname")
        for name in prog.names():
            res.add_row(name, fmt.summary(final["values"][name], 4), fmt.summary(final["grads"][name], 4))
        console.print(res)
