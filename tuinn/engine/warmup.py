"""Provides Warmup: compiles (or loads from Numba's cache) the kernels a scenario needs
on a background thread, while the app steps with them uncompiled.

A cold compile of every kernel a scenario uses takes seconds (tens on a busy machine);
a first step does not need compiled speed. So the warm-up builds its own copy of the
program from the spec and steps it once through a whole pass, then one run-mode
iteration, on its own thread inside `jit.compiling()`: each kernel compiles for the
very argument types the app's program passes, in the order the program needs them.
Meanwhile `jit.uncompiled()` is on, so the engine thread runs any kernel not compiled
yet as its py_func (or stand-in) and steps at once; each kernel switches to compiled
code as soon as its compile is done. Run mode waits for the whole warm-up
(Controller.compiled). The app's own session is never touched here.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from tuinn.engine import jit


class Cancelled(Exception):
    """The screen went away before the warm-up finished."""


GIVE_WAY_S = 2.0          # the longest the warm-up waits for the engine, each time
QUIET_S = 0.5             # at the start: the engine idle this long (a key pressed at once)
START_LIMIT_S = 3.0       # ... or this long at most


def give_way(engine_busy: Callable[[], bool], limit: float = GIVE_WAY_S) -> None:
    """Wait (up to `limit` seconds) while the engine thread runs a user's command: the
    compiler holds the GIL much of the time, and a step pressed now should not share it."""
    end = time.monotonic() + limit
    while engine_busy() and time.monotonic() < end:
        time.sleep(0.01)


def quiet_start(engine_busy: Callable[[], bool], quiet: float = QUIET_S,
                limit: float = START_LIMIT_S) -> None:
    """Wait until the engine has been idle `quiet` seconds (its first frame drawn, a key
    pressed at launch stepped), `limit` at most: the app starts and takes its first
    step faster without a compiler beside it."""
    now = time.monotonic()
    end, idle_since = now + limit, now
    while now < end and now - idle_since < quiet:
        time.sleep(0.02)
        now = time.monotonic()
        if engine_busy():
            idle_since = now


def compile_program(spec, report: Callable[[int, int, str], None],
                    cancelled: Callable[[], bool] = lambda: False,
                    engine_busy: Callable[[], bool] = lambda: False) -> None:
    """Step a copy of the spec's program through one pass and one run-mode iteration,
    calling `report(done, total, what)` before each part; on the calling thread, which
    compiles each kernel it meets (inside `jit.compiling`, see Warmup)."""
    from tuinn.engine.build import build_program
    from tuinn.engine.session import Session
    if spec.info.kind == "knn":                     # plain NumPy: nothing to compile
        return
    session = Session(build_program(spec))
    n = len(session.steps)
    iterative = session.iterative
    total = n + iterative
    for i in range(n):
        if cancelled():
            raise Cancelled
        if session.at_end:
            break
        report(i, total, session.steps[session.ticks[session.tick][0]].title)
        session.step_over()
    if iterative and not cancelled():               # run mode's own paths (fused, packed)
        report(n, total, "run mode")
        prog = session.program
        session.restart()
        prog.train_iteration()
        prog.params_finite()
        prog.validation_loss()


class Warmup:
    """The background compile of one screen's kernels. `report(done, total, what)` is
    called on the warm-up thread as it goes; `finished()` once at the end, however it
    ended (a compile error shows again where the engine meets that kernel)."""

    def __init__(self, spec, report: Callable[[int, int, str], None],
                 finished: Callable[[], None], engine_busy: Callable[[], bool] = lambda: False):
        self.spec = spec
        self.engine_busy = engine_busy
        self.report = report
        self.finished = finished
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._started = False                       # compiled a kernel yet
        self._thread = threading.Thread(target=self._run, name="tuinn-warmup", daemon=True)

    def start(self) -> "Warmup":
        jit.start_uncompiled()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _before_compile(self) -> None:
        """Before each kernel the warm-up compiles: the first waits for a quiet engine,
        every one gives way to a step being taken."""
        if not self._started:
            self._started = True
            quiet_start(self.engine_busy)
        give_way(self.engine_busy)

    def _run(self) -> None:
        try:
            if not any(getattr(k, "signatures", 0) for k in jit.KERNELS):  # a fresh process:
                self._started = True                # the app starts first (builds, draws)
                quiet_start(self.engine_busy)
            with jit.compiling(self._before_compile):
                compile_program(self.spec, self.report, self._cancel.is_set, self.engine_busy)
        except Cancelled:
            pass
        except Exception as err:                    # noqa: BLE001 - shown when met again
            self.error = err
        finally:
            jit.stop_uncompiled()
            self.done.set()
            if not self._cancel.is_set():
                self.finished()
