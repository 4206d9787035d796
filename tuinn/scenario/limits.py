"""Provides the limits that keep hostile scenario files safe: size, nesting, memory.

- a scenario file holds at most MAX_SCENARIO_BYTES;
- TOML values nest at most MAX_TOML_DEPTH levels deep (arrays, inline tables, dotted
  keys and table headers; tomllib recurses: `deep_toml` finds the line before it is
  asked to parse, and `value_depth` measures what it parsed);
- a network has at most MAX_LAYERS layers;
- a scenario's tensors need at most `memory_limit()` bytes, 2 GB unless the environment
  variable TUINN_MEMORY_LIMIT says otherwise ("8GB", "500MB", "0" for no limit).
"""

from __future__ import annotations

import os
import re

from tuinn.errors import TuinnError

MAX_SCENARIO_BYTES = 2 * 1000 ** 2
MAX_TOML_DEPTH = 64
MAX_LAYERS = 1000             # layers of a network, those inside residual blocks included
MAX_INPUTS = 1000             # inputs of a graph (a tensor is one input)
DEFAULT_MEMORY_LIMIT = 2 * 1000 ** 3
MEMORY_VARIABLE = "TUINN_MEMORY_LIMIT"

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000 ** 2, "mb": 1000 ** 2,
          "g": 1000 ** 3, "gb": 1000 ** 3, "t": 1000 ** 4, "tb": 1000 ** 4,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*")


def memory_limit() -> int | None:
    """The memory a scenario may need, in bytes; None: no limit (TUINN_MEMORY_LIMIT=0)."""
    text = os.environ.get(MEMORY_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT
    m = _AMOUNT.fullmatch(text)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS or len(text) > 30:
        from tuinn.fmt import safe
        raise TuinnError(f"'{safe(text, limit=30)}' is not an amount of memory",
                         key=MEMORY_VARIABLE,
                         hint="for example 8GB, 500MB, or 0 for no limit")
    amount = int(float(m.group(1)) * _UNITS[unit])
    return amount or None


def fmt_bytes(n: float) -> str:
    """"80 GB", "1.5 MB", "512 bytes" (decimal units, as disks and the limit use)."""
    for unit, size in (("TB", 1000 ** 4), ("GB", 1000 ** 3), ("MB", 1000 ** 2), ("kB", 1000)):
        if n >= size:
            value = n / size
            text = f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{int(n)} bytes"


# ------------------------------------------------------------------ TOML nesting
# what can open or close a level, start a string, or start a comment
_TOKEN = re.compile(r'"""|\'\'\'|["\'#\[\]{}\n]')
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
_MULTI_BASIC = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*""""{0,2}', re.S)
_MULTI_LITERAL = re.compile(r"'''(?:[^']|'(?!''))*''''{0,2}", re.S)


def deep_toml(text: str, limit: int = MAX_TOML_DEPTH) -> int | None:
    """The line where arrays and inline tables first nest deeper than `limit`, or None.

    A scan over the text (strings and comments skipped), without recursion, so that a
    file of thousands of `[` never reaches tomllib's recursive parser. Table headers
    (`[a]`, `[[b]]`) count too, but never come near the limit.
    """
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        m = _TOKEN.search(text, i)
        if m is None:
            return None
        tok, i = m.group(), m.start()
        if tok == "\n":
            line += 1
            i += 1
        elif tok == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif tok in "[{":
            depth += 1
            if depth > limit:
                return line
            i += 1
        elif tok in "]}":
            depth = max(0, depth - 1)
            i += 1
        else:
            pattern = {'"""': _MULTI_BASIC, "'''": _MULTI_LITERAL, '"': _BASIC,
                       "'": _LITERAL}[tok]
            s = pattern.match(text, i)
            end = s.end() if s else i + len(tok)     # malformed: tomllib will say where
            line += text.count("\n", i, end)
            i = end
    return None


_KEY_PART = r'(?:[A-Za-z0-9_-]+|"[^"\n]*"|\'[^\'\n]*\')'
_DOTTED = re.compile(r"^[ \t]*\[?\[?[ \t]*(" + _KEY_PART + r"(?:[ \t]*\.[ \t]*" + _KEY_PART
                     + r")*)", re.M)


def deep_keys(text: str, limit: int = MAX_TOML_DEPTH) -> int | None:
    """The line of the first key or table header of more than `limit` dotted parts."""
    for m in _DOTTED.finditer(text):
        if m.group(1).count(".") >= limit:
            return text.count("\n", 0, m.start()) + 1
    return None


def value_depth(value, limit: int = MAX_TOML_DEPTH) -> bool:
    """Do parsed TOML values nest (tables and arrays) deeper than `limit`? No recursion."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(v, dict):
            stack.extend((w, depth + 1) for w in v.values())
        elif isinstance(v, list):
            stack.extend((w, depth + 1) for w in v)
    return False


_LONG_DIGITS = re.compile(r"[0-9][0-9_]{999,}")


def long_number_line(text: str) -> int | None:
    """The line of the first number literal of a thousand digits or more, or None."""
    m = _LONG_DIGITS.search(text)
    return None if m is None else text.count("\n", 0, m.start()) + 1
