"""Provides `npz_headers` and `read_npz`: .npz arrays checked before their data is read.

An .npz is a zip of .npy files, each opening with a header that declares its dtype and
shape. A small compressed file can declare 4e8 numbers, so the headers are read first
(numpy.lib.format.read_magic / read_array_header_*), and an array is refused when its
dtype is not a plain number (object arrays are pickles; strings, structs, complex) or
its size is over the memory limit. Only then is the data read, with allow_pickle=False.
Errors name the .npz file and the key that set it; nothing of the file's content is
echoed beyond a short escaped excerpt of an array name.
"""

from __future__ import annotations

import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario import limits as L

NUMERIC = "biuf"                      # bool, int, unsigned, float
MAX_MEMBERS = 10_000


def _error(path: str, key: str, message: str, hint: str | None = None) -> TuinnError:
    return TuinnError(message, file=path, key=key, hint=hint)


def _name(member: str) -> str:
    return member[:-4] if member.endswith(".npy") else member


def npz_headers(path: str, key: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array name -> (shape, dtype) as the .npz headers declare them, nothing else read."""
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise _error(path, key, f"holds {len(infos):,} files: not a data file")
            for info in infos:
                if not info.filename.endswith(".npy"):
                    continue
                with z.open(info) as f:
                    version = npy_format.read_magic(f)
                    read = (npy_format.read_array_header_1_0 if version == (1, 0)
                            else npy_format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                out[_name(info.filename)] = (tuple(int(d) for d in shape), np.dtype(dtype))
    except TuinnError:
        raise
    except FileNotFoundError:
        raise _error(path, key, "file not found") from None
    except IsADirectoryError:
        raise _error(path, key, "is a directory, not a file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, EOFError,
            OSError, zlib.error, SyntaxError, TypeError, NotImplementedError):
        raise _error(path, key, "not a readable .npz file (a zip of .npy arrays)",
                     "save it with numpy.savez") from None
    return out


def check_header(path: str, key: str, name: str, shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
    """A plain numeric dtype, and a size within the memory limit."""
    shown = safe(name, limit=40)
    if dtype.kind not in NUMERIC or dtype.fields is not None or dtype.hasobject:
        what = {"O": "objects (a pickle)", "U": "text", "S": "bytes", "V": "records",
                "c": "complex numbers", "M": "dates", "m": "time spans"}.get(dtype.kind,
                                                                          str(dtype))
        raise _error(path, key, f"array '{shown}' holds {what}, not numbers",
                     "save plain float or integer arrays")
    size = math.prod(shape) * dtype.itemsize
    limit = L.memory_limit()
    if limit is not None and size > limit:
        raise _error(path, key, f"array '{shown}' declares shape {shape}: about "
                     f"{L.fmt_bytes(size)}, the limit is {L.fmt_bytes(limit)}",
                     f"set {L.MEMORY_VARIABLE} (e.g. 8GB) to allow more")


def read_npz(path: str, key: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays `names` (None: every array) of an .npz file, checked: declared dtype and
    size first, then the data, which must be finite."""
    headers = npz_headers(path, key)
    wanted = list(headers) if names is None else names
    for name in wanted:
        if name not in headers:
            found = ", ".join(safe(n, limit=20) for n in list(headers)[:8]) or "none"
            raise _error(path, key, f"no array named '{safe(name, limit=40)}' in the file "
                         f"(found: {found})")
        check_header(path, key, name, *headers[name])
    out = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in wanted:
                out[name] = np.asarray(z[name])
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        raise _error(path, key, "cannot read the arrays of this .npz file",
                     "save it with numpy.savez") from None
    for name, arr in out.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise _error(path, key, f"array '{safe(name, limit=40)}' holds {bad:,} NaN or "
                         "Inf values", "numbers must be finite")
    return out
