"""Provides the readers of data files: `load_npz` and `load_csv`, checked as they read.

.npz: the headers first (dtype, declared size; see tuinn.scenario.npz), no pickles,
finite values. .csv: UTF-8 (a byte-order mark is skipped), every cell a finite number,
its size within the memory limit before it is read, and no more of a cell echoed in an
error than a short escaped excerpt (the file may be a link to something else).
"""

from __future__ import annotations

import csv
import math
import os
from array import array

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario import limits as L
from tuinn.scenario.npz import read_npz


def _file_error(path: str, message: str, line: int | None = None,
                hint: str | None = None) -> TuinnError:
    return TuinnError(message, file=path, line=line, key="data.file", hint=hint)


def load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays "x" and "y" of an .npz file: headers checked first, no pickles, finite."""
    arrays = read_npz(path, "data.file", ["x", "y"])
    return arrays["x"], arrays["y"]


def _cell(text: str) -> str:
    """A short, escaped excerpt of a CSV cell (the file may not be the user's own)."""
    return repr(safe(text, limit=20))


def load_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A numeric CSV: one sample a row, the last column the target.

    UTF-8 (a byte-order mark is skipped). Blank lines and lines starting with '#' are
    skipped; a first row with no number in it is a header. Every number must be finite.
    Returns x (N, columns-1) float64 and y (N,) float64.
    """
    values = array("d")
    width = None
    try:
        size = os.path.getsize(path)
        limit = L.memory_limit()
        if limit is not None and 4 * size > limit:        # at most size/2 numbers of 8 bytes
            raise _file_error(path, f"{L.fmt_bytes(size)} of text may hold more numbers "
                              f"than the memory limit allows ({L.fmt_bytes(limit)})")
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                cells = [c.strip() for c in row]
                if not any(cells) or cells[0].startswith("#"):
                    continue
                try:
                    numbers = [float(c) for c in cells]
                except ValueError:
                    if not values and width is None and not any(_is_number(c) for c in cells):
                        width = len(cells)                  # a header row
                        continue
                    col, bad = next((j, c) for j, c in enumerate(cells) if not _is_number(c))
                    raise _file_error(path, f"row {lineno}, column {col + 1}: {_cell(bad)} is "
                                      "not a number", lineno) from None
                if width is None:
                    width = len(numbers)
                if len(numbers) != width:
                    raise _file_error(path, f"row {lineno}: {len(numbers)} columns, "
                                      f"expected {width}", lineno)
                if not all(map(math.isfinite, numbers)):
                    col = next(j for j, v in enumerate(numbers) if not math.isfinite(v))
                    raise _file_error(path, f"row {lineno}, column {col + 1}: "
                                      f"{_cell(cells[col])} is not a finite number", lineno)
                values.extend(numbers)
    except TuinnError:
        raise
    except FileNotFoundError:
        raise _file_error(path, "data file not found") from None
    except UnicodeDecodeError as err:
        raise _file_error(path, f"not UTF-8 text (byte 0x{err.object[err.start]:02x})",
                          hint="save the CSV as UTF-8") from None
    except csv.Error as err:
        raise _file_error(path, f"not a readable CSV file ({safe(err, limit=60)})") from None
    except OSError as err:
        raise _file_error(path, f"cannot read the file: {err.strerror}") from None
    if not values:
        raise _file_error(path, "no data rows in the file")
    if width < 2:
        raise _file_error(path, "needs at least two columns (features, then the target)")
    a = np.frombuffer(values, dtype=np.float64).reshape(-1, width)
    return a[:, :-1], a[:, -1]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
