"""docs/scenario-format.md keeps in step with the loader: every table, key, default,
choice, layer type (its keys and parameters), generator (its options), loss, optimizer,
expression function, breakpoint and watch form the code accepts is documented there.

The schema is walked programmatically, so a key added to the code without its line in
the docs fails here, and the message names it.
"""

from __future__ import annotations

import re

from conftest import ROOT
from tuinn.engine import debug as D
from tuinn.scenario import schema as S
from tuinn.scenario.expr import FUNCTIONS
from tuinn.scenario.data_load import generator_defaults

DOC = ROOT / "docs" / "scenario-format.md"
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


# ------------------------------------------------------------------ reading the page
def section(doc: str, token: str) -> str | None:
    """The text under the first heading that contains `token`, down to the next heading
    of the same or a higher level (its subsections included)."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        m = HEADING.match(line)
        if m and token in m.group(2):
            level, out = len(m.group(1)), [line]
            for rest in lines[i + 1:]:
                n = HEADING.match(rest)
                if n and len(n.group(1)) <= level:
                    break
                out.append(rest)
            return "\n".join(out)
    return None


def row(body: str, name: str) -> str | None:
    """The table row that starts with `name` in backquotes."""
    for line in body.splitlines():
        if line.startswith(f"| `{name}` |"):
            return line
    return None


def tables() -> dict[str, dict]:
    """Every top-level table that has a schema of its own, by name."""
    out = {}
    for name in S.TOP_LEVEL:
        fields = getattr(S, name.upper(), None)
        if isinstance(fields, dict) and fields and all(isinstance(f, S.Field)
                                                       for f in fields.values()):
            out[name] = fields
    return out


def _default_shown(line: str, field: S.Field) -> bool:
    d = field.default
    if d is S.REQUIRED:
        return "required" in line
    if d is None:
        return True                     # optional, no value: the row says what then
    if isinstance(d, bool):
        return f"`{str(d).lower()}`" in line
    if isinstance(d, str):
        return f'`"{d}"`' in line
    if isinstance(d, (int, float)):
        return any(float(n) == float(d) for n in NUMBER.findall(line))
    if isinstance(d, (tuple, list)) and not d:
        return "`[]`" in line
    return True


# ------------------------------------------------------------------ the check
def undocumented(doc: str) -> list[str]:
    """What the code accepts that `doc` does not document, one line each."""
    gaps = []
    generator_options = set(S.GENERATOR_OPTIONS) | {
        o for opts in generator_defaults().values() for o in opts}
    for name in S.TOP_LEVEL:
        if section(doc, f"`[{name}]`") is None:
            gaps.append(f"table [{name}]: no heading names `[{name}]`")
    for name, fields in tables().items():
        body = section(doc, f"`[{name}]`") or ""
        for key, field in fields.items():
            if f"`{key}`" not in body:
                gaps.append(f"key [{name}].{key} is not documented (under the heading "
                            f"that names `[{name}]`)")
                continue
            line = row(body, key)
            if line is None:
                gaps.append(f"key [{name}].{key} has no table row `| `{key}` | ...`")
            elif key not in generator_options and not _default_shown(line, field):
                gaps.append(f"key [{name}].{key}: its row does not show the default "
                            f"{field.default!r}")
            for choice in field.choices:
                if name == "data" and key == "generator":
                    continue                             # the generators' own section
                if f"`{choice}`" not in body:
                    gaps.append(f"value {choice!r} of [{name}].{key} is not documented")
    params = section(doc, "`[params]`") or ""
    if "`file`" not in params:
        gaps.append("key [params].file is not documented")
    gaps += _layer_gaps(doc)
    gaps += _generator_gaps(doc, generator_options)
    gaps += _language_gaps(doc)
    return gaps


def _layer_gaps(doc: str) -> list[str]:
    gaps = []
    layers = section(doc, "Layers") or ""
    for key in S.LAYER_COMMON:
        if f"`{key}`" not in layers:
            gaps.append(f"layer key {key!r} (every layer) is not documented under Layers")
    for choice in S.INITS:
        if f"`{choice}`" not in layers:
            gaps.append(f"init {choice!r} is not documented under Layers")
    for kind, fields in S.LAYERS.items():
        body = section(layers, f"`{kind}`")
        if body is None:
            gaps.append(f"layer type {kind!r}: no heading under Layers names `{kind}`")
            continue
        for key in fields:
            if f"`{key}`" not in body:
                gaps.append(f"layer key {kind}.{key} is not documented (under the "
                            f"heading that names `{kind}`)")
        for p in S.LAYER_PARAMS.get(kind, ()):
            if f"`{p}`" not in body:
                gaps.append(f"parameter {kind}.{p} is not documented")
    return gaps


def _generator_gaps(doc: str, options: set[str]) -> list[str]:
    gaps = []
    body = section(doc, "Generators") or ""
    data = section(doc, "`[data]`") or ""
    for gen, opts in generator_defaults().items():
        line = row(body, gen)
        if line is None:
            gaps.append(f"generator {gen!r} has no row `| `{gen}` | ...` under Generators")
            continue
        for opt in opts:
            if f"`{opt}`" not in line:
                gaps.append(f"option {opt!r} of generator {gen!r} is not in its row")
    for opt in sorted(options):
        if f"`{opt}`" not in data:
            gaps.append(f"generator option [data].{opt} is not documented under [data]")
    return gaps


def _language_gaps(doc: str) -> list[str]:
    gaps = []
    graph = section(doc, "`[graph]`") or ""
    for fn in FUNCTIONS:
        if f"`{fn}(" not in graph:
            gaps.append(f"expression function {fn!r} is not documented under [graph]")
    bps = section(doc, "Breakpoints") or ""
    for kind in D.KINDS:
        if f"`{kind}" not in bps:
            gaps.append(f"breakpoint form {kind!r} is not documented under Breakpoints")
    watches = section(doc, "Watches") or ""
    for fn in D.WATCH_FUNCTIONS:
        if f"`{fn}(" not in watches:
            gaps.append(f"watch measure {fn!r} is not documented under Watches")
    traces = section(doc, "Traces") or ""
    for word in ('"step"', '"graph"', '"iteration"', '"nan"', '"inf"', '"-inf"',
                 "local_grads", "--iterations"):
        if word not in traces:
            gaps.append(f"trace format: {word} is not documented under Traces")
    return gaps


# ------------------------------------------------------------------ the tests
def test_every_key_the_loader_accepts_is_documented():
    gaps = undocumented(DOC.read_text(encoding="utf-8"))
    assert not gaps, "docs/scenario-format.md is behind the code:\n  " + "\n  ".join(gaps)


def test_a_missing_key_is_named():
    doc = DOC.read_text(encoding="utf-8")
    without = "\n".join(line for line in doc.splitlines() if "`beta2`" not in line)
    assert "key [optimizer].beta2 is not documented" in "\n".join(undocumented(without))
    wrong = doc.replace('| `shuffle` | boolean | `true`', '| `shuffle` | boolean | `false`')
    assert any("[train].shuffle" in g and "default" in g for g in undocumented(wrong))
    no_gru = doc.replace("`gru`", "`GRU`")
    assert "layer type 'gru': no heading under Layers names `gru`" in undocumented(no_gru)
    no_moons = doc.replace("| `moons` |", "| moons |")
    assert any("generator 'moons'" in g for g in undocumented(no_moons))


def test_the_readme_links_the_reference_and_not_the_shared_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/scenario-format.md" in readme
    outside = "/".join(("..", "shared"))              # the contract beside a checkout
    assert outside not in readme and "SCENARIO-FORMAT.md" not in readme
