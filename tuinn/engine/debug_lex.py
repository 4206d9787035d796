"""Provides the tokens of breakpoints and watches: Cursor, which reads them and words errors.

A hand-written tokenizer (names, numbers, a few operators); strings, indexing and
anything else are refused with the column. Nothing is ever handed to Python to run.
"""

from __future__ import annotations

import math
import re
from collections import namedtuple

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.expr import did_you_mean as _close

MAX_TEXT = 200                     # characters in one breakpoint or watch


# ------------------------------------------------------------------ quoting
def _q(text: object) -> str:
    """User text quoted for a message (as repr quotes it): short, controls escaped."""
    t = safe(text, limit=40)
    quote = '"' if "'" in t and '"' not in t else "'"
    return quote + t + quote


def did_you_mean(word: str, options) -> str | None:
    """A hint naming the closest option (a different case first: dense1.w -> dense1.W)."""
    options = list(options)
    same = [o for o in options if o.lower() == word.lower()]
    return f"did you mean {_q(same[0])}?" if same else _close(word, options)


# ------------------------------------------------------------------ tokens
Tok = namedtuple("Tok", "kind text col")            # kind: num | name | op | end
_NUM = re.compile(r"[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")
_OPS = ("<=", ">=", "==", "!=", "<", ">", "(", ")", ".", ",", "-", "+")
_BAD = {"'": "strings are not allowed", '"': "strings are not allowed",
        "[": "indexing is not supported", "]": "indexing is not supported",
        "=": "use '==' to compare", ";": "one breakpoint or watch per entry"}


class Cursor:
    """Tokens of one breakpoint or watch, with errors that name the text and column."""

    def __init__(self, text: str, what: str):
        self.text, self.what = text, what
        self._check_length(text)
        self.toks = self._tokenize(text)
        self.k = 0

    def error(self, message: str, col: int, hint: str | None = None) -> TuinnError:
        return TuinnError(f"{self.what} {_q(self.text)}: {message} (column {col + 1})", hint=hint)

    def _check_length(self, text: str) -> None:
        if len(text) > MAX_TEXT:
            raise self.error(f"too long ({len(text):,} characters; at most {MAX_TEXT})", 0,
                             "a breakpoint or a watch is one short condition or name")

    def _tokenize(self, text: str) -> list[Tok]:
        out, i, n = [], 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
                continue
            after_name = out and (out[-1].kind == "name" or out[-1].text == ")")
            m = _NUM.match(text, i) if c.isdigit() or (c == "." and not after_name) else None
            if m:
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] in "_."):
                    raise self.error(f"malformed number {_q(text[i:end + 1])}", i)
                out.append(Tok("num", m.group(), i))
                i = end
                continue
            m = _NAME.match(text, i)
            if m:
                if m.group().startswith("__"):
                    raise self.error(f"names starting with '__' are not allowed "
                                     f"({_q(m.group())})", i, "only tensor names and numbers")
                out.append(Tok("name", m.group(), i))
                i = m.end()
                continue
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise self.error(_BAD.get(c, f"unexpected character {_q(c)}"), i)
            out.append(Tok("op", op, i))
            i += len(op)
        out.append(Tok("end", "", n))
        return out

    # -------------------------------------------------------------- reading
    def peek(self, ahead: int = 0) -> Tok:
        return self.toks[min(self.k + ahead, len(self.toks) - 1)]

    def take(self) -> Tok:
        tok = self.peek()
        self.k = min(self.k + 1, len(self.toks) - 1)
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    @staticmethod
    def show(tok: Tok) -> str:
        return "the end" if tok.kind == "end" else _q(tok.text)

    def dotted(self, expected: str) -> tuple[str, int]:
        """NAME ('.' NAME)*, as one string, and its column."""
        tok = self.take()
        if tok.kind != "name":
            raise self.error(f"expected {expected}, got {self.show(tok)}", tok.col)
        parts = [tok.text]
        while self.at("."):
            dot = self.take()
            part = self.take()
            if part.kind != "name":
                raise self.error(f"expected a name after '.', got {self.show(part)}",
                                 part.col if part.kind != "end" else dot.col + 1)
            parts.append(part.text)
        return ".".join(parts), tok.col

    def number(self, after: str) -> tuple[float, int]:
        sign, col = 1.0, self.peek().col
        if self.at("-", "+"):
            sign = -1.0 if self.take().text == "-" else 1.0
        tok = self.take()
        if tok.kind != "num":
            raise self.error(f"expected a number after {_q(after)}, got {self.show(tok)}",
                             tok.col)
        value = float(tok.text)
        if not math.isfinite(value):
            raise self.error(f"the number {_q(tok.text)} is too large", tok.col)
        return sign * value, col

    def end(self, after: str) -> None:
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {self.show(tok)} after {after}", tok.col)
