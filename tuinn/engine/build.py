"""Provides `open_session`: scenario file -> Spec -> Program -> Session."""

from __future__ import annotations

from tuinn.engine.program import GraphProgram
from tuinn.engine.session import Session
from tuinn.scenario.spec import Spec


def build_program(spec: Spec):
    """The Program a Spec describes (graph or network)."""
    if spec.info.kind == "graph":
        return GraphProgram(spec.graph, spec.info.dtype)
    if spec.info.kind == "knn":
        from tuinn.engine.knn import KnnProgram
        return KnnProgram(spec)
    if spec.info.kind == "gan":
        from tuinn.engine.gan import GanProgram
        return GanProgram(spec)
    from tuinn.engine.network import NetworkProgram
    return NetworkProgram(spec)


def build_session(spec: Spec) -> Session:
    """The Session for a Spec, with its [debug] breakpoints and watches parsed (a
    malformed one is a TuinnError naming the file and key)."""
    from tuinn.engine.breakpoints import Breakpoints
    from tuinn.engine.debug import debug_names
    from tuinn.engine.watches import Watches
    session = Session(build_program(spec))
    file, dbg = spec.info.path or None, spec.debug
    if spec.info.kind == "knn":
        from tuinn.errors import TuinnError
        for key in ("breakpoints", "watch"):
            if getattr(dbg, key):
                raise TuinnError(f"[debug] {key} are for graphs and networks, not knn",
                                 file=file, line=spec.lines.get(f"debug.{key}"),
                                 key=f"debug.{key}", hint="step through the queries instead")
        return session
    names = debug_names(session.program)
    if spec.info.kind == "gan" and dbg.watch:
        from tuinn.errors import TuinnError
        raise TuinnError("[debug] watch is for graphs and networks, not gan", file=file,
                         line=spec.lines.get("debug.watch"), key="debug.watch",
                         hint="the GAN view shows both losses, the spread and D's scores")
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
