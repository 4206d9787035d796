"""Run mode: trains on the engine thread, pauses at an iteration boundary, reports at a
bounded rate, and stepping resumes from where it paused."""

import time

from conftest import SCENARIOS
from tuinn.engine.build import build_program, open_session
from tuinn.engine.run.controller import Controller, Progress
from tuinn.engine.session import Session
from tuinn.scenario.loader import load_text


def long_spiral() -> Session:
    """The bundled spiral with far more epochs than a test waits for."""
    text = (SCENARIOS / "spiral.toml").read_text().replace("epochs = 1500", "epochs = 1000000")
    return Session(build_program(load_text(text, str(SCENARIOS / "long-spiral.toml"))))


def test_pause_stops_at_an_iteration_boundary_and_stepping_resumes():
    s = long_spiral()
    prog = s.program
    s.step(3)                                   # mid-iteration: run mode finishes it first
    events = []
    c = Controller(s, events.append)
    c.run()
    time.sleep(0.5)
    c.pause()
    assert c.wait_idle(30)
    final = [e for e in events if isinstance(e, Progress)][-1]
    assert final.stopped_because == "paused" and not final.running
    total = prog.epochs * prog.per_epoch
    assert 1 <= prog.iteration < total
    assert s.tick == 0 and s.iteration == prog.iteration
    assert len(prog.losses) >= prog.iteration
    it = prog.iteration
    s.step_over()                               # stepping picks up at the paused iteration
    assert s.current.node == "dense1" and prog.iteration == it
    s.run_to_end()
    s.step()
    assert prog.iteration == it + 1
    c.stop()


def test_reports_are_rate_limited():
    s = long_spiral()
    events = []
    c = Controller(s, events.append, rate=20.0)
    start = time.monotonic()
    c.run()
    time.sleep(1.0)
    c.pause()
    assert c.wait_idle(30)
    elapsed = time.monotonic() - start
    reports = [e for e in events if isinstance(e, Progress)]
    assert len(reports) <= 20 * elapsed + 2
    assert sum(len(r.losses) for r in reports) == s.program.iteration


def test_runs_to_the_end_of_training():
    spec, s = open_session(str(SCENARIOS / "xor.toml"))
    events = []
    c = Controller(s, events.append)
    c.run()
    assert c.wait_idle(120)
    final = [e for e in events if isinstance(e, Progress)][-1]
    assert final.stopped_because == "done"
    assert s.program.iteration == s.program.epochs * s.program.per_epoch
    c.stop()


def test_history_zero_keeps_nothing_and_still_pauses_and_steps():
    text = (SCENARIOS / "xor.toml").read_text().replace("[debug]\n", "[debug]\nhistory = 0\n")
    s = Session(build_program(load_text(text, str(SCENARIOS / "h0.toml"))))
    prog = s.program
    for _ in range(5):
        prog.train_iteration()
    s.sync()
    assert prog.iteration == 5 and s.tick == 0 and prog.history_bytes() == 0
    s.step(3)
    assert s.back(5) == 3 and prog.iteration == 5     # nothing kept before this iteration
    assert not s.goto_iteration(2) and prog.iteration == 5


def _run_until(c: Controller, prog, iteration: int) -> None:
    c.run()
    deadline = time.monotonic() + 120
    while prog.iteration < iteration and time.monotonic() < deadline:
        time.sleep(0.01)
    c.pause()
    assert c.wait_idle(30) and prog.iteration >= iteration


def test_run_mode_memory_stays_flat():
    """Run mode (the app's engine thread, reports included) holds no more memory after
    5x the iterations: the losses, the history ring and the reports are all bounded.
    (benchmarks/bench_runmode.py shows the same for a million iterations in the app.)"""
    import gc
    import tracemalloc

    s = long_spiral()
    prog = s.program
    c = Controller(s, lambda event: None, rate=200.0)
    _run_until(c, prog, prog.losses.keep + 2 * prog.history.limit)   # every ring full
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _run_until(c, prog, prog.iteration + 2_000)
    gc.collect()
    short = tracemalloc.get_traced_memory()[0] - before
    _run_until(c, prog, prog.iteration + 10_000)
    gc.collect()
    long = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    c.stop()
    assert long - short < 64 * 1024, (short, long)


def test_costly_reports_come_less_often():
    """A report whose extras take 30 ms (a GAN's grid) comes at most every 30/0.08 ms,
    so that reports and their drawing leave run mode most of the time."""
    from tuinn.engine.run.controller import REPORT_SHARE, report_interval
    assert report_interval(0.05, 0.001) == 0.05
    assert report_interval(0.05, 0.02) == 0.02 / REPORT_SHARE
    assert report_interval(0.05, 10.0) == 0.5
    s = long_spiral()
    events = []
    c = Controller(s, events.append, rate=20.0)
    c.report_extras = lambda session: time.sleep(0.03) or {"x": 1}
    start = time.monotonic()
    c.run()
    time.sleep(1.5)
    c.pause()
    assert c.wait_idle(30)
    elapsed = time.monotonic() - start
    reports = [e for e in events if isinstance(e, Progress)]
    assert 2 <= len(reports) <= elapsed / (0.03 / REPORT_SHARE) + 2
    assert sum(len(r.losses) for r in reports) == s.program.iteration
    c.stop()
