"""`tuinn scenarios`: each description's whole first sentence, without raw markdown."""

import pytest
from typer.testing import CliRunner

from tuinn.cli import app
from tuinn.cli_print import first_sentence

runner = CliRunner()


@pytest.mark.parametrize("text, expected", [
    ("A small network learns. It learns.", "A small network learns."),
    ("When a value is used twice, its gradient is the **sum** of the\ngradients. More.",
     "When a value is used twice, its gradient is the sum of the gradients."),
    ("Two convolutions that differ only in stride and padding. `strided` (3x3) jumps.",
     "Two convolutions that differ only in stride and padding."),
    ("# Heading\n\nSee [the notes](https://cs231n.github.io) and `conv-5x5`. Then.",
     "See the notes and conv-5x5."),
    ("Start here. An LSTM reads 10 steps. It learns.", "Start here. An LSTM reads 10 steps."),
    ("A rate of 0.5 is e.g. too large. Next.", "A rate of 0.5 is e.g. too large."),
    ("Three gates, side by side (x = 3, y = -4):\n\n- **add** distributes", 
     "Three gates, side by side (x = 3, y = -4)."),
    ("No full stop at all\nover two lines", "No full stop at all over two lines"),
    ("", ""),
])
def test_first_sentence(text, expected):
    assert first_sentence(text) == expected


def test_scenarios_lists_whole_first_sentences_without_markdown():
    r = runner.invoke(app, ["scenarios"], env={"COLUMNS": "400"})
    assert r.exit_code == 0
    rows = {line.split("│")[1].strip(): line.split("│")[3].strip()
            for line in r.output.splitlines() if line.count("│") >= 4}
    assert rows["branch"] == ("When a value is used twice, its gradient is the sum of the "
                              "gradients flowing back along each use (the multivariable chain rule).")
    assert rows["conv-stride-padding"] == "Two convolutions that differ only in stride and padding."
    assert rows["lr-too-large"].endswith("five times larger.")
    for name, text in rows.items():
        if name:
            assert "**" not in text and "`" not in text, name
            assert text.endswith((".", ")")) or len(text) < 60, (name, text)
