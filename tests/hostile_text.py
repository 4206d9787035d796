"""Scenario files whose free text is hostile: terminal escapes (window title, clipboard,
CSI), C1 and bidi controls, and Rich markup that would crash, hide text or make a link."""

from __future__ import annotations

# what the files below contain, as it must appear on screen (escaped and literal)
NAME_LITERALS = ["Week 3 [/homework]", "\\x1b]0;pwn\\x07", "[link=https://e.vil]x[/link]"]
DESCRIPTION_LITERALS = ["[bold]not bold[/bold]", "\\x1b[31mred\\x1b[0m", "[/homework]",
                        "\\x9b2J", "\\u202eevil"]
# what must never reach a terminal from a file: ESC, BEL, CSI (C1), RLO, CR
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\r"]

GRAPH = r'''[scenario]
name = "Week 3 [/homework] \u001b]0;pwn\u0007 [link=https://e.vil]x[/link]"
kind = "graph"
description = """
Line one [bold]not bold[/bold] \u001b[31mred\u001b[0m
[link=https://e.vil]click[/link] and [/homework]
\u009b2J \u202eevil \r
A [markdown link](https://e.vil/md), a bare https://e.vil/bare and <b>html</b>
"""

[graph]
inputs = { x = -2.0, y = 5.0, z = -4.0 }
expr = """
q = x + y
f = q * z
"""
output = "f"
'''

NETWORK = r'''[scenario]
name = "Week 3 [/homework] \u001b]0;pwn\u0007 [link=https://e.vil]x[/link]"
kind = "network"
description = """[bold]not bold[/bold] \u001b[31mred\u001b[0m [/homework] \u009b2J \u202eevil"""

[data]
x = [[1.0, 2.0], [0.5, -1.0], [-1.0, 0.5]]
y = [0, 1, 1]

[model]
input = [2]

[[model.layers]]
type = "dense"
units = 3
name = "hidden_layer-1"

[[model.layers]]
type = "tanh"

[[model.layers]]
type = "dense"
units = 2

[loss]
type = "softmax_ce"

[optimizer]
type = "sgd"
lr = 0.1

[train]
epochs = 3
'''

# an unknown key with escapes and markup: the error message echoes it
BAD_KEY = r'''[scenario]
name = "x"
kind = "graph"
"\u001b]52;c;SGVsbG8=\u0007[/x]" = 1

[graph]
inputs = { x = 1.0 }
expr = "f = x * 2"
output = "f"
'''

# a graph whose values and gradients are -inf, inf and nan (log(0), exp overflow)
LOG_ZERO = '''[scenario]
name = "log of zero"
kind = "graph"

[graph]
inputs = { x = 0.0, y = 2.0 }
expr = """
a = log(x)
b = a * y
c = exp(y * 1000)
d = b + c
f = d * x
"""
output = "f"
'''


def no_raw_controls(text: str) -> bool:
    return not any(c in text for c in RAW)
