"""tuinn.scenario.locate: every key's line, with basic and literal strings read by one
scanner, text that tomllib refuses scanned without looping, and `Where.missing` (a table
the kind needs, absent) at the kind line for every kind."""

from __future__ import annotations

import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

import pytest

from tuinn.scenario.locate import locate


def leaf_paths(table: dict, prefix: tuple = ()) -> set[str]:
    out = set()
    for key, value in table.items():
        path = prefix + (key,)
        if isinstance(value, dict):
            out |= leaf_paths(value, path)
        else:
            out.add(".".join(path))
    return out


STRINGS = [
    ('s = "plain"', [1]),
    ("s = 'plain'", [1]),
    ('s = "a \\" quote and a \\\\ backslash"', [1]),
    ("s = 'no \\escapes\\ here'", [1]),
    ('s = """\none\ntwo"""', [2, 3]),
    ("s = '''\none\ntwo'''", [2, 3]),
    ("s = '''one ''quoted'' ''''", [1]),           # quotes before the closing run are text
    ('s = """one ""quoted"" """""', [1]),
    ('s = """first \\\n   still first\nsecond"""', [1, 3]),  # a line-ending backslash joins
    ("s = '''first \\\nsecond'''", [1, 2]),         # ... but not in a literal string
]


@pytest.mark.parametrize("text,lines", STRINGS)
def test_basic_and_literal_strings_map_each_line(text, lines):
    text = "before = 1\n" + text + "\nafter = 2\n"
    found = locate(text)
    tomllib.loads(text)                              # each case is valid TOML
    assert found.strings["s"] == [n + 1 for n in lines]
    assert found.lines["after"] == text.count("\n")


def test_quoted_keys_of_both_kinds_are_the_keys_tomllib_reads():
    text = ('"a.b" = 1\n\'c"d\' = 2\ne."f\\u00e9".\'g\' = 3\n[t."x y"]\nz = "}" \n'
            'arr = [\'[\', "]", """\n]""", \'\'\'{\'\'\']\nlast = 4\n')
    found = locate(text)
    want = leaf_paths(tomllib.loads(text))
    assert want <= set(found.lines), want - set(found.lines)
    assert found.lines["t.x y.last"] == 8 and found.lines["t.x y.arr"] == 6


@pytest.mark.parametrize("text", ["a = [}]", "a = [1 }]", "a = [1, }", "a = { b = [ } }",
                                  "a = [#\n}]\nb = 2"])
def test_text_tomllib_refuses_is_scanned_without_looping(text):
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    code = f"from tuinn.scenario.locate import locate; print(sorted(locate({text!r}).lines))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert "'a'" in done.stdout                       # what was found before stays usable


HEAD = '[scenario]\nname = "t"\n\nkind = "{kind}"\n'


@pytest.mark.parametrize("kind,body,table,message", [
    ("graph", "", "graph", "kind = 'graph' needs a [graph] table"),
    ("network", '[model]\ninput = [2]\nlayers = [{ type = "relu" }]\n', "data",
     "kind = 'network' needs a [data] table"),
    ("knn", "[knn]\nk = 1\n", "data", "kind = 'knn' needs a [data] table"),
    ("gan", '[data]\ngenerator = "moons"\n[generator]\ninput = [2]\n'
     'layers = [{ type = "dense", units = 2 }]\n', "discriminator",
     "kind = 'gan' needs a [discriminator] table"),
])
def test_a_table_the_kind_needs_is_reported_at_the_kind_line(kind, body, table, message):
    from tuinn.errors import TuinnError
    from tuinn.scenario import load_text
    with pytest.raises(TuinnError) as err:
        load_text(HEAD.format(kind=kind) + body, "s.toml")
    assert message in err.value.message
    assert (err.value.file, err.value.line, err.value.key) == ("s.toml", 4, table)
