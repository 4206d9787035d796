"""Provides the headless commands' printers: rich tables for check, trace and scenarios."""

from __future__ import annotations

from typing import Iterable

import numpy as np
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
    n = 0
    for ev in events:
        if ev["event"] == "step":
            n += 1
            value = fmt.summary(ev["value"]) if "value" in ev else ""
            grad = ""
            if "grad" in ev:        # a gradient's norm says more than its mean (often ~0)
                g = np.asarray(ev["grad"])
                grad = fmt.norm_summary(g) if g.size == 1 else f"{fmt.shape(g)} {fmt.norm_summary(g)}"
            style = "green" if ev["phase"] == "forward" else ("red" if ev["phase"] == "backward" else "yellow")
            label = prog.label(ev["node"]) if hasattr(prog, "label") else ev["op"]
            table.add_row(str(n), f"[{style}]{ev['phase']}[/]", ev["node"], label, value, grad)
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


def print_gradcheck(spec: Spec, results) -> int:
    from tuinn.engine.gradcheck import THRESHOLD
    table = Table(title=f"{spec.info.name}: gradient check (float64, centred differences)",
                  title_justify="left")
    for col in ("parameter", "shape", "checked", "relative error", "max |a - n|", ""):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, str(r.shape), str(r.checked), f"{r.rel_error:.2e}", f"{r.max_abs:.2e}",
                      "[green]ok[/]" if r.ok else "[bold red]FAIL[/]")
    console.print(table)
    bad = [r.name for r in results if not r.ok]
    if bad:
        console.print(f"[bold red]{len(bad)} parameter(s) exceed {THRESHOLD:g}:[/] {', '.join(bad)}")
        return 1
    console.print(f"[green]all {len(results)} parameters within {THRESHOLD:g}[/]")
    return 0


def run_training(spec: Spec, session, epochs: int | None, as_json: bool) -> int:
    import json
    import math

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tuinn.engine.training import NonFinite, train
    prog = session.program
    epochs = epochs or prog.epochs
    losses: list[float] = []
    results = []
    err_console = Console(stderr=True, highlight=False)
    try:
        if as_json:
            for r in train(session, epochs, lambda i, loss: losses.append(loss)):
                results.append(r)
                print(json.dumps({"event": "epoch", "epoch": r.epoch, "iteration": r.iteration,
                                  "loss": r.loss, "val_loss": r.val_loss, "accuracy": r.accuracy,
                                  "val_accuracy": r.val_accuracy}), flush=True)
        else:
            with Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                          TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                          console=err_console, transient=True) as bar:
                task = bar.add_task("train", total=epochs, loss="?")
                for r in train(session, epochs, lambda i, loss: losses.append(loss)):
                    results.append(r)
                    bar.update(task, completed=r.epoch + 1, loss=fmt.num(r.loss, 4))
    except NonFinite as bad:
        err_console.print(f"[bold red]stopped:[/] {bad.where} (iteration {bad.iteration})")
        return 1
    if as_json or not results:
        return 0
    last = results[-1]
    table = Table(title=f"{spec.info.name}: trained {epochs} epochs, {last.iteration} iterations "
                        f"in {last.seconds:.2f} s", title_justify="left")
    for col in ("epoch", "loss", "val loss", "accuracy", "val accuracy"):
        table.add_column(col, justify="right")
    shown = results if len(results) <= 10 else [results[int(i)] for i in
                                                 np.linspace(0, len(results) - 1, 10)]
    pct = lambda a: "" if a is None else f"{100 * a:.1f}%"
    for r in shown:
        table.add_row(str(r.epoch), fmt.num(r.loss, 5), "" if r.val_loss is None else fmt.num(r.val_loss, 5),
                      pct(r.accuracy), pct(r.val_accuracy))
    console.print(table)
    from tuinn.tui.render.plot import LinePlot
    finite = [v for v in losses if math.isfinite(v)]
    log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100
    console.print(LinePlot([("train loss", losses, "cyan")], width=min(console.width, 72), height=12,
                           log_y=log, title="loss per iteration" + (" (log scale)" if log else "")))
    return 0
