"""Provides Controller: runs every Session command on one engine thread, off the UI.

The UI calls `submit(fn)` for a stepping command and `run()` for run mode; each
finished command calls `on_change(event)` from the engine thread (the UI hands that
on to its own thread). Run mode trains with no per-step recording, at full speed or
at `speed` iterations a second, reports at most `rate` times a second, and stops at
the next iteration boundary when paused, when a NaN or Inf appears, or when the
epochs are done.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from tuinn.engine.session import Session


@dataclass
class Progress:
    """What run mode reports: losses since the last report and where it is."""
    iteration: int
    epoch: int
    losses: list[float] = field(default_factory=list)     # one per iteration since the last report
    val_loss: float | None = None
    running: bool = True
    stopped_because: str = ""                               # "", "paused", "nan", "done", "error"
    extras: dict = field(default_factory=dict)              # what report_extras computed


#: a report may take this share of run mode's time at most: what the engine spends on
#: it (the validation loss, `report_extras` such as a decision grid) is about what the
#: screen then spends drawing it, holding the GIL the engine needs between kernels
REPORT_SHARE = 0.08
SLOWEST_REPORTS = 0.5         # seconds between reports, however costly they are


def report_interval(least: float, cost: float) -> float:
    """Seconds until the next run-mode report: `least` (the rate limit), longer when a
    report costs `cost` seconds, so that reports never take more than REPORT_SHARE of
    the time (a GAN's grid of discriminator outputs: ~15 ms a report)."""
    return min(max(least, cost / REPORT_SHARE), max(least, SLOWEST_REPORTS))


class Controller:
    def __init__(self, session: Session, on_change: Callable[[object], None], rate: float = 20.0):
        self.session = session
        self.on_change = on_change
        self.min_interval = 1.0 / rate
        #: run mode's iterations a second (None: full speed); read at every iteration
        self.speed: float | None = None
        self._due: float | None = None           # when the next iteration may start
        self._queue: queue.Queue = queue.Queue()
        self._pause = threading.Event()
        self.running = False
        self._outstanding = 0                    # commands queued or running
        self._count = threading.Lock()
        #: set when run mode may start: cleared while the kernels compile in the
        #: background (tuinn/engine/warmup.py), as run mode needs the compiled path
        self.compiled = threading.Event()
        self.compiled.set()
        self.waiting_for_compile = False         # a bulk command waits for it (submit)
        self.error: BaseException | None = None
        #: computed on the engine thread with every run-mode report (e.g. a decision grid)
        self.report_extras: Callable[[Session], dict] | None = None
        self._thread = threading.Thread(target=self._loop, name="tuinn-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API
    def submit(self, fn: Callable[[Session], object], event: object = "step",
               compiled: bool = False) -> None:
        """Run `fn(session)` on the engine thread, then report `event` (or fn's result);
        `compiled`: a bulk command (training many iterations), which first waits for
        the kernels' compile as run mode does (`compiled`, tuinn/engine/warmup.py)."""
        if compiled:
            fn = self._after_compile(fn)
        self._put((fn, event))

    def _put(self, item) -> None:
        with self._count:
            self._outstanding += 1
        self._queue.put(item)

    @property
    def busy(self) -> bool:
        """A command is queued or running (counted from submit to its end, so there is
        no moment between the queue and the thread when neither shows it)."""
        return self._outstanding > 0

    def _after_compile(self, fn):
        def run(session: Session):
            if not self.compiled.is_set():
                self.waiting_for_compile = True
                try:
                    self.compiled.wait()
                finally:
                    self.waiting_for_compile = False
            return fn(session)
        return run

    def run(self) -> None:
        """Start run mode (ignored if already running)."""
        if not self.running:
            self._pause.clear()
            self.running = True
            self._put((self._run_mode, None))

    def pause(self) -> None:
        self._pause.set()

    def stop(self) -> None:
        self._pause.set()
        self._queue.put(None)

    def stepping(self) -> bool:
        """A user's command is running or queued (not run mode, nor one that waits for
        the compile: the warm-up gives way to this)."""
        return self.busy and not self.running and not self.waiting_for_compile

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every submitted command has finished (tests, headless use)."""
        deadline = time.monotonic() + timeout
        while (self.busy or self.running) and time.monotonic() < deadline:
            time.sleep(0.005)
        return not (self.busy or self.running)

    # ------------------------------------------------------------------ thread
    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, event = item
            try:
                result = fn(self.session)
                if event is not None:
                    self.on_change(result if result is not None else event)
            except Exception as err:  # reported to the UI, which shows it
                self.error = err
                self.running = False
                self.on_change(err)
            finally:
                with self._count:
                    self._outstanding -= 1

    def _throttle(self) -> None:
        """At a set speed, wait out the rest of this iteration's time slot (woken at
        once by pause). A slot missed by far is not caught up."""
        now = time.monotonic()
        speed = self.speed
        if speed is None or speed <= 0:
            return
        due = (self._due if self._due is not None else now) + 1.0 / speed
        if due - now > 1.0 / speed or due < now - 0.25:      # speed changed, or fell behind
            due = now + 1.0 / speed
        self._due = due
        if due > now:
            self._pause.wait(due - now)

    def _run_mode(self, session: Session) -> None:
        while not self.compiled.wait(0.05) and not self._pause.is_set():
            pass                             # the warm-up is compiling: wait (pause ends it)
        prog = session.program
        if session.tick > 0:                 # finish the iteration being stepped through
            session.next_iteration()
        total = prog.epochs * prog.per_epoch
        progress = Progress(prog.iteration, prog.epoch_of(prog.iteration))
        last = time.monotonic()
        interval = self.min_interval
        self._due = None
        reason = "done"
        bps = session.breakpoints
        hit = None
        while prog.iteration < total:
            if self._pause.is_set():
                reason = "paused"
                break
            progress.losses.append(prog.train_iteration())
            if bps.active:
                hit = bps.first_hit_fast(prog)
                if hit:
                    reason = "breakpoint"
                    break
            if not math.isfinite(progress.losses[-1]) or not prog.params_finite():
                reason = "nan"
                break
            now = time.monotonic()
            if now - last >= interval:
                progress.iteration = prog.iteration
                progress.epoch = prog.epoch_of(prog.iteration)
                progress.val_loss = prog.validation_loss()
                if self.report_extras:
                    progress.extras = self.report_extras(session)
                self.on_change(progress)
                progress = Progress(prog.iteration, prog.epoch_of(prog.iteration))
                last = time.monotonic()
                interval = report_interval(self.min_interval, last - now)
            self._throttle()
        if reason == "breakpoint":
            from tuinn.engine.breakpoints import locate
            session.stopped_because = locate(session, bps, hit[0]) or hit[1]
        elif reason == "nan":
            session.goto_nonfinite()
        else:
            session.sync()
        self.running = False
        progress.iteration = prog.iteration
        progress.epoch = prog.epoch_of(prog.iteration)
        progress.val_loss = prog.validation_loss()
        if self.report_extras:
            progress.extras = self.report_extras(session)
        progress.running = False
        progress.stopped_because = reason
        self.on_change(progress)
