"""At 80x24 the layer views' teaching content is on the first screen of their panel:
the conv arithmetic and output size formula, the recurrent cell's equations."""

from __future__ import annotations

import pytest

from ui_helpers import make_app, press, run_async, text_of

CASES = {
    # scenario, keys, text that must be on the panel's first screen
    "conv-forward": ("cnn-bars", ("n",) * 8,
                     ["y[0](1, 1) = (0.5)(0.28)", "= 0.16", "(6 - 3 + 2·1) / 1 + 1 = 6"]),
    "conv-backward": ("cnn-bars", ("f",) + ("s",) * 5 + ("n",) * 4,
                      ["∇W[0] += ∇y · window", "(6 - 3 + 2·1) / 1 + 1 = 6"]),
    "pool-forward": ("pool-max", ("s", "s", "n", "n"), ["= max(", "(W - F) / S + 1"]),
    "lstm-forward": ("lstm", ("n",) * 5, ["i = σ(", "c₅ = f·c₄ + i·g", "h₅ = o·tanh(c₅)"]),
    "lstm-backward": ("lstm", ("f", "n", "n", "n", "n", "n", "n"),
                      ["c₇ = f·c₆ + i·g", "∇c₇ = ∇h₇·o·(1-tanh²c₇) + ∇c₈·f₈"]),
    "gru-forward": ("gru", ("n",) * 3, ["z = σ(", "h₃ = "]),
}


@pytest.mark.parametrize("case", list(CASES))
@run_async
async def test_teaching_content_on_the_first_screen_at_80x24(case):
    name, keys, wanted = CASES[case]
    app = make_app(name)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, *keys)
        panel = next(w for w in (app.screen.query_one("#conv"), app.screen.query_one("#rnn"))
                     if w.display)
        region = panel.scrollable_content_region
        static = panel.query_one("Static")
        lines = text_of(static, region.width).splitlines()[:region.height]
        assert all(len(line.rstrip()) <= region.width for line in lines)
        flat = " ".join(line.strip() for line in lines)
        for want in wanted:
            assert want in flat, (want, "\n".join(lines))
