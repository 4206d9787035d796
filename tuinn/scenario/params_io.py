"""Provides reading and writing of parameter files (.npz and .safetensors) under the contract's names.

`read_params(path)` returns name -> array ("dense1.W" -> (in, out)) from either format,
checked before any data is read: plain numeric dtypes, sizes within the memory limit,
then finite values. A .safetensors file is a little-endian u64 header length, a JSON
header (name -> dtype, shape, data_offsets) and the raw bytes; the header is parsed
and checked here (bounded length, offsets inside the file and matching the shapes)
before `safetensors.numpy` reads the data. No pickles in either format.

`write_params(path, params)` writes them atomically (a temporary file beside the target,
then a rename), in the arrays' own dtype, so that reading back gives them bit for bit.

The same files carry a layer's buffers beside its parameters, under the trace's names
("bn1.running_mean", "bn1.running_var": batchnorm's running statistics): they are not
trained, but a model's eval-mode output depends on them (files.py LAYER_BUFFERS names
them and checks their values).
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.npz import check_header, read_npz

SUFFIXES = (".npz", ".safetensors")
#: safetensors dtypes NumPy reads, as NumPy dtypes (BF16 and the FP8 kinds are not)
SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                      "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2",
                      "U8": "u1", "BOOL": "?"}
#: the header a .safetensors file may declare (the format's own cap)
MAX_HEADER_BYTES = 100 * 1000 ** 2


def _error(path: str, key: str, message: str, hint: str | None = None) -> TuinnError:
    return TuinnError(message, file=path, key=key, hint=hint)


def suffix_of(path: str | os.PathLike, key: str = "params.file") -> str:
    """The file's format, ".npz" or ".safetensors"; anything else is an error."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise _error(str(path), key, f"a parameter file must end in {' or '.join(SUFFIXES)}",
                     f"got {safe(suffix or 'no suffix', limit=20)}")
    return suffix


# ------------------------------------------------------------------ reading
def params_headers(path: str, key: str = "params.file") -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array name -> (shape, dtype) as the file declares them, nothing else read; each
    checked (plain numbers, within the memory limit)."""
    if suffix_of(path, key) == ".npz":
        from tuinn.scenario.npz import npz_headers
        headers = npz_headers(path, key)
    else:
        headers = {name: (shape, dtype) for name, (shape, dtype, _) in
                   safetensors_headers(path, key).items()}
    for name, (shape, dtype) in headers.items():
        check_header(path, key, name, shape, dtype)
    return headers


def read_params(path: str, key: str = "params.file") -> dict[str, np.ndarray]:
    """Every array of a parameter file (.npz or .safetensors), checked: declared dtype
    and size first, then the data, which must be finite."""
    if suffix_of(path, key) == ".npz":
        return read_npz(path, key)
    headers = safetensors_headers(path, key)
    for name, (shape, dtype, _) in headers.items():
        check_header(path, key, name, shape, dtype)
    try:
        from safetensors.numpy import load_file
    except ImportError:                       # a dependency: only a broken install
        raise _error(path, key, "reading .safetensors needs the safetensors package",
                     "pip install safetensors") from None
    try:
        out = {name: np.asarray(arr) for name, arr in load_file(path).items()}
    except Exception:                 # the package's own errors: the file is not readable
        raise _error(path, key, "cannot read the arrays of this .safetensors file") from None
    for name, arr in out.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise _error(path, key, f"array '{safe(name, limit=40)}' holds {bad:,} NaN or "
                         "Inf values", "numbers must be finite")
    return out


def safetensors_headers(path: str, key: str = "params.file"
                        ) -> dict[str, tuple[tuple[int, ...], np.dtype, tuple[int, int]]]:
    """Name -> (shape, dtype, (begin, end) of its bytes) from a .safetensors header,
    checked against the file: a bounded JSON header, known dtypes, offsets that match
    the shapes and lie inside the file."""
    not_st = "not a readable .safetensors file"
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _error(path, key, f"{not_st} (shorter than its header)")
            (n,) = struct.unpack("<Q", head)
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise _error(path, key, f"{not_st} (its header claims {n:,} bytes)")
            text = f.read(n)
    except TuinnError:
        raise
    except FileNotFoundError:
        raise _error(path, key, "file not found") from None
    except IsADirectoryError:
        raise _error(path, key, "is a directory, not a file") from None
    except OSError as exc:
        raise _error(path, key, f"cannot read the file: {exc.strerror}") from None
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _error(path, key, f"{not_st} (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise _error(path, key, f"{not_st} (its header is not a JSON object)")
    data_size = size - 8 - n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shown = safe(name, limit=40)
        if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str):
            raise _error(path, key, f"{not_st} (entry '{shown}' has no dtype)")
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise _error(path, key, f"array '{shown}' holds {safe(entry['dtype'], limit=10)} "
                         "numbers, which NumPy cannot read", "save float32 or float64 arrays")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and len(shape) <= 32 and isinstance(offsets, list)
                and len(offsets) == 2 and all(_natural(d) for d in shape + offsets)):
            raise _error(path, key, f"{not_st} (entry '{shown}' has no valid shape "
                         "and offsets)")
        dt = np.dtype(dtype)
        begin, end = offsets
        if end < begin or end > data_size or end - begin != math.prod(shape) * dt.itemsize:
            raise _error(path, key, f"{not_st} (the bytes of '{shown}' do not match its "
                         "shape or lie outside the file)")
        out[name] = (tuple(shape), dt, (begin, end))
    return out


def _natural(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 63


# ------------------------------------------------------------------ writing
def check_writable(path: str | os.PathLike, key: str = "--save") -> None:
    """Before hours of training: the suffix is right and the folder is there."""
    path = str(path)
    suffix_of(path, key)
    target = Path(path)
    if target.is_dir():
        raise _error(path, key, "is a directory: give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise _error(path, key, f"no folder {safe(str(folder), limit=60)} to write into")


def write_params(path: str | os.PathLike, params: Mapping[str, np.ndarray],
                 key: str = "--save") -> str:
    """Write `params` (name -> array, each in its own dtype) to an .npz or .safetensors
    file, replacing it atomically; returns the path written."""
    path = str(path)
    check_writable(path, key)
    suffix = suffix_of(path, key)
    arrays = {str(k): np.ascontiguousarray(v) for k, v in params.items()}
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _error(path, key, f"cannot write here: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if suffix == ".npz":
                _write_npz(fh, arrays)
            else:
                from safetensors.numpy import save
                fh.write(save(arrays))
        os.chmod(tmp, _new_file_mode(target))   # mkstemp's 0600: as open() would make it
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise _error(path, key, f"cannot write the file: {exc.strerror}") from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def _new_file_mode(target: Path) -> int:
    """The mode an overwritten file had, or what a new one gets under the umask."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """An .npz as numpy.savez writes it (a zip of .npy members, no pickles), with any
    array name (savez takes its own keyword arguments from the names)."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, arr in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                npy_format.write_array(f, arr, allow_pickle=False)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
