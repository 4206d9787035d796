"""Provides the headless printers for kind = "knn" (check, trace, train) and for
[data] preprocess (the training split's statistics before and after)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuinn import fmt
from tuinn.scenario.preprocess import describe
from tuinn.scenario.spec import Spec

SHOWN = 6          # features listed in the preprocess table; the rest summarised


def print_knn_check(console: Console, prog) -> None:
    labels, counts = np.unique(prog.y, return_counts=True)
    per = ", ".join(f"{int(c)}: {int(n)}" for c, n in zip(labels, counts))
    table = Table(title="k nearest neighbours", title_justify="left", show_header=False)
    table.add_column("what"); table.add_column("value")
    table.add_row("training points", f"{len(prog.x):,} of {prog.x.shape[1]} features")
    table.add_row("classes", f"{len(prog.classes)} (points per class: {per})")
    table.add_row("k", str(prog.k))
    table.add_row("metric", prog.metric)
    table.add_row("weights", prog.weights)
    source = "the validation split (labelled)" if prog.labelled else "[knn] queries"
    table.add_row("queries", f"{len(prog.queries)}, from {source}")
    table.add_row("steps", f"{len(prog.steps)} (distances, sort, nearest, vote, predict "
                           "per query)")
    console.print(table)
    if prog.prep.steps:
        print_preprocess(console, prog.prep)


def print_preprocess(console: Console, prep) -> None:
    """The training split's per-feature mean and std before and after preprocessing."""
    table = Table(title="preprocess (statistics of the training split; validation and "
                        "queries use the same)", title_justify="left")
    for col in ("feature", "mean before", "std before", "mean after", "std after"):
        table.add_column(col, justify="right")
    d = len(prep.before["mean"])
    for j in range(min(d, SHOWN)):
        table.add_row(str(j), *(fmt.num(float(prep.__dict__[when][s][j]), 4)
                                for when, s in (("before", "mean"), ("before", "std"),
                                                ("after", "mean"), ("after", "std"))))
    if d > SHOWN:
        table.add_row(f"({d - SHOWN} more)", "", "", "", "")
    console.print(table)
    for line in describe(prep):
        console.print(Text("  " + line))


def print_knn_trace(console: Console, spec: Spec, events: Iterable[dict]) -> None:
    table = Table(title=Text(fmt.safe(f"{spec.info.name}: trace")), title_justify="left")
    for col in ("query", "point", "neighbours (nearest first)", "distances", "votes",
                "prediction"):
        table.add_column(col)
    accuracy = None
    for ev in events:
        if ev["event"] == "knn":
            accuracy = ev["accuracy"]
            continue
        point = ev["query"]
        shown = (", ".join(fmt.num(v, 3) for v in point) if len(point) <= 3
                 else fmt.summary(np.asarray(point), 3))
        table.add_row(f"q{ev['index']}", shown,
                      ", ".join(map(str, ev["neighbors"])),
                      ", ".join(fmt.num(v, 3) for v in ev["distances"]),
                      ", ".join(f"{c}: {fmt.num(w, 3)}" for c, w in ev["votes"].items()),
                      str(ev["prediction"]))
    console.print(table)
    if accuracy is not None:
        console.print(Text(f"accuracy on the labelled queries: {accuracy:.1%}"))


def knn_eval(console: Console, spec: Spec, session, as_json: bool) -> int:
    """`tuinn train` on knn: nothing to train; classify every query, report accuracy."""
    from tuinn.engine.trace import json_line, knn_trace
    events = list(knn_trace(session))
    prog = session.program
    accuracy = prog.accuracy()
    if as_json:
        print(json_line({"event": "knn", "queries": len(prog.queries), "k": prog.k,
                         "metric": prog.metric, "accuracy": accuracy}), flush=True)
        return 0
    done = sum(ev["event"] == "query" for ev in events)
    console.print(Text(f"knn has no parameters to train: it classified {done} queries with "
                       f"k = {prog.k}, metric {prog.metric}, weights {prog.weights}."))
    if accuracy is not None:
        right = sum(q.prediction == q.label for q in prog.queries)
        console.print(Text(f"accuracy: {accuracy:.1%} ({right} of {len(prog.queries)} "
                           "validation points)"))
    else:
        console.print(Text("the queries have no labels: no accuracy (`tuinn trace` lists "
                           "the predictions)"))
    return 0
