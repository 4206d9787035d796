"""Provides `tuinn train` for kind = "gan": a progress bar, a per-epoch table (D and G
losses, the generated batch's spread, how often D won outright) and both loss curves;
with --json one object per epoch."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuinn import fmt
from tuinn.cli_print import _safe, console
from tuinn.scenario.spec import Spec


def run_gan_training(spec: Spec, session, epochs: int | None, as_json: bool) -> int:
    """Train; 0 when done, 1 when a NaN or Inf stopped it (said on standard error)."""
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tuinn.engine.run.gan_training import train_gan
    from tuinn.engine.run.training import NonFinite
    from tuinn.engine.trace import json_line
    prog = session.program
    epochs = epochs or prog.epochs
    wanted = {int(i) for i in np.linspace(0, epochs - 1, min(epochs, 10))}
    rows: list = []                  # at most 10 epochs and the last: memory stays flat
    err_console = Console(stderr=True, highlight=False, markup=False)
    try:
        if as_json:
            for r in train_gan(session, epochs):
                print(json_line({"event": "epoch", "epoch": r.epoch, "iteration": r.iteration,
                                 "d_loss": r.d_loss, "g_loss": r.g_loss, "spread": r.spread,
                                 "d_wins": r.d_wins}), flush=True)
            return 0
        with Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                      TextColumn("D {task.fields[d]}  G {task.fields[g]}"),
                      TimeRemainingColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task("train", total=epochs, d="?", g="?")
            for r in train_gan(session, epochs):
                if rows and rows[-1].epoch not in wanted:
                    rows.pop()
                rows.append(r)
                bar.update(task, completed=r.epoch + 1, d=fmt.num(r.d_loss, 4),
                           g=fmt.num(r.g_loss, 4))
    except NonFinite as bad:
        err_console.print(Text.assemble(("stopped:", "bold red"), " ",
                                        _safe(f"{bad.where} (iteration {bad.iteration})")))
        return 1
    if not rows:
        return 0
    last = rows[-1]
    table = Table(title=_safe(f"{spec.info.name}: trained {epochs} epochs, {last.iteration} "
                              f"iterations in {last.seconds:.2f} s"), title_justify="left")
    for col in ("epoch", "D loss", "G loss", "spread", "D wins"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r.epoch), fmt.num(r.d_loss, 5), fmt.num(r.g_loss, 5),
                      fmt.num(r.spread, 3), f"{100 * r.d_wins:.0f}%")
    console.print(table)
    from tuinn.tui.render.plot import LinePlot
    d, g = prog.losses.view(), prog.g_losses.view()
    console.print(LinePlot([("D loss", d.train, "cyan"), ("G loss", g.train, "magenta")],
                           width=min(console.width, 72), height=12, x_scale=d.x_scale,
                           x_last=d.last, title="losses per iteration"))
    return 0
