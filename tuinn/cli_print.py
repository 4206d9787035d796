"""Provides the headless commands' printers: rich tables for check, trace and scenarios.

Text from a scenario file (names, descriptions, expressions) goes through `fmt.safe`
(control characters escaped) and is never read as Rich markup: the consoles have markup
off, and styled text is built as `Text`."""

from __future__ import annotations

import re
from typing import Iterable

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuinn import fmt
from tuinn.scenario.spec import Spec

console = Console(highlight=False, markup=False)


def _safe(text: object, style: str = "") -> Text:
    """A file's text for a table cell or title: escaped, literal, one line."""
    return Text(fmt.safe(text), style=style)


_MARKDOWN = ((re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),      # [text](link) -> text
             (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),               # **bold** -> bold
             (re.compile(r"`([^`]*)`"), r"\1"),                      # `code` -> code
             (re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])"), r"\1"))   # *em* -> em
MIN_SENTENCE = 20                  # a shorter first sentence takes the next one along
_SENTENCE_END = re.compile(r"[.!?](?=\s+[^a-z\s]|\s*$)")


def first_sentence(text: str) -> str:
    """The first whole sentence of a description, as plain text: headings and list
    bullets skipped, `**`, backticks and links stripped, cut after the first full stop
    that ends a sentence (never mid-word), or the second when the first is very short;
    a paragraph without one is kept whole."""
    para: list[str] = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line:
            if para:
                break
            continue
        if line.startswith("#") or (not para and line.startswith(("- ", "* "))):
            continue
        para.append(line)
    text = " ".join(para)
    cut = len(text)
    for end in _SENTENCE_END.finditer(text):   # found before the markdown goes: `name`
        cut = end.end()
        if cut >= MIN_SENTENCE:                # "Start here." says too little alone
            break
    plain = text[:cut]
    for pattern, repl in _MARKDOWN:
        plain = pattern.sub(repl, plain)
    return plain[:-1] + "." if plain.endswith(":") else plain     # a list followed


def print_scenarios() -> None:
    from tuinn.scenario.bundled import bundled
    from tuinn.scenario.loader import load_scenario
    table = Table(title="Bundled scenarios (tuinn run NAME)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("what it shows")
    for path in bundled():
        spec = load_scenario(path)
        table.add_row(path.stem, spec.info.kind,
                      _safe(first_sentence(spec.info.description) or spec.info.name))
    console.print(table)


HEAD, TAIL = 40, 10        # rows a long table shows: its first and last ones


def _shown(n: int) -> list[int | None]:
    """The row numbers a table of n rows shows; None stands for the ones left out."""
    if n <= HEAD + TAIL + 1:
        return list(range(n))
    return [*range(HEAD), None, *range(n - TAIL, n)]


def print_check(spec: Spec, session) -> None:
    prog = session.program
    console.print(Text.assemble(_safe(spec.info.name, "bold"),
                                f"  ({spec.info.kind}, {spec.info.dtype}, seed {spec.info.seed})  ",
                                ("valid", "green")))
    if spec.info.kind == "graph":
        table = Table(title="inputs", title_justify="left")
        table.add_column("name"); table.add_column("shape"); table.add_column("value")
        items = list(prog.inputs.items())
        for i in _shown(len(items)):
            if i is None:
                table.add_row("…", "", f"{len(items) - HEAD - TAIL:,} more inputs")
                continue
            name, value = items[i]
            table.add_row(_safe(name), fmt.shape(value), fmt.summary(value))
        console.print(table)
        gate_list = spec.graph.gates
        gates = Table(title=_safe(f"{len(gate_list)} gates, output {spec.graph.output!r}"),
                      title_justify="left")
        gates.add_column("line", justify="right"); gates.add_column("node"); gates.add_column("gate")
        gates.add_column("inputs")
        for i in _shown(len(gate_list)):
            if i is None:
                gates.add_row("…", "", "", f"{len(gate_list) - HEAD - TAIL:,} more gates "
                              "(`tuinn trace` lists every step)")
                continue
            g = gate_list[i]
            gates.add_row(str(g.line), _safe(g.id), _safe(prog.label(g.id)), _safe(", ".join(g.args)))
        console.print(gates)
    elif spec.info.kind == "knn":
        from tuinn.cli_knn import print_knn_check
        print_knn_check(console, prog)
    else:
        print_layers(prog)
    if spec.info.kind == "gan":                  # the duel's settings
        g, d = prog.optim["generator"], prog.optim["discriminator"]
        console.print(Text(f"z: {prog.latent} numbers ~ N(0, 1); {prog.d_steps} D step(s) per "
                           f"G step; {len(prog.x):,} real samples, batches of "
                           f"{prog.batch_size}; G: {g.type} lr {fmt.num(g.lr)}, D: {d.type} "
                           f"lr {fmt.num(d.lr)}"))
    prep = getattr(prog, "prep", None)
    if prep is not None and prep.steps and spec.info.kind == "network":
        from tuinn.cli_knn import print_preprocess
        print_preprocess(console, prep)


def print_knn_eval(spec: Spec, session, as_json: bool) -> int:
    from tuinn.cli_knn import knn_eval
    return knn_eval(console, spec, session, as_json)


def print_layers(prog) -> None:
    table = Table(title="layers", title_justify="left")
    for col in ("layer", "type", "output shape", "parameters", "note"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    total = 0
    for row in prog.layer_table():
        total += row["params"]
        note = ", ".join(filter(None, (row.get("note", ""),
                                       "frozen (trainable = false)" if row.get("frozen") else "")))
        table.add_row(_safe(row["name"]), _safe(row["type"]), str(row["shape"]), f"{row['params']:,}",
                      _safe(note))
    table.add_row("", "", "total", f"{total:,}", "")
    console.print(table)


def print_trace(spec: Spec, session, events: Iterable[dict]) -> None:
    if spec.info.kind == "knn":
        from tuinn.cli_knn import print_knn_trace
        return print_knn_trace(console, spec, events)
    table = Table(title=_safe(f"{spec.info.name}: trace"), title_justify="left")
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
            table.add_row(str(n), Text(ev["phase"], style=style), _safe(ev["node"]), _safe(label),
                          value, grad)
        elif ev["event"] == "iteration":
            loss = (f"loss {fmt.num(ev['loss'], 6)}" if "loss" in ev else      # gan: two losses
                    f"d_loss {fmt.num(ev['d_loss'], 4)} g_loss {fmt.num(ev['g_loss'], 4)}")
            table.add_row("", Text("iteration", style="bold"), str(ev["iteration"]), f"epoch {ev['epoch']}",
                          loss, "")
        else:
            final = ev
    console.print(table)
    if final is not None and final["event"] == "graph":
        res = Table(title=_safe(f"output {prog.output} = {fmt.summary(final['output'], 4)}"),
                    title_justify="left")
        res.add_column("name"); res.add_column("value"); res.add_column(_safe(f"d{prog.output}/dname"))
        for name in prog.names():
            res.add_row(_safe(name), fmt.summary(final["values"][name], 4),
                        fmt.summary(final["grads"][name], 4))
        console.print(res)


def print_gradcheck(spec: Spec, results) -> int:
    from tuinn.engine.gradcheck import CRITERION
    what = "input" if spec.info.kind == "graph" else "parameter"
    table = Table(title=_safe(f"{spec.info.name}: gradient check (float64, centred differences)"),
                  title_justify="left")
    for col in (what, "shape", "checked", "max |a - n|", "worst at", "worst/allowed", ""):
        table.add_column(col)
    for r in results:
        worst = r.worst_entry
        verdict = Text("ok", style="green") if r.ok else Text("FAIL", style="bold red")
        table.add_row(_safe(r.name), str(r.shape), str(r.checked), f"{r.max_abs:.2e}",
                      str(list(worst[0])) if worst and worst[0] else "", f"{r.worst:.2g}", verdict)
    console.print(table)
    console.print(Text(f"pass: {CRITERION}, a analytic, n numeric; worst/allowed is the "
                       "largest |a - n| / allowed, ok at <= 1"))
    bad = [r for r in results if not r.ok]
    for r in bad:
        pos, a, n = r.worst_entry
        at = f" {list(pos)}" if pos else ""
        console.print(Text.assemble(("FAIL ", "bold red"), _safe(r.name),
                                    f"{at}: analytic {a:.8g}, numeric {n:.8g}"))
    if bad:
        console.print(Text.assemble((f"{len(bad)} {what}(s) fail:", "bold red"), " ",
                                    _safe(", ".join(r.name for r in bad))))
        return 1
    console.print(Text(f"all {len(results)} {what}s pass", style="green"))
    return 0


#: beside `tuinn train`'s progress bar while a kernel compiles (or loads from the cache)
COMPILING_NOTE = "compiling or loading kernels…"


def run_training(spec: Spec, session, epochs: int | None, as_json: bool) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tuinn.engine.trace import json_line
    from tuinn.engine.run.training import NonFinite, train
    prog = session.program
    epochs = epochs or prog.epochs
    # memory stays flat however long it trains: the table's rows (at most 10 epochs and
    # the last) and the plot's bounded summary (prog.losses) are all that is kept
    wanted = {int(i) for i in np.linspace(0, epochs - 1, min(epochs, 10))}
    results: list = []

    def keep(r) -> None:
        if results and results[-1].epoch not in wanted:
            results.pop()                            # the previous "last" row
        results.append(r)

    err_console = Console(stderr=True, highlight=False, markup=False)
    try:
        if as_json:
            for r in train(session, epochs):
                keep(r)
                print(json_line({"event": "epoch", "epoch": r.epoch, "iteration": r.iteration,
                                 "loss": r.loss, "val_loss": r.val_loss, "accuracy": r.accuracy,
                                 "val_accuracy": r.val_accuracy}), flush=True)
        else:
            from tuinn.engine import jit
            with Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                          TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                          TextColumn("{task.fields[note]}"),
                          console=err_console, transient=True) as bar:
                task = bar.add_task("train", total=epochs, loss="?", note="")

                def compiling() -> None:       # the first run on a machine: ~10-30 s
                    bar.update(task, note=COMPILING_NOTE)
                with jit.compiling(compiling):
                    for r in train(session, epochs):
                        keep(r)
                        bar.update(task, completed=r.epoch + 1, loss=fmt.num(r.loss, 4),
                                   note="")
    except NonFinite as bad:
        err_console.print(Text.assemble(("stopped:", "bold red"), " ",
                                        _safe(f"{bad.where} (iteration {bad.iteration})")))
        return 1
    if as_json or not results:
        return 0
    last = results[-1]
    table = Table(title=_safe(f"{spec.info.name}: trained {epochs} epochs, {last.iteration} iterations "
                              f"in {last.seconds:.2f} s"), title_justify="left")
    for col in ("epoch", "loss", "val loss", "accuracy", "val accuracy"):
        table.add_column(col, justify="right")
    shown = results
    pct = lambda a: "" if a is None else f"{100 * a:.1f}%"
    for r in shown:
        table.add_row(str(r.epoch), fmt.num(r.loss, 5), "" if r.val_loss is None else fmt.num(r.val_loss, 5),
                      pct(r.accuracy), pct(r.val_accuracy))
    console.print(table)
    from tuinn.tui.render.plot import LinePlot
    span, view = prog.losses.summary(), prog.losses.view()
    log = span is not None and span[0] > 0 and span[1] / span[0] > 100
    console.print(LinePlot([("train loss", view.train, "cyan")], width=min(console.width, 72),
                           height=12, log_y=log, x_scale=view.x_scale, x_last=view.last,
                           title="loss per iteration" + (" (log scale)" if log else "")))
    return 0
