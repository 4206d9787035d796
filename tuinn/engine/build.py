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


def open_session(path: str) -> tuple[Spec, Session]:
    """Load, validate and build a scenario; errors are TuinnError."""
    from tuinn.scenario.bundled import resolve
    from tuinn.scenario.loader import load_scenario
    spec = load_scenario(resolve(path))
    return spec, Session(build_program(spec))
