"""Provides the safe expression language of graph scenarios: tokenizer, parser, gates, shapes.

Every line of `[graph] expr` is `name = expression`. A hand-written tokenizer and a
recursive-descent parser (Python's precedence: `+ -` < `* / @` < unary `- +` < `**`,
with `**` right-associative and binding tighter than a unary minus on its left) build a
small tree; nothing is ever handed to Python to run. `build_graph` lowers the trees to
gates in source order, folding constants into the gates (`1 + a` -> addc(1)), and
`infer_shapes` follows NumPy's broadcasting and matmul rules.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections import namedtuple

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.spec import GateNode, GraphSpec

#: function name -> number of arguments
FUNCTIONS = {"exp": 1, "log": 1, "sigmoid": 1, "tanh": 1, "relu": 1, "abs": 1,
             "max": 2, "min": 2, "sum": 1, "mean": 1}
_NUM = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: parentheses, calls, unary signs and `**` nest at most this deep in one expression
MAX_NESTING = 100
#: gates in one graph (a flat sum of 5,000 terms is 4,999)
MAX_GATES = 20_000
_OPS = ("**", "+", "-", "*", "/", "@", "(", ")", ",", "=")
_BAD = {".": "attribute access ('.') is not allowed",
        "'": "strings are not allowed", '"': "strings are not allowed",
        "[": "brackets are not allowed: give tensors as [graph] inputs",
        "]": "brackets are not allowed: give tensors as [graph] inputs",
        "{": "braces are not allowed", "}": "braces are not allowed",
        ";": "one assignment per line: ';' is not allowed"}


class ExprError(Exception):
    """A syntax or meaning error at a column (0-based) of one expression line."""

    def __init__(self, message: str, col: int, hint: str | None = None):
        super().__init__(message)
        self.message, self.col, self.hint = message, col, hint


def _q(text: object) -> str:
    """User text quoted for a message (as repr quotes it): short, controls escaped."""
    t = safe(text, limit=40)
    quote = '"' if "'" in t and '"' not in t else "'"
    return quote + t + quote


def did_you_mean(word: str, options) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {_q(close[0])}?" if close else None


#: names the debugger keeps for itself: `x.grad` is x's gradient in watches/breakpoints
RESERVED = {"grad": "'.grad' names gradients in watches and breakpoints"}


def valid_name(name: str) -> bool:
    """Can `name` be an input or an assigned name?"""
    return bool(_NAME.fullmatch(name)) and not name.startswith("__") and \
        name not in FUNCTIONS and name not in RESERVED


# ------------------------------------------------------------------ tokens
Token = namedtuple("Token", "kind text col")       # kind: num | name | op | end


def tokenize(line: str) -> list[Token]:
    """Split one expression line into tokens (a `#` starts a comment)."""
    out, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t\r":
            i += 1
        elif c == "#":
            break
        elif c in "0123456789" or (c == "." and line[i + 1:i + 2].isdigit()):
            m = _NUM.match(line, i)
            end = m.end()
            if end < n and (line[end].isalnum() or line[end] in "_."):
                raise ExprError(f"malformed number {_q(line[i:end + 1])}", i)
            out.append(Token("num", m.group(), i))
            i = end
        elif c.isalpha() or c == "_":
            m = _NAME.match(line, i)
            if not m:
                raise ExprError(f"unexpected character {_q(c)}", i)
            if m.group().startswith("__"):
                raise ExprError(f"names starting with '__' are not allowed ({_q(m.group())})",
                                i, "expressions only compute with numbers and inputs")
            out.append(Token("name", m.group(), i))
            i = m.end()
        else:
            op = next((o for o in _OPS if line.startswith(o, i)), None)
            if op is None:
                raise ExprError(_BAD.get(c, f"unexpected character {_q(c)}"), i)
            out.append(Token("op", op, i))
            i += len(op)
    out.append(Token("end", "", min(i, n)))
    return out


# ------------------------------------------------------------------ syntax tree
# Tree nodes; `col` is the 0-based column of the token that made the node.
Num = namedtuple("Num", "value col")               # a number literal (float)
Name = namedtuple("Name", "id col")                # an input or assigned name
Unary = namedtuple("Unary", "op operand col")      # op: "-" | "+"
Bin = namedtuple("Bin", "op left right col")       # op: + - * / @ **
Call = namedtuple("Call", "fn args col")           # fn in FUNCTIONS, args a tuple


def show(node) -> str:
    """The tree fully parenthesized, e.g. `(-(x ** 2))`: for tests and messages."""
    if isinstance(node, Num):
        return repr(node.value)
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Unary):
        return f"({node.op}{show(node.operand)})"
    if isinstance(node, Bin):
        return f"({show(node.left)} {node.op} {show(node.right)})"
    return f"{node.fn}({', '.join(show(a) for a in node.args)})"


_BINARY = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2}     # precedence, all left-associative
_TWICE = "'=' may appear only once, after the assigned name"


class _Parser:
    """Recursive descent; binary operators by precedence climbing (a loop, so a long
    flat sum is no deeper than one term). Parentheses, calls, unary signs and `**`
    nest by recursion: `nest` bounds them at MAX_NESTING levels."""

    def __init__(self, tokens: list[Token], start: int = 0):
        self.toks, self.k = tokens, start
        self.depth = 0

    def nest(self, col: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(f"nested too deeply (more than {MAX_NESTING} levels of "
                            "parentheses, calls, signs or '**')", col,
                            "split it: assign a part to a name on its own line")

    def take(self) -> Token:
        self.k += 1
        return self.toks[self.k - 1]

    def at(self, *ops: str) -> bool:
        tok = self.toks[self.k]
        return tok.kind == "op" and tok.text in ops

    def parse(self):
        """A whole expression, up to the end of the line."""
        tree, tok = self.expression(1), self.toks[self.k]
        if tok.kind != "end":
            message = {"=": _TWICE, ")": "unmatched ')'"}.get(
                tok.text, f"unexpected {_q(tok.text)} after the expression")
            raise ExprError(message, tok.col, None if tok.text in "=)" else
                            "is an operator missing?")
        return tree

    def expression(self, min_prec: int):
        left = self.unary()
        while self.at(*_BINARY) and _BINARY[self.toks[self.k].text] >= min_prec:
            tok = self.take()
            left = Bin(tok.text, left, self.expression(_BINARY[tok.text] + 1), tok.col)
        return left

    def unary(self):
        if self.at("-", "+"):
            tok = self.take()
            self.nest(tok.col)
            node = Unary(tok.text, self.unary(), tok.col)
            self.depth -= 1
            return node
        base = self.primary()
        if self.at("**"):      # right-associative, tighter than a unary minus on its left
            tok = self.take()
            self.nest(tok.col)
            node = Bin("**", base, self.unary(), tok.col)
            self.depth -= 1
            return node
        return base

    def close(self, what: str) -> None:
        if not self.at(")"):
            raise ExprError(f"missing ')'{what}", self.toks[self.k].col)
        self.take()

    def primary(self):
        tok = self.take()
        if tok.kind == "num":
            return Num(float(tok.text), tok.col)
        if tok.kind == "name":
            return self.call(tok) if self.at("(") else Name(tok.text, tok.col)
        if tok.text == "(":
            self.nest(tok.col)
            inner = self.expression(1)
            self.close("")
            self.depth -= 1
            return inner
        if tok.kind == "end":
            raise ExprError("the expression ends too early", tok.col)
        raise ExprError(_TWICE if tok.text == "=" else f"unexpected {_q(tok.text)}", tok.col)

    def call(self, name: Token):
        self.take()   # "("
        self.nest(name.col)
        args = [] if self.at(")") else [self.expression(1)]
        while args and self.at(","):
            self.take()
            args.append(self.expression(1))
        self.close(" after the arguments")
        self.depth -= 1
        if name.text not in FUNCTIONS:
            raise ExprError(f"unknown function {_q(name.text)}", name.col,
                            did_you_mean(name.text, FUNCTIONS)
                            or "functions: " + ", ".join(FUNCTIONS))
        want = FUNCTIONS[name.text]
        if len(args) != want:
            raise ExprError(f"{name.text}() takes {want} argument{'s' * (want > 1)}, "
                            f"got {len(args)}", name.col)
        return Call(name.text, tuple(args), name.col)


def parse_expression(text: str):
    """Parse an expression (no assignment) into a tree."""
    return _Parser(tokenize(text)).parse()


def parse_line(line: str):
    """`name = expression` -> (name token, tree); None for a blank or comment line."""
    tokens = tokenize(line)
    target = tokens[0]
    if target.kind == "end":
        return None
    if target.kind != "name" or tokens[1].text != "=":
        col = tokens[1].col if target.kind == "name" else target.col
        raise ExprError("expected an assignment `name = expression`", col)
    return target, _Parser(tokens, 2).parse()


# ------------------------------------------------------------------ gates
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
            raise ExprError(f"{_q(node.id)} is used before it is assigned "
                            f"(on line {self.targets[node.id]})", node.col)
        if node.id in FUNCTIONS:
            raise ExprError(f"{_q(node.id)} is a function: write {node.id}(...)", node.col)
        known = list(self.inputs) + list(self.names)
        raise ExprError(f"unknown name {_q(node.id)}", node.col,
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
                raise ExprError(f"{_q(name)} is an input and cannot be assigned", target.col,
                                "pick a new name")
            if name in FUNCTIONS:
                raise ExprError(f"{_q(name)} is a function name and cannot be assigned",
                                target.col)
            if name in RESERVED:
                raise ExprError(f"{_q(name)} is reserved: {RESERVED[name]}", target.col,
                                "pick another name")
            if name in targets:
                raise ExprError(f"{_q(name)} is already assigned on line {targets[name]}",
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
                raise ExprError(f"{_q(name)} is a constant ({result:g}): "
                                "a graph computes with its inputs", 0,
                                "give constants as [graph] inputs to see their gradients")
        except ExprError as exc:
            raise fail(exc, j) from None
        builder.names[name] = result

    out_name = output if output is not None else parsed[-1][1]
    if out_name not in builder.names:
        what = "an input" if out_name in inputs else "not an assigned name"
        raise TuinnError(f"output {_q(out_name)} is {what}", file=file, line=output_line,
                         key="graph.output", hint=did_you_mean(out_name, builder.names))
    out_id = builder.names[out_name]
    if out_id in inputs:
        raise TuinnError(f"output {_q(out_name)} is just the input {_q(out_id)}: "
                         "the output must be computed by a gate", file=file,
                         line=targets[out_name], key=key)
    return GraphSpec(inputs=dict(inputs), gates=builder.gates, output=out_id,
                     names=builder.names)


# ------------------------------------------------------------------ shapes
_BROADCAST = {"add", "sub", "mul", "div", "max", "min"}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "max": "max", "min": "min",
           "matmul": "@"}


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    if not a or not b:
        raise ValueError("'@' needs arrays, not scalars (0-d)")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"inner sizes differ: {a2[-1]} != {b2[-2]}")
    out = np.broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def infer_shapes(graph: GraphSpec, file: str | None = None) -> dict[str, tuple[int, ...]]:
    """The shape of every input and gate, by NumPy's rules; the output must be a scalar."""
    shapes = {name: tuple(np.shape(value)) for name, value in graph.inputs.items()}
    for g in graph.gates:
        args = [shapes[a] for a in g.args]
        try:
            if g.op in _BROADCAST:
                shape = tuple(np.broadcast_shapes(*args))
            elif g.op == "matmul":
                shape = _matmul_shape(*args)
            elif g.op in ("sum", "mean"):
                shape = ()
            else:
                shape = args[0]
        except ValueError as exc:
            detail = " and ".join(f"{a} {s}" for a, s in zip(g.args, args))
            reason = str(exc) if g.op == "matmul" else "cannot be broadcast together"
            raise TuinnError(f"shape mismatch in gate {_q(g.id)} ({_SYMBOL[g.op]}): "
                             f"{detail}: {reason}", file=file, line=g.line,
                             key="graph.expr") from None
        shapes[g.id] = shape
    out = shapes[graph.output]
    if out != ():
        gate = next(g for g in graph.gates if g.id == graph.output)
        name = next((n for n, i in graph.names.items() if i == graph.output), graph.output)
        raise TuinnError(f"output {_q(name)} has shape {out}; the output must be a scalar: "
                         f"try sum({name}) or mean({name})", file=file, line=gate.line,
                         key="graph.expr")
    return shapes
