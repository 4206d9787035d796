"""Provides trace events (the contract's JSON Lines records, as dicts) and strict JSON lines."""

from __future__ import annotations

import json
import math
from typing import Iterator

import numpy as np

from tuinn.engine.session import Session
from tuinn.fmt import to_json

_NONFINITE = {math.inf: "inf", -math.inf: "-inf"}


def strict(value):
    """`value` with every NaN and Inf float (at any depth) as the strings "nan", "inf",
    "-inf", and NumPy scalars as Python numbers, so that it is strict JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return "nan" if value != value else _NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def json_line(event: dict) -> str:
    """One event as a line of strict JSON (RFC 8259 has no NaN or Infinity): non-finite
    numbers are written as the strings "nan", "inf" and "-inf"."""
    try:
        return json.dumps(event, allow_nan=False)
    except (ValueError, TypeError):      # a NaN/Inf or a NumPy scalar somewhere: rare
        return json.dumps(strict(event), allow_nan=False)


def step_event(session: Session, iteration: int = 0) -> dict:
    """The event for the step the session has just run."""
    step = session.current
    tape = session.tape
    ev = {"event": "step", "iteration": iteration, "phase": step.phase,
          "node": step.node, "op": step.op}
    view = session.program.step_record(tape, step)
    ev.update({k: v if k == "frozen" else to_json(v) if k != "local_grads"
               else {a: to_json(g) for a, g in v.items()} for k, v in view.items()})
    return ev


def graph_trace(session: Session) -> Iterator[dict]:
    """Every step of a graph's forward and backward pass, then the `graph` event."""
    session.restart()
    while not session.at_end:
        session.step_over()
        yield step_event(session)
    prog, tape = session.program, session.tape
    yield {
        "event": "graph",
        "output": to_json(tape.values[prog.output]),
        "values": {n: to_json(prog.value_of(tape, n)) for n in prog.names()},
        "grads": {n: to_json(prog.grad_of(tape, n)) for n in prog.names()},
    }


def params_event(prog, tape) -> dict:
    """The iteration event's "params": each parameter's value before the update and its
    full gradient; a frozen one has `"frozen": true` and no grad."""
    return {k: {name: v if name == "frozen" else to_json(v)
                for name, v in prog.param_record(tape, k).items()}
            for k in prog.param_layers}


def iteration_event(prog, tape, it: int) -> dict:
    """A network's iteration event: the loss, every parameter's value and gradient, and,
    with batchnorm layers, the buffers (running statistics) after this forward pass."""
    ev = {"event": "iteration", "iteration": it, "epoch": prog.epoch_of(it),
          "loss": float(tape.values["loss"]), "params": params_event(prog, tape)}
    buffers = prog.buffers() if hasattr(prog, "buffers") else {}
    if buffers:
        ev["buffers"] = {k: to_json(v) for k, v in buffers.items()}
    return ev


def network_trace(session: Session, iterations: int = 1) -> Iterator[dict]:
    """Every step of `iterations` training iterations, with an `iteration` event after
    each backward pass (parameters before the update, full gradients with L2)."""
    prog = session.program
    session.restart()
    for _ in range(iterations):
        it = prog.iteration
        while not session.at_end:
            session.step_over()
            yield step_event(session, it)
            nxt = session.tick < session.total and session.steps[session.ticks[session.tick][0]]
            if session.current.phase == "backward" and (not nxt or nxt.phase != "backward"):
                yield iteration_event(prog, session.tape, it)
        session.next_iteration()


def gan_event(session: Session) -> dict:
    """A GAN iteration's event (the session has run its generator's backward step):
    both losses, every z used, the real batches and every parameter's value and grad."""
    prog, tape = session.program, session.tape
    it = prog.iteration
    real = tape.extra.get("real", {})
    return {"event": "iteration", "iteration": it, "epoch": prog.epoch_of(it),
            "d_loss": float(tape.extra["d_loss"]), "g_loss": float(tape.extra["g_loss"]),
            "noise": {"d": to_json(tape.extra["noise_d"]), "g": to_json(tape.extra["noise_g"])},
            "real": [to_json(real[k]) for k in sorted(real)],
            "params": params_event(prog, tape)}


def gan_trace(session: Session, iterations: int = 1) -> Iterator[dict]:
    """Every step of `iterations` GAN iterations, with the `iteration` event after the
    generator's backward pass (before its update)."""
    session.restart()
    for _ in range(iterations):
        it = session.iteration
        while not session.at_end:
            session.step_over()
            yield step_event(session, it)
            if session.current.phase == "backward" and session.current.node == "gen":
                yield gan_event(session)
        session.next_iteration()


def knn_trace(session: Session) -> Iterator[dict]:
    """Every query's five steps; after each query's prediction its `query` event, and
    last, when the queries have labels, the `knn` event with the accuracy."""
    prog = session.program
    session.restart()
    while not session.at_end:
        session.step_over()
        if session.current.phase == "predict":
            yield prog.event(prog.query_of(session.current))
    accuracy = prog.accuracy()
    if accuracy is not None:
        yield {"event": "knn", "accuracy": accuracy}


def pass_events(session: Session) -> list[dict]:
    """The current pass (a graph's, or the current iteration's) as trace events, replayed
    from its start; the session is left where it was."""
    prog = session.program
    here = session.tick
    session.restart()
    events = []
    it = session.iteration
    while not session.at_end:
        session.step_over()
        events.append(step_event(session, it))
    if prog.kind == "gan":
        session.goto(session.tick_of(next(st.index for st in prog.steps
                                          if st.phase == "backward" and st.node == "gen")) + 1)
        events.append(gan_event(session))
    elif prog.kind == "graph":
        events.append({"event": "graph", "output": to_json(session.tape.values[prog.output]),
                       "values": {n: to_json(prog.value_of(session.tape, n)) for n in prog.names()},
                       "grads": {n: to_json(prog.grad_of(session.tape, n)) for n in prog.names()}})
    else:
        events.append(iteration_event(prog, session.tape, it))
    session.goto(here)
    return events
