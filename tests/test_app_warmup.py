"""The app during a cold start's background compile: bulk training commands (an epoch,
a jump to an iteration) wait for the compiled kernels, as run mode does, and say so."""

from __future__ import annotations

import threading
import time

from ui_helpers import make_app, run_async, settle, text_of


@run_async
async def test_an_epoch_key_during_the_compile_waits_for_it_and_says_so(monkeypatch):
    import tuinn.engine.warmup as warmup
    release = threading.Event()
    compile_program = warmup.compile_program
    monkeypatch.setattr(warmup, "compile_program",
                        lambda spec, *a: (release.wait(30), compile_program(spec, *a))[1])
    app = make_app("spiral")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(20):
                await pilot.pause()
            await pilot.press("n")                    # a step: at once, uncompiled
            app.screen.controller.wait_idle(10)
            assert app.session.tick == 1
            await pilot.press("x")                    # an epoch: waits
            deadline = time.monotonic() + 10
            while not app.screen.controller.waiting_for_compile and time.monotonic() < deadline:
                await pilot.pause()
            app.screen.status()
            status = text_of(app.screen.query_one("StatusBar"))
            assert "training starts when compiled" in status
            assert app.session.program.iteration == 0
            release.set()
            await settle(pilot)
            prog = app.session.program
            assert app.screen.ready and prog.iteration == prog.per_epoch
            assert "starts when compiled" not in text_of(app.screen.query_one("StatusBar"))
    finally:
        release.set()
