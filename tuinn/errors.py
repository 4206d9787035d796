"""Provides TuinnError, the one error type users see (printed once, exit code 2)."""

from __future__ import annotations


class TuinnError(Exception):
    """An error in the user's input: a scenario file, a key, a value.

    `file`, `line` and `key` say where; `hint` carries a "did you mean".
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, hint: str | None = None, title: str = "Error"):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.hint = hint
        self.title = title

    @property
    def where(self) -> str:
        """`file:line` (or as much of it as is known)."""
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line:
            parts.append(str(self.line))
        return ":".join(parts)

    def __str__(self) -> str:
        text = self.message
        if self.key:
            text = f"{self.key}: {text}"
        if self.where:
            text = f"{self.where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text
