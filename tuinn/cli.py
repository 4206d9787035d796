"""Provides the `tuinn` command line: run, check, trace, train, gradcheck, snapshot, scenarios."""

from __future__ import annotations

import functools
import os
import sys

# Small networks run fastest on one BLAS thread; several spin-wait against each other
# (and against the UI) on small matrices. A user's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from typing import Optional

import typer

from tuinn import __version__
from tuinn.errors import TuinnError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_show_locals=False,
                  help="tuinn: watch a neural network compute, number by number.")


def report(err: TuinnError) -> None:
    """The one place a user error is printed: once, on stderr, no traceback."""
    from rich.console import Console
    from rich.text import Text

    from tuinn.fmt import safe
    Console(stderr=True, highlight=False).print(      # the file's text, escaped, as Text
        Text.assemble(("error: ", "bold red"), safe(str(err), newlines=True)), soft_wrap=True)


def guarded(fn):
    """Run a command; a TuinnError becomes a message and exit code 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TuinnError as err:
            report(err)
            raise typer.Exit(2)
    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tuinn {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit.")):
    """tuinn: a terminal explorer and step-through debugger for neural networks."""
    quiet_numpy()


def quiet_numpy() -> None:
    """NaN and Inf are results tuinn shows (and breakpoints stop at), not warnings:
    NumPy's floating-point warnings never reach stderr, from any thread."""
    import warnings
    warnings.filterwarnings("ignore", category=RuntimeWarning,
                            message=r"(overflow|divide by zero|invalid value|underflow) encountered")


@app.command()
@guarded
def run(file: str = typer.Argument(..., help="A scenario file, or a bundled scenario's name."),
        theme: Optional[str] = typer.Option(None, "--theme", help="A Textual theme, e.g. "
                                            "textual-light; NO_COLOR=1 turns colour off.")):
    """Open the step-through debugger on a scenario."""
    from tuinn.scenario.bundled import resolve
    from tuinn.scenario.loader import load_scenario
    spec = load_scenario(resolve(file))          # validated before the screen opens
    from tuinn.tui.app import TuinnApp
    app = TuinnApp(spec)                         # the program is built behind the first frame
    if theme:
        if theme not in app.available_themes:
            import difflib
            close = difflib.get_close_matches(theme, list(app.available_themes), n=1)
            raise TuinnError(f"unknown theme {theme!r}", key="--theme",
                             hint=f"did you mean {close[0]!r}?" if close else
                             "themes: " + ", ".join(sorted(app.available_themes)))
        app.theme = theme
    app.run()
    if app.build_error is not None:
        raise app.build_error


@app.command()
@guarded
def check(file: str = typer.Argument(..., help="A scenario file, or a bundled scenario's name.")):
    """Validate a scenario and summarise it (exit 0 when valid, 2 when not)."""
    from tuinn.cli_print import print_check
    from tuinn.engine.build import open_session
    spec, session = open_session(file)
    print_check(spec, session)


@app.command()
@guarded
def trace(file: str = typer.Argument(..., help="A scenario file, or a bundled scenario's name."),
          as_json: bool = typer.Option(False, "--json", help="JSON Lines per the scenario contract."),
          iterations: int = typer.Option(1, "--iterations", min=1, help="Iterations of a network to trace.")):
    """Run one pass step by step and print every value and gradient."""
    from tuinn.engine.build import open_session
    from tuinn.engine.trace import graph_trace, network_trace
    spec, session = open_session(file)
    events = graph_trace(session) if spec.info.kind == "graph" else network_trace(session, iterations)
    if as_json:
        from tuinn.engine.trace import json_line
        for ev in events:                       # strict JSON: NaN/Inf as "nan"/"inf"/"-inf"
            sys.stdout.write(json_line(ev) + "\n")
        return
    from tuinn.cli_print import print_trace
    print_trace(spec, session, events)


def _network(file: str, command: str):
    from tuinn.engine.build import open_session
    spec, session = open_session(file)
    if spec.info.kind != "network":
        raise TuinnError(f"`tuinn {command}` needs a network scenario; {file} is a {spec.info.kind}",
                         file=file, hint=f"try `tuinn trace {file}`")
    return spec, session


@app.command()
@guarded
def train(file: str = typer.Argument(..., help="A network scenario file or bundled name."),
          epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override [train] epochs."),
          as_json: bool = typer.Option(False, "--json", help="One JSON object per epoch.")):
    """Train headless: a progress bar, a final table and a text loss plot."""
    from tuinn.cli_print import run_training
    spec, session = _network(file, "train")
    raise typer.Exit(run_training(spec, session, epochs, as_json))


@app.command()
@guarded
def gradcheck(file: str = typer.Argument(..., help="A scenario file or bundled name."),
              entries: int = typer.Option(40, "--entries", min=1,
                                          help="Entries checked per tensor (random beyond).")):
    """Check every parameter's (network) or input's (graph) gradient against centred
    differences in float64. An entry passes when |a - n| <= 1e-6 + 1e-4·|n|; exit 1
    when any fails."""
    from tuinn.cli_print import print_gradcheck
    from tuinn.engine.build import open_session
    from tuinn.engine.gradcheck import check_scenario
    spec, _ = open_session(file)
    results = check_scenario(spec, max_entries=entries)
    raise typer.Exit(print_gradcheck(spec, results))


@app.command()
@guarded
def snapshot(file: str = typer.Argument(..., help="A scenario file, or a bundled scenario's name."),
             keys: str = typer.Option("", "--keys", help='Keys to press first, e.g. "n n c" '
                                      "(Textual key names: right, left, enter, question_mark...)."),
             size: str = typer.Option("120x40", "--size", help="Terminal size, COLSxROWS."),
             out: str = typer.Option("screen.svg", "--out", help="Output file: .svg or .txt."),
             timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for each key's work."),
             theme: Optional[str] = typer.Option(None, "--theme", help="A Textual theme, e.g. textual-light.")):
    """Run the app headless, press keys, save the screen (SVG or text)."""
    import re
    from pathlib import Path

    from tuinn.engine.build import open_session
    from tuinn.tui.app import TuinnApp
    from tuinn.tui.headless import snapshot as take, svg_to_text
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if not m or int(m.group(1)) < 20 or int(m.group(2)) < 8:
        raise TuinnError(f"size must look like 120x40 (at least 20x8), got {size!r}", key="--size")
    if not out.endswith((".svg", ".txt")):
        raise TuinnError(f"--out must end in .svg or .txt, got {out!r}", key="--out")
    w, h = int(m.group(1)), int(m.group(2))
    spec, session = open_session(file)
    svg = take(TuinnApp(spec, session, theme=theme), keys.split(), (w, h), timeout)
    Path(out).write_text(svg if out.endswith(".svg") else svg_to_text(svg, w, h), encoding="utf-8")
    typer.echo(f"wrote {out} ({w}x{h}, keys: {keys or 'none'})")


@app.command()
def scenarios():
    """List the bundled scenarios."""
    from tuinn.cli_print import print_scenarios
    print_scenarios()


def main() -> None:
    app()
