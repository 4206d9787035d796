"""Provides the `tuinn` command line: run, check, trace, train, gradcheck, snapshot, import, export, scenarios."""

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
    from tuinn.engine.trace import gan_trace, graph_trace, knn_trace, network_trace
    spec, session = open_session(file)
    events = (graph_trace(session) if spec.info.kind == "graph" else knn_trace(session)
              if spec.info.kind == "knn" else gan_trace(session, iterations)
              if spec.info.kind == "gan" else network_trace(session, iterations))
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
def train(file: str = typer.Argument(..., help="A network, gan or knn scenario file or bundled name."),
          epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override [train] epochs."),
          as_json: bool = typer.Option(False, "--json", help="One JSON object per epoch."),
          save: Optional[str] = typer.Option(None, "--save", metavar="FILE", help="Then save the "
                                             "trained parameters to FILE, .npz or .safetensors "
                                             "(names as dense1.W; [params] file loads them).")):
    """Train headless: a progress bar, a final table and a text loss plot."""
    from tuinn.cli_print import run_training
    from tuinn.engine.build import open_session
    if save is not None:
        from tuinn.scenario.params_io import check_writable
        check_writable(save)                     # before the training, not after it
    spec, session = open_session(file)
    if spec.info.kind == "knn":              # nothing to train: classify the queries
        if save is not None:
            raise TuinnError("a knn scenario has no parameters to save", key="--save")
        from tuinn.cli_print import print_knn_eval
        raise typer.Exit(print_knn_eval(spec, session, as_json))
    if spec.info.kind == "gan":              # the duel: D and G losses per epoch
        if save is not None:
            raise TuinnError("a gan scenario's parameters cannot be saved: no scenario "
                             "loads them back", key="--save",
                             hint="--save works for network scenarios")
        from tuinn.cli_gan import run_gan_training
        raise typer.Exit(run_gan_training(spec, session, epochs, as_json))
    if spec.info.kind != "network":
        spec, session = _network(file, "train")
    code = run_training(spec, session, epochs, as_json)
    if save is not None:
        _save_trained(session.program, save, code)
    raise typer.Exit(code)


def _save_trained(prog, path: str, code: int) -> None:
    """`tuinn train --save`: the trained parameters, unless training stopped on a NaN."""
    from tuinn.fmt import safe
    if code != 0:
        typer.echo(f"not saved to {safe(path)}: training stopped", err=True)
        return
    from tuinn.engine.run.training import save_params
    save_params(prog, path)
    buffers = len(getattr(prog, "buffer_layers", ()))
    extra = f" and {buffers} running statistics" if buffers else ""
    typer.echo(f"saved {len(prog.param_layers)} parameters{extra} to {safe(path)}", err=True)


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
    spec, session = open_session(file)
    results = check_scenario(spec, max_entries=entries)
    code = print_gradcheck(spec, results)
    frozen = [k for k in getattr(session.program, "param_layers", ())
              if k in getattr(session.program, "frozen", ())]
    if frozen:                                   # trainable = false: no gradient to check
        from tuinn.fmt import safe
        typer.echo(safe(f"not checked: {len(frozen)} frozen parameters (trainable = false): "
                        + ", ".join(frozen), limit=300))
    raise typer.Exit(code)


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


@app.command("import")
@guarded
def import_model(model: str = typer.Argument(..., help="An .onnx file, a PyTorch .pt/.pth file, "
                                             "or a state dict (.safetensors, .npz) with --scenario."),
                 out: str = typer.Option(..., "--out", help="The scenario to write (.toml); its "
                                         "parameters go in an .npz beside it."),
                 data: Optional[str] = typer.Option(None, "--data", help="An .npz with arrays x "
                                                    "and y (default: a random placeholder batch)."),
                 loss: Optional[str] = typer.Option(None, "--loss", help="mse (default), "
                                                    "softmax_ce (default after a Softmax), bce, hinge."),
                 batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1,
                                                          help="Minibatches (with --data); "
                                                          "default one full batch."),
                 scenario: Optional[str] = typer.Option(None, "--scenario", help="A scenario "
                                                        "whose layers a state dict fills.")):
    """Import a model (ONNX, PyTorch, or a state dict) as a network scenario."""
    from tuinn.fmt import safe
    from tuinn.interop.importer import run_import
    for path in run_import(model, out, data=data, loss=loss, batch_size=batch_size,
                           scenario=scenario):
        typer.echo(f"wrote {safe(path)}")


@app.command()
@guarded
def export(file: str = typer.Argument(..., help="A network scenario file or bundled name."),
           onnx_out: str = typer.Option(..., "--onnx", help="The ONNX file to write.")):
    """Write a network scenario's model and parameters as ONNX (needs tuinn[onnx])."""
    from tuinn.fmt import safe
    from tuinn.interop.onnx_export import export_onnx
    spec, session = _network(file, "export")
    export_onnx(spec, session.program, onnx_out)
    typer.echo(f"wrote {safe(onnx_out)}")


@app.command()
def scenarios():
    """List the bundled scenarios."""
    from tuinn.cli_print import print_scenarios
    print_scenarios()


def main() -> None:
    app()
