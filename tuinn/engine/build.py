"""Provides `open_session`: scenario file -> Spec -> Program -> Session."""

from __future__ import annotations

from tuinn.engine.program import GraphProgram
from tuinn.engine.session import Session
from tuinn.scenario.spec import Spec


def build_program(spec: Spec):
    """The Program a Spec describes (graph or network)."""
    if spec.info.kind == "graph":
        return GraphProgram(spec.graph, spec.info.dtype)
    from tuinn.engine.network import NetworkProgram
    return NetworkProgram(spec)


def build_session(spec: Spec) -> Session:
    """The Session for a Spec, with its [debug] breakpoints and watches parsed (a
    malformed one is a TuinnError naming the file and key)."""
    from tuinn.engine.breakpoints import Breakpoints
    from tuinn.engine.debug import debug_names
    from tuinn.engine.watches import Watches
    session = Session(build_program(spec))
    names = debug_names(session.program)
    file, dbg = spec.info.path or None, spec.debug
    session.breakpoints = Breakpoints.from_spec(dbg.breakpoints, names, file=file,
                                                line=spec.lines.get("debug.breakpoints"))
    session.watches = Watches.from_spec(dbg.watch, names, file=file,
                                        line=spec.lines.get("debug.watch"))
    return session


def open_session(path: str) -> tuple[Spec, Session]:
    """Load, validate and build a scenario; errors are TuinnError."""
    from tuinn.scenario.bundled import resolve
    from tuinn.scenario.loader import load_scenario
    spec = load_scenario(resolve(path))
    return spec, build_session(spec)
