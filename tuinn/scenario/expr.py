"""Provides the safe expression language of graph scenarios: its tokenizer and parser.

Every line of `[graph] expr` is `name = expression`. A hand-written tokenizer and a
recursive-descent parser (Python's precedence: `+ -` < `* / @` < unary `- +` < `**`,
with `**` right-associative and binding tighter than a unary minus on its left) build a
small tree; nothing is ever handed to Python to run. `expr_build.build_graph` lowers the
trees to gates and `expr_shapes.infer_shapes` gives every gate its shape.
"""

from __future__ import annotations

import difflib
import re
from collections import namedtuple

from tuinn.fmt import safe

#: function name -> number of arguments
FUNCTIONS = {"exp": 1, "log": 1, "sigmoid": 1, "tanh": 1, "relu": 1, "abs": 1,
             "max": 2, "min": 2, "sum": 1, "mean": 1}
_NUM = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: parentheses, calls, unary signs and `**` nest at most this deep in one expression
MAX_NESTING = 100
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


def quote(text: object) -> str:
    """User text quoted for a message (as repr quotes it): short, controls escaped."""
    t = safe(text, limit=40)
    mark = '"' if "'" in t and '"' not in t else "'"
    return mark + t + mark


def did_you_mean(word: str, options) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {quote(close[0])}?" if close else None


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
                raise ExprError(f"malformed number {quote(line[i:end + 1])}", i)
            out.append(Token("num", m.group(), i))
            i = end
        elif c.isalpha() or c == "_":
            m = _NAME.match(line, i)
            if not m:
                raise ExprError(f"unexpected character {quote(c)}", i)
            if m.group().startswith("__"):
                raise ExprError(f"names starting with '__' are not allowed ({quote(m.group())})",
                                i, "expressions only compute with numbers and inputs")
            out.append(Token("name", m.group(), i))
            i = m.end()
        else:
            op = next((o for o in _OPS if line.startswith(o, i)), None)
            if op is None:
                raise ExprError(_BAD.get(c, f"unexpected character {quote(c)}"), i)
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
                tok.text, f"unexpected {quote(tok.text)} after the expression")
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
        raise ExprError(_TWICE if tok.text == "=" else f"unexpected {quote(tok.text)}", tok.col)

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
            raise ExprError(f"unknown function {quote(name.text)}", name.col,
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
