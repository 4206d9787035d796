"""Provides Session: the debugger's cursor over a Program and its Tape.

The cursor counts sub-steps ("ticks") done in the current pass: 0 is before the first
step, `total` after the last. A step runs whole on its first tick; its other ticks
reveal sub-steps (timesteps, windows) already computed. Moving back replays the pass
from its start state, so the state after stepping back is exactly the state recorded
when that point was first reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tuinn.engine.tape import Tape

if TYPE_CHECKING:
    from tuinn.engine.program import Step


@dataclass(frozen=True)
class Position:
    step: "Step | None"      # the step of the last tick done (None before the first)
    sub: int                 # sub-step index within it (0-based)
    tick: int                # ticks done
    total: int               # ticks in the pass


class Session:
    def __init__(self, program):
        self.program = program
        self.tape = Tape()
        from tuinn.engine.breakpoints import Breakpoints
        from tuinn.engine.watches import Watches
        self.breakpoints = Breakpoints()     # [debug] breakpoints and those set in the app
        self.watches = Watches()             # [debug] watch and those added in the app
        self.ticks: list[tuple[int, int]] = [
            (i, s) for i, st in enumerate(program.steps) for s in range(st.substeps)]
        self.tick = 0
        self._done_steps = 0          # steps whose run() has executed in this pass
        self.program.reset(self.tape)

    # ------------------------------------------------------------------ queries
    @property
    def steps(self) -> "list[Step]":
        return self.program.steps

    @property
    def total(self) -> int:
        return len(self.ticks)

    @property
    def position(self) -> Position:
        if self.tick == 0:
            return Position(None, 0, 0, self.total)
        i, s = self.ticks[self.tick - 1]
        return Position(self.steps[i], s, self.tick, self.total)

    @property
    def current(self) -> "Step | None":
        return self.position.step

    @property
    def phase(self) -> str:
        step = self.current
        return "ready" if step is None else ("done" if self.at_end else step.phase)

    @property
    def at_end(self) -> bool:
        return self.tick >= self.total

    @property
    def done_steps(self) -> int:
        """How many steps of this pass have run."""
        return self._done_steps

    def executed(self, step_index: int) -> bool:
        return step_index < self._done_steps

    # ------------------------------------------------------------------ moving
    @property
    def iterative(self) -> bool:
        """A network: stepping past the end starts the next iteration."""
        return hasattr(self.program, "advance")

    @property
    def iteration(self) -> int:
        return getattr(self.program, "iteration", 0)

    def next_iteration(self) -> None:
        """Finish this iteration's steps, then start the next one (networks)."""
        self.run_to_end()
        self.program.advance()
        self._replay_to(0)

    def step(self, n: int = 1) -> int:
        """Advance n ticks (fewer at the end of a graph); return how many were taken."""
        taken = 0
        while taken < n and self.iterative and self.tick >= self.total:
            self.next_iteration()
        while taken < n and self.tick < self.total:
            i, s = self.ticks[self.tick]
            if s == 0:
                self._run(i)
            self.tick += 1
            taken += 1
        return taken

    def back(self, n: int = 1) -> int:
        """Move back n ticks; for networks, across iteration boundaries into history."""
        taken, target = 0, self.tick
        while taken < n:
            if target == 0:
                if not (self.iterative and self.previous_iteration()):
                    break
                target = self.tick
                taken += 1
                continue
            k = min(n - taken, target)
            target -= k
            taken += k
        self.goto(target)
        return taken

    def goto(self, tick: int) -> None:
        tick = max(0, min(tick, self.total))
        if tick < self.tick:
            self._replay_to(tick)
        else:
            self.step(tick - self.tick)

    def previous_iteration(self) -> bool:
        """Restore the kept snapshot of the iteration before and stand at its end."""
        history = getattr(self.program, "history", None)
        if not history or not len(history[-1].params):      # history = 0: nothing kept
            return False
        self.program.restore(history.pop())
        self._replay_to(self.total)
        return True

    def goto_iteration(self, n: int) -> bool:
        """Time travel: the start of iteration n (kept in history, or ahead by training)."""
        prog = self.program
        if n == prog.iteration:
            self._replay_to(0)
            return True
        if n > prog.iteration:
            self._replay_to(0)
            while prog.iteration < n:
                prog.train_iteration()
            self._replay_to(0)
            return True
        while prog.history and len(prog.history[-1].params) and prog.iteration > n:
            prog.restore(prog.history.pop())
        self._replay_to(0)
        return prog.iteration == n

    def sync(self) -> None:
        """Stand at the start of the program's current iteration (after run mode)."""
        self._replay_to(0)

    def nonfinite(self) -> str | None:
        """Where the step just run produced NaN or Inf, as words; None if all finite."""
        step = self.current
        if step is None:
            return None
        for key, value in self.program.step_record(self.tape, step).items():
            arrays = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, arr in arrays:
                arr = np.asarray(arr)
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    what = "NaN" if np.isnan(arr).any() else "Inf"
                    name = key if sub is None else f"{key} {sub}"
                    return f"{what} in the {name} of {step.phase} {step.node}"
        return None

    def goto_nonfinite(self) -> str | None:
        """Replay the last iteration step by step and stop at the first NaN/Inf."""
        history = getattr(self.program, "history", None)
        if history:
            self.program.restore(history.pop())
        self._replay_to(0)
        while not self.at_end:
            self.step_over()
            where = self.nonfinite()
            if where:
                self.stopped_because = where
                return where
        return None

    stopped_because: str = ""

    def step_over(self) -> None:
        """Finish the current step's sub-steps, or run the next step whole."""
        pos = self.position
        if pos.step is not None and pos.sub + 1 < pos.step.substeps:
            self.step(pos.step.substeps - pos.sub - 1)
        else:
            self.step(1)
            pos = self.position
            if pos.step is not None:
                self.step(pos.step.substeps - pos.sub - 1)

    def step_back_over(self) -> None:
        """Move back to the end of the previous step."""
        pos = self.position
        if pos.step is None:
            return
        self.goto(self.tick_of(pos.step.index))

    def finish_phase(self) -> None:
        """Run to the end of the current pass (forward, backward, update)."""
        nxt = self.tick if self.tick < self.total else None
        if nxt is None:
            return
        phase = self.steps[self.ticks[nxt][0]].phase
        end = nxt
        while end < self.total and self.steps[self.ticks[end][0]].phase == phase:
            end += 1
        self.goto(end)

    def phase_start(self) -> None:
        """Jump back to the start of the current pass (or the previous one if there)."""
        if self.tick == 0:
            return
        phase = self.steps[self.ticks[self.tick - 1][0]].phase
        start = self.tick - 1
        while start > 0 and self.steps[self.ticks[start - 1][0]].phase == phase:
            start -= 1
        self.goto(start)

    def restart(self) -> None:
        self._replay_to(0)

    def run_to_end(self) -> None:
        self.goto(self.total)

    def set_input(self, name: str, value) -> None:
        """Change an input and recompute up to where the cursor is ("what if x were 4?")."""
        self.program.set_input(name, np.asarray(value))
        self._replay_to(self.tick)

    # ------------------------------------------------------------------ internals
    def tick_of(self, step_index: int) -> int:
        return sum(st.substeps for st in self.steps[:step_index])

    def _run(self, i: int) -> None:
        self.steps[i].run(self.tape)
        self._done_steps = i + 1
        if i == len(self.steps) - 1 or self.steps[i + 1].phase != "backward":
            if self.steps[i].phase == "backward":
                self.tape.finished_backward = True

    def _replay_to(self, tick: int) -> None:
        self.program.reset(self.tape)
        self.tick = 0
        self._done_steps = 0
        self.step(tick)
