"""Provides `locate`, which finds the line of every key in a TOML text, and `Where`.

tomllib reports no positions, so this module scans the raw text once (after tomllib
accepted it) and maps every dotted key path to the line where it is written:
`[a.b]` tables, `[[model.layers]]` arrays of tables by index (0-based), inline tables,
arrays of inline tables, dotted and quoted keys. For string values it also records
the file line of each line of the decoded string, so errors inside a multi-line
`expr` can name the exact line of the file.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tuinn.errors import TuinnError
from tuinn.fmt import safe

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_QUOTES = ('"', "'")      # a tuple: peek() gives "" at the end, and "" is in any str
_BLANK = re.compile(r"[ \t]*")
_SPACE = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_SCALAR = re.compile(r"[^,\]}\n#]*")
_PLAIN = re.compile(r"[^\[\]\"'{}#]*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\",
            "e": "\x1b"}


@dataclass
class Located:
    lines: dict[str, int] = field(default_factory=dict)          # dotted key -> line
    strings: dict[str, list[int]] = field(default_factory=dict)  # key -> line of each string line


class _Stop(Exception):
    """The text is not shaped as expected here: keep what was found so far."""


def locate(text: str) -> Located:
    """Map every dotted key path of a TOML text to its (1-based) line."""
    scan = _Scan(text)
    try:
        scan.run()
    except (_Stop, IndexError, ValueError):
        pass  # partial result: lines already found stay usable
    return scan.found


def line_of(lines: dict[str, int], key: str | None) -> int | None:
    """The line of `key`, or of its nearest written parent (for missing keys)."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


class Where:
    """Builds TuinnErrors that name the file, the line and the dotted key."""

    def __init__(self, file: str, lines: dict[str, int]):
        self.file = file
        self.lines = lines

    def line(self, key: str | None) -> int | None:
        return line_of(self.lines, key)

    def error(self, message: str, key: str | None, hint: str | None = None) -> TuinnError:
        """An error at `key`'s line; the key as shown is short and control-free."""
        shown = safe(key, limit=80) if key else key
        return TuinnError(message, file=self.file, line=self.line(key), key=shown, hint=hint)

    def missing(self, table: str, message: str) -> TuinnError:
        """A table the scenario's kind needs is absent: an error at the `kind` line."""
        return TuinnError(message, file=self.file, line=self.line("scenario.kind"), key=table)


class _Scan:
    def __init__(self, text: str):
        self.t = text
        self.n = len(text)
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.found = Located()
        self.explicit: set[str] = set()
        self.aot: dict[tuple[str, ...], int] = {}   # array-of-tables path -> count so far

    # --- helpers -------------------------------------------------------------------
    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def record(self, path, pos: int, explicit: bool = True) -> None:
        key = ".".join(path)
        if explicit and key not in self.explicit:
            self.explicit.add(key)
            self.found.lines[key] = self.line_at(pos)
        else:
            self.found.lines.setdefault(key, self.line_at(pos))

    def skip(self, pattern: re.Pattern) -> None:
        self.i = pattern.match(self.t, self.i).end()

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.t[j] if j < self.n else ""

    # --- structure -----------------------------------------------------------------
    def run(self) -> None:
        table: tuple[str, ...] = ()
        while True:
            self.skip(_SPACE)
            if self.i >= self.n:
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.keyval(table)

    def header(self) -> tuple[str, ...]:
        start = self.i
        aot = self.t.startswith("[[", self.i)
        self.i += 2 if aot else 1
        parts = self.key_parts()
        self.skip(_BLANK)
        closing = "]]" if aot else "]"
        if not self.t.startswith(closing, self.i):
            raise _Stop
        self.i += len(closing)
        path: list[str] = []
        for k, part in enumerate(parts):
            path.append(part)
            last = k == len(parts) - 1
            if last and aot:
                count = self.aot.get(tuple(path), 0)
                self.aot[tuple(path)] = count + 1
                self.record(path, start, explicit=False)
                path.append(str(count))
            elif tuple(path) in self.aot:
                path.append(str(self.aot[tuple(path)] - 1))
            self.record(path, start, explicit=last)
        return tuple(path)

    def key_parts(self) -> list[str]:
        parts = []
        while True:
            self.skip(_BLANK)
            c = self.peek()
            if c in _QUOTES:
                parts.append(self.string(c, multi=False)[0])
            else:
                m = _BARE.match(self.t, self.i)
                if not m:
                    raise _Stop
                parts.append(m.group())
                self.i = m.end()
            self.skip(_BLANK)
            if self.peek() != ".":
                return parts
            self.i += 1

    def keyval(self, prefix) -> None:
        start = self.i
        parts = self.key_parts()
        if self.peek() != "=":
            raise _Stop
        self.i += 1
        self.skip(_BLANK)
        path = list(prefix)
        for k, part in enumerate(parts):
            path.append(part)
            self.record(path, start, explicit=k == len(parts) - 1)
        self.value(path)

    def value(self, path: list[str]) -> None:
        c = self.peek()
        key = ".".join(path)
        if c in _QUOTES:
            multi = self.t.startswith(c * 3, self.i)
            self.found.strings[key] = self.string(c, multi)[1]
        elif c == "[":
            if not self.skip_plain_array():
                self.array(path)
        elif c == "{":
            self.inline_table(path)
        elif c:
            self.skip(_SCALAR)
        else:
            raise _Stop

    def skip_plain_array(self) -> bool:
        """Jump over an array holding no strings, tables or comments (fast path)."""
        j, depth = self.i, 0
        while j < self.n:
            j = _PLAIN.match(self.t, j).end()
            c = self.t[j] if j < self.n else ""
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    self.i = j + 1
                    return True
            else:
                return False
            j += 1
        return False

    def array(self, path: list[str]) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip(_SPACE)
            c = self.peek()
            if c == "]":
                self.i += 1
                return
            if not c:
                raise _Stop
            if c == "{":
                self.record(path + [str(index)], self.i)
            start = self.i
            self.value(path + [str(index)])
            if self.i == start:       # not a value (`[}]` in text tomllib refused): no loop
                raise _Stop
            index += 1
            self.skip(_SPACE)
            if self.peek() == ",":
                self.i += 1

    def inline_table(self, path: list[str]) -> None:
        self.i += 1
        while True:
            self.skip(_SPACE)
            c = self.peek()
            if c == "}":
                self.i += 1
                return
            if not c:
                raise _Stop
            self.keyval(path)
            self.skip(_SPACE)
            if self.peek() == ",":
                self.i += 1

    # --- strings -------------------------------------------------------------------
    # `starts` holds [line, tentative] for each line of the decoded string: the line
    # of its first character, or (for an empty line) where that line would begin.
    def _open(self, multi: bool) -> list[list]:
        """Step over the opening quotes; return the starts list."""
        self.i += 3 if multi else 1
        if multi:   # a newline right after the opening quotes is trimmed
            if self.t.startswith("\r\n", self.i):
                self.i += 2
            elif self.peek() == "\n":
                self.i += 1
        return [[self.line_at(self.i), True]]

    def _emit(self, out: list[str], starts: list[list], text: str, at: int) -> None:
        if starts[-1][1]:
            starts[-1] = [self.line_at(at), False]
        out.append(text)
        if text == "\n":
            starts.append([self.line_at(at + 1) if self.t[at] == "\n" else self.line_at(at), True])

    @staticmethod
    def _result(out: list[str], starts: list[list]) -> tuple[str, list[int]]:
        return "".join(out).replace("\r\n", "\n"), [line for line, _ in starts]

    def _close(self, quote: str, multi: bool, out: list[str], starts: list[list]) -> bool:
        """At a quote: end the string (True), or keep the quote as content."""
        if not multi:
            self.i += 1
            return True
        if not self.t.startswith(quote * 3, self.i):
            self._emit(out, starts, quote, self.i)
            self.i += 1
            return False
        run = 3
        while run < 5 and self.peek(run) == quote:
            run += 1
        if run > 3:
            self._emit(out, starts, quote * (run - 3), self.i)
        self.i += run
        return True

    def _simple(self, pattern: re.Pattern) -> tuple[str, list[int]] | None:
        """A one-line string without escapes, in one step (the common case)."""
        m = pattern.match(self.t, self.i)
        if m is None:
            return None
        self.i = m.end()
        return m.group()[1:-1], [self.line_at(m.start())]

    def string(self, quote: str, multi: bool) -> tuple[str, list[int]]:
        """A basic string (`"`, with escapes) or a literal one (`'`, none): its text and
        the line of each of its lines."""
        basic = quote == '"'
        simple = None if multi else self._simple(_SIMPLE_BASIC if basic else _SIMPLE_LITERAL)
        if simple is not None:
            return simple
        starts = self._open(multi)
        out: list[str] = []
        while True:
            c = self.peek()
            if not c:
                raise _Stop
            if c == quote:
                if self._close(quote, multi, out, starts):
                    return self._result(out, starts)
                continue
            if basic and c == "\\":
                self.escape(out, starts, multi)
                continue
            self._emit(out, starts, c, self.i)
            self.i += 1

    def escape(self, out: list[str], starts: list[list], multi: bool) -> None:
        nxt = self.peek(1)
        if multi and nxt in " \t\r\n":   # line-ending backslash: trim to the next text
            m = _LINE_END.match(self.t, self.i + 1)
            if m:
                self.i = _SPACE_ONLY.match(self.t, m.end()).end()
                return
        if nxt in ("u", "U"):
            width = 4 if nxt == "u" else 8
            text = chr(int(self.t[self.i + 2:self.i + 2 + width], 16))
            self._emit(out, starts, text, self.i)
            self.i += 2 + width
            return
        self._emit(out, starts, _ESCAPES.get(nxt, nxt), self.i)
        self.i += 2


_SPACE_ONLY = re.compile(r"[ \t\r\n]*")
_SIMPLE_BASIC = re.compile(r'"[^"\\\n]*"')
_SIMPLE_LITERAL = re.compile(r"'[^'\n]*'")
_LINE_END = re.compile(r"[ \t]*\r?\n")
