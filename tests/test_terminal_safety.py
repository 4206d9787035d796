"""Text from a scenario file reaches the terminal escaped and literal: the CLI commands,
the error report, and the app (status, loading screen, help, dialogs) never write its
control characters raw, never read it as Rich markup (no crash, no hidden text, no link)."""

import pytest
from typer.testing import CliRunner

from hostile_text import (BAD_KEY, DESCRIPTION_LITERALS, GRAPH, NAME_LITERALS, NETWORK,
                          no_raw_controls)
from tuinn.cli import app as cli
from ui_helpers import press, run_async, settle, text_of

runner = CliRunner()
WIDE = {"COLUMNS": "240"}


@pytest.fixture
def hostile(tmp_path):
    (tmp_path / "graph.toml").write_text(GRAPH, encoding="utf-8")
    (tmp_path / "net.toml").write_text(NETWORK, encoding="utf-8")
    return tmp_path


def test_safe_escapes_controls_and_keeps_text():
    from tuinn.fmt import safe
    assert safe("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert safe("x\x9by\u202ez") == "x\\x9by\\u202ez"
    assert safe("one\ntwo") == "one\\ntwo" and safe("one\ntwo", newlines=True) == "one\ntwo"
    assert safe("[bold]x[/bold]") == "[bold]x[/bold]"


@pytest.mark.parametrize("command,file", [
    (["check"], "graph.toml"), (["trace"], "graph.toml"), (["check"], "net.toml"),
    (["trace"], "net.toml"), (["train", "--epochs", "2"], "net.toml"), (["gradcheck"], "net.toml")])
def test_cli_shows_the_name_escaped_and_literal(hostile, command, file):
    r = runner.invoke(cli, [*command, str(hostile / file)], env=WIDE)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert no_raw_controls(r.output), repr(r.output)
    for literal in NAME_LITERALS:
        assert literal in r.output, (literal, r.output)


def test_cli_names_of_layers_shown(hostile):
    r = runner.invoke(cli, ["check", str(hostile / "net.toml")], env=WIDE)
    assert "hidden_layer-1" in r.output


def test_error_report_escapes_the_files_text(tmp_path):
    path = tmp_path / "badkey.toml"
    path.write_text(BAD_KEY, encoding="utf-8")
    for command in ("check", "trace", "run"):
        r = runner.invoke(cli, [command, str(path)], env=WIDE)
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and no_raw_controls(r.output), repr(r.output)
        assert "\\x1b]52;c;SGVsbG8=\\x07[/x]" in r.output and "badkey.toml:4" in r.output


def test_breakpoint_text_from_a_file_is_escaped_in_errors(tmp_path):
    path = tmp_path / "bp.toml"
    path.write_text(GRAPH.replace("[graph]", '[debug]\nbreakpoints = ["f > [/x] \\u001b[2J"]\n\n[graph]'),
                    encoding="utf-8")
    r = runner.invoke(cli, ["check", str(path)], env=WIDE)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert no_raw_controls(r.output), repr(r.output)


# ---------------------------------------------------------------- the app

def _open(path):
    from tuinn.engine.build import open_session
    from tuinn.tui.app import TuinnApp
    spec, session = open_session(str(path))
    return TuinnApp(spec, session)


def _spans_have_no_links(content) -> bool:
    """No span of a Text/Content carries a hyperlink or a click action."""
    for span in getattr(content, "spans", []):
        style = span.style
        if isinstance(style, str):
            if "link" in style or "@click" in style:
                return False
            continue
        if getattr(style, "link", None) or "@click" in (getattr(style, "meta", None) or {}):
            return False
    return True


@pytest.mark.parametrize("file", ["graph.toml", "net.toml"])
@run_async
async def test_app_status_shows_the_literal_name(hostile, file):
    from tuinn.tui.widgets.status import StatusBar
    app = _open(hostile / file)
    async with app.run_test(size=(240, 40)) as pilot:
        await press(pilot, "n", "n")
        bar = app.screen.query_one(StatusBar)
        shown = text_of(bar, width=240)
        assert no_raw_controls(shown), repr(shown)
        for literal in NAME_LITERALS:
            assert literal in shown, (literal, shown)
        assert _spans_have_no_links(bar.render())
        svg = app.export_screenshot()
        assert "e.vil" in svg and "<a " not in svg and "\x1b" not in svg


@run_async
async def test_help_shows_name_and_description_as_text(hostile):
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownBlock
    from tuinn.tui.screens.help import HelpScreen
    app = _open(hostile / "graph.toml")
    async with app.run_test(size=(160, 50)) as pilot:
        await press(pilot, "question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        md = app.screen.query_one(Markdown)
        assert md._open_links is False                  # a link in a description is inert
        blocks = [b for b in app.screen.query(MarkdownBlock) if not list(b.query(MarkdownBlock))]
        text = "\n".join(str(b._content) if hasattr(b, "_content") else "" for b in blocks)
        assert no_raw_controls(text), repr(text)
        title = str(blocks[0]._content)
        assert title == "Week 3 [/homework] \\x1b]0;pwn\\x07 [link=https://e.vil]x[/link]", title
        assert all(_spans_have_no_links(b._content) for b in blocks if hasattr(b, "_content"))
        assert "[markdown link](https://e.vil/md)" in text and "https://e.vil/bare" in text
        assert "<b>html</b>" in text
        for literal in DESCRIPTION_LITERALS:
            assert literal in text, (literal, text)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_loading_screen_shows_the_literal_name(hostile):
    from textual.app import App
    from textual.widgets import Static
    from tuinn.tui.screens.loading import LoadingScreen
    from tuinn.scenario.loader import load_scenario
    name = load_scenario(str(hostile / "graph.toml")).info.name

    class One(App):
        def on_mount(self):
            self.push_screen(LoadingScreen(name))
    app = One()
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        shown = text_of(app.screen.query_one(Static), width=200)
        assert no_raw_controls(shown)
        for literal in NAME_LITERALS:
            assert literal in shown, (literal, shown)


@run_async
async def test_typed_breakpoint_with_markup_shows_its_error(hostile):
    from tuinn.tui.screens.ask import AskText
    app = _open(hostile / "graph.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "B")
        assert isinstance(app.screen, AskText)
        app.screen.query_one("#text").value = "f > [/x] \x1b[2J"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AskText)          # still asking, no MarkupError
        shown = text_of(app.screen.query_one("#error"))
        assert "[/x]" in shown and no_raw_controls(shown), shown


@pytest.mark.parametrize("where,old,new", [
    ("layer", 'name = "hidden_layer-1"', 'name = "[/x]\\u001b]0;t\\u0007"'),
    ("input", "x = -2.0,", '"[/x]\\u001b]0;t\\u0007" = 1.0, x = -2.0,'),
])
def test_names_with_markup_or_controls_are_refused(hostile, where, old, new):
    """Panel titles and graph labels show names as they are: the grammar keeps them to
    letters, digits, _ (and - in layer names), so a name can carry neither markup nor a
    control character; the refusal quotes the name escaped."""
    path = hostile / ("net.toml" if where == "layer" else "graph.toml")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    r = runner.invoke(cli, ["check", str(path)], env=WIDE)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and no_raw_controls(r.output), repr(r.output)
    assert "[/x]\\x1b]0;t\\x07" in r.output


def test_data_file_cells_are_escaped_in_errors(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"a,b,y\n1,2,0\n3,\x1b]0;pwn\x07[/x]\xc2\x9b,1\n")
    path = tmp_path / "csv.toml"
    path.write_text(NETWORK.replace('x = [[1.0, 2.0], [0.5, -1.0], [-1.0, 0.5]]\ny = [0, 1, 1]',
                                    'file = "d.csv"'), encoding="utf-8")
    r = runner.invoke(cli, ["check", str(path)], env=WIDE)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and no_raw_controls(r.output), repr(r.output)
    assert "d.csv:3" in r.output and "[/x]" in r.output
