"""Provides tests that a step's redraw costs what changed, not the length of the pass.

Counts work (step-list rows made, layouts of the graph), never time: a pass of thousands
of steps (a long flat sum) once rebuilt every row of the step list on every key.
"""

from __future__ import annotations

from textual.app import App

from ui_helpers import press, run_async, settle
from tuinn.tui.widgets import step_list as step_list_mod
from tuinn.tui.widgets.step_list import StepList


class ListApp(App):
    def compose(self):
        yield StepList(id="steps")


def lines_of(n: int) -> list[tuple[str, str, str]]:
    return [("fwd" if i < n // 2 else "bwd", f"g{i}", f"add(g{i - 1}, a)") for i in range(n)]


def prompts(steps: StepList) -> list[str]:
    return [str(steps.get_option_at_index(i).prompt) for i in range(steps.option_count)]


@run_async
async def test_a_step_redraws_the_same_few_rows_at_any_length(monkeypatch):
    per_step = {}
    for n in (40, 3000):
        count = [0]
        option = step_list_mod.Option

        def counted(*args, _option=option, _count=count, **kwargs):
            _count[0] += 1
            return _option(*args, **kwargs)
        monkeypatch.setattr(step_list_mod, "Option", counted)
        app = ListApp()
        async with app.run_test(size=(60, 20)) as pilot:
            steps = app.query_one(StepList)
            lines = lines_of(n)
            steps.show(lines, 0, 1)
            await pilot.pause()
            assert count[0] == n                         # the first show makes every row
            count[0] = 0
            for i in range(1, 11):                       # ten steps forward
                steps.show(list(lines), i, i + 1)        # equal lines, a new list: still a step
                await pilot.pause()
            per_step[n] = count[0] / 10
            shown = prompts(steps)
            assert shown[10].startswith("▶ 11") and shown[9].startswith("✓ 10")
            assert shown[11].startswith("  12") and steps.highlighted == 10
        monkeypatch.undo()
    assert per_step[40] == per_step[3000] <= 2          # the row left and the row reached


@run_async
async def test_rows_after_jumps_match_a_fresh_list():
    """Whatever the path (forward, a jump back, a jump far ahead, no current step),
    the rows read as a list drawn from scratch in the same state."""
    app = ListApp()
    async with app.run_test(size=(60, 20)) as pilot:
        steps = app.query_one(StepList)
        lines = lines_of(60)
        steps.show(lines, None, 0)
        for current, executed in ((0, 1), (1, 2), (30, 31), (4, 5), (None, 0), (59, 60),
                                  (None, 60), (12, 13)):
            steps.show(lines, current, executed)
            await pilot.pause()
            fresh = StepList()
            fresh.show(lines, current, executed)
            assert prompts(steps) == prompts(fresh), (current, executed)
        assert steps.rows_drawn < 60 + 4 * 60           # not every row on every show
        steps.show(lines[:20], 3, 4)                    # another program: drawn anew
        assert steps.option_count == 20 and prompts(steps)[3].startswith("▶  4")


@run_async
async def test_the_step_lines_are_made_once_per_program():
    from ui_helpers import make_app
    app = make_app("sigmoid-neuron")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "n")
        await settle(pilot)
        screen, s = app.screen, app.session
        first = screen.frame(s)["lines"]
        await press(pilot, "n", "n")
        assert screen.frame(s)["lines"] is first and len(first) == len(s.steps)
        made = screen.query_one(StepList).rows_drawn
        await press(pilot, "n")
        await settle(pilot)
        assert screen.query_one(StepList).rows_drawn - made <= 2
