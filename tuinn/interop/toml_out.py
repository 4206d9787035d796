"""Provides `dump`: a parsed scenario (tomllib's dict) written back as TOML text.

Tables as [table], model layers as [[model.layers]] (residual blocks' layers as inline
tables), strings as TOML basic strings (JSON escapes: quotes and control characters
never reach the file raw), keys quoted unless bare.
"""

from __future__ import annotations

import json
import math
import re

BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(k: str) -> str:
    return k if BARE.match(k) else json.dumps(k)


def value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))             # dates and times: as text


def dump(doc: dict, header: str = "") -> str:
    lines = [f"# {header}", ""] if header else []
    lines += [f"{key(k)} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if not isinstance(table, dict):
            continue
        layers = table.get("layers") if name == "model" else None
        lines.append(f"[{key(name)}]")
        lines += [f"{key(k)} = {value(v)}" for k, v in table.items()
                  if not (layers is not None and k == "layers")]
        lines.append("")
        for layer in layers or []:
            lines.append("[[model.layers]]")
            lines += [f"{key(k)} = {value(v)}" for k, v in layer.items()]
            lines.append("")
    return "\n".join(lines)
