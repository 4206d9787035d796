"""Provides `need`: an optional package, or an error saying which extra installs it."""

from __future__ import annotations

import importlib

from tuinn.errors import TuinnError

#: package -> the extra that installs it
EXTRAS = {"onnx": "onnx", "torch": "torch"}


def need(package: str, what: str, file: str | None = None):
    """Import `package`; without it, a TuinnError naming the extra to install."""
    try:
        return importlib.import_module(package)
    except ImportError:
        extra = EXTRAS.get(package, package)
        raise TuinnError(f"{what} needs the {package} package, which is not installed",
                         file=file, hint=f"pip install 'tuinn[{extra}]'") from None
