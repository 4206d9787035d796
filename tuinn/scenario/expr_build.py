"""Provides `build_graph`: parsed `[graph] expr` lines -> a GraphSpec of gates in source order.

Constants fold into the gates (`1 + a` -> addc(1), `x / 2` -> mulc(0.5)); a long flat
sum is lowered by a loop, not by recursion; every assigned name becomes the id of the
gate that computes it, and intermediate gates get ids like `mul3` that no name uses.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.expr import (FUNCTIONS, RESERVED, Bin, Call, ExprError, Name, Num, Unary,
                                 did_you_mean, parse_line, quote)
from tuinn.scenario.spec import GateNode, GraphSpec

#: gates in one graph (a flat sum of 5,000 terms is 4,999)
MAX_GATES = 20_000

_FOLD_BIN = {"+": operator.add, "-": operator.sub, "*": operator.mul,
             "/": operator.truediv, "**": math.pow}
_FOLD_FN = {"exp": math.exp, "log": math.log, "sigmoid": lambda c: 0.5 * (1.0 + math.tanh(0.5 * c)), "tanh": math.tanh,
            "relu": lambda c: max(c, 0.0), "abs": abs, "sum": float, "mean": float,
            "max": max, "min": min}
_NODE_OP = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul"}


class _Builder:
    """Lowers trees to gates; a lowered value is a float (constant) or a node id."""

    def __init__(self, inputs, targets: dict[str, int]):
        self.inputs = inputs
        self.targets = targets                     # every assigned name -> its file line
        self.used = set(inputs) | set(targets)     # ids an intermediate gate must avoid
        self.counts: dict[str, int] = {}
        self.gates: list[GateNode] = []
        self.names: dict[str, str] = {}
        self.line = 0

    def gate(self, op: str, args, const: float | None, root: str | None) -> str:
        if len(self.gates) >= MAX_GATES:
            raise ExprError(f"more than {MAX_GATES:,} gates", 0,
                            "a graph this large would take forever to step through")
        if root is None:
            n = self.counts.get(op, 0) + 1
            while f"{op}{n}" in self.used:
                n += 1
            self.counts[op] = n
            gid = f"{op}{n}"
            self.used.add(gid)
        else:
            gid = root
        self.gates.append(GateNode(gid, op, tuple(args), const, self.line, root))
        return gid

    def fold(self, fn, args, col: int) -> float:
        try:
            value = float(fn(*args))
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            raise ExprError(f"cannot compute this with numbers: {exc}", col) from None
        if not math.isfinite(value):
            raise ExprError("a constant here is not finite", col)
        return value

    def resolve(self, node: Name) -> str:
        if node.id in self.inputs:
            return node.id
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.targets:
            raise ExprError(f"{quote(node.id)} is used before it is assigned "
                            f"(on line {self.targets[node.id]})", node.col)
        if node.id in FUNCTIONS:
            raise ExprError(f"{quote(node.id)} is a function: write {node.id}(...)", node.col)
        known = list(self.inputs) + list(self.names)
        raise ExprError(f"unknown name {quote(node.id)}", node.col,
                        did_you_mean(node.id, known) or "known names: " + ", ".join(
                            [safe(k, limit=40) for k in known[:12]] + ["..."] * (len(known) > 12)))

    def lower(self, node, root: str | None = None):
        if isinstance(node, Num):
            if not math.isfinite(node.value):
                raise ExprError("this number is too large", node.col)
            return node.value
        if isinstance(node, Name):
            return self.resolve(node)
        if isinstance(node, Unary):
            if node.op == "+":
                return self.lower(node.operand, root)
            v = self.lower(node.operand)
            return -v if isinstance(v, float) else self.gate("neg", (v,), None, root)
        if isinstance(node, Call):
            return self.call(node, root)
        spine = [node]               # a + b + c + ...: the left operands, lowered by a loop
        while isinstance(spine[-1].left, Bin):
            spine.append(spine[-1].left)
        value = self.lower(spine[-1].left)
        for bin_node in reversed(spine):
            value = self.binary(bin_node, value, self.lower(bin_node.right),
                                root if bin_node is node else None)
        return value

    def binary(self, node: Bin, a, b, root: str | None):
        """The gate of `a op b` (a and b lowered: floats or node ids), or a folded float."""
        op, ca, cb = node.op, isinstance(a, float), isinstance(b, float)
        if op == "@":
            if ca or cb:
                raise ExprError("'@' needs two tensors, not a number", node.col)
            return self.gate("matmul", (a, b), None, root)
        if op == "**" and not cb:
            raise ExprError("the exponent of '**' must be a number", node.col)
        if ca and cb:
            return self.fold(_FOLD_BIN[op], (a, b), node.col)
        if op == "**":
            return self.gate("powc", (a,), b, root)
        if not (ca or cb):
            return self.gate(_NODE_OP[op], (a, b), None, root)
        if op in "+*":
            c, x = (a, b) if ca else (b, a)
            return self.gate("addc" if op == "+" else "mulc", (x,), c, root)
        if op == "-":
            if cb:
                return self.gate("addc", (a,), -b, root)
            return self.gate("addc", (self.gate("neg", (b,), None, None),), a, root)
        if cb:   # a / c
            return self.gate("mulc", (a,), self.fold(operator.truediv, (1.0, b), node.col), root)
        if a == 1.0:   # 1 / x
            return self.gate("inv", (b,), None, root)
        return self.gate("mulc", (self.gate("inv", (b,), None, None),), a, root)

    def call(self, node: Call, root: str | None):
        args = [self.lower(arg) for arg in node.args]
        consts = [a for a in args if isinstance(a, float)]
        if len(consts) == len(args):
            return self.fold(_FOLD_FN[node.fn], consts, node.col)
        if len(args) == 2 and consts:
            x = args[1] if isinstance(args[0], float) else args[0]
            return self.gate(node.fn + "c", (x,), consts[0], root)
        return self.gate(node.fn, tuple(args), None, root)


def build_graph(expr: str, inputs: dict[str, np.ndarray], output: str | None = None, *,
                file: str | None = None, line_map: list[int] | None = None,
                output_line: int | None = None, key: str = "graph.expr") -> GraphSpec:
    """Parse `expr` and lower it to a GraphSpec (gates in source order).

    line_map[j] is the file line of expr line j (from locate); without it line j+1.
    """
    lines = expr.replace("\r\n", "\n").split("\n")

    def where(j: int) -> int:
        return line_map[min(j, len(line_map) - 1)] if line_map else j + 1

    def fail(exc: ExprError, j: int):
        text = safe(lines[j].strip(), limit=40)
        return TuinnError(f"{exc.message} (column {exc.col + 1} of `{text}`)", file=file,
                          line=where(j), key=key, hint=exc.hint)

    parsed, targets = [], {}
    for j, text in enumerate(lines):
        try:
            item = parse_line(text)
            if item is None:
                continue
            target, tree = item
            name = target.text
            if name in inputs:
                raise ExprError(f"{quote(name)} is an input and cannot be assigned", target.col,
                                "pick a new name")
            if name in FUNCTIONS:
                raise ExprError(f"{quote(name)} is a function name and cannot be assigned",
                                target.col)
            if name in RESERVED:
                raise ExprError(f"{quote(name)} is reserved: {RESERVED[name]}", target.col,
                                "pick another name")
            if name in targets:
                raise ExprError(f"{quote(name)} is already assigned on line {targets[name]}",
                                target.col, "every name is assigned once")
        except ExprError as exc:
            raise fail(exc, j) from None
        targets[name] = where(j)
        parsed.append((j, name, tree))
    if not parsed:
        raise TuinnError("no assignments: write lines like `f = x * y`", file=file,
                         line=where(0), key=key)

    builder = _Builder(inputs, targets)
    for j, name, tree in parsed:
        builder.line = where(j)
        try:
            result = builder.lower(tree, name)
            if isinstance(result, float):
                raise ExprError(f"{quote(name)} is a constant ({result:g}): "
                                "a graph computes with its inputs", 0,
                                "give constants as [graph] inputs to see their gradients")
        except ExprError as exc:
            raise fail(exc, j) from None
        builder.names[name] = result

    out_name = output if output is not None else parsed[-1][1]
    if out_name not in builder.names:
        what = "an input" if out_name in inputs else "not an assigned name"
        raise TuinnError(f"output {quote(out_name)} is {what}", file=file, line=output_line,
                         key="graph.output", hint=did_you_mean(out_name, builder.names))
    out_id = builder.names[out_name]
    if out_id in inputs:
        raise TuinnError(f"output {quote(out_name)} is just the input {quote(out_id)}: "
                         "the output must be computed by a gate", file=file,
                         line=targets[out_name], key=key)
    return GraphSpec(inputs=dict(inputs), gates=builder.gates, output=out_id,
                     names=builder.names)
