"""Provides the bundled scenarios: listing them and resolving a name or a path."""

from __future__ import annotations

import difflib
from pathlib import Path

from tuinn.errors import TuinnError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def bundled() -> list[Path]:
    """Every bundled scenario file, sorted by name."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(BUNDLED_DIR.glob("*.toml"))


def resolve(arg: str) -> Path:
    """A path as given, or the bundled scenario of that name (with or without .toml)."""
    path = Path(arg)
    if path.exists():
        return path
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    for candidate in bundled():
        if candidate.stem == name and (path.parent == Path(".") or path.parent.name == "scenarios"):
            return candidate
    names = [p.stem for p in bundled()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "`tuinn scenarios` lists the bundled ones"
    raise TuinnError(f"no such scenario file: {arg}", hint=hint)
