"""Provides the sustained run-mode benchmark: the app's iterations a second and memory over a million iterations (by hand).

Issue 11 item 5: run mode's speed after a million iterations stays within 10% of the
first ten thousand, at flat memory. This runs the real app (TuinnApp, headless, 120x40,
the Textual event loop drawing every report) on a bundled scenario with its epochs
raised and its speed at full (the `+` key's last step), presses `c`, and samples every `--every` seconds: the iteration counter and the
process's resident memory (/proc/self/statm). It prints the rate over the first 10,000
iterations, over each later stretch of the run, and over the last stretch; the resident
memory at 10,000 iterations, at the halfway mark and at the end. Nothing here asserts:
timings move with the machine's load (run it on an idle machine; the memory figures do
not depend on that). The tests that fail on growth are in tests/test_long_runs.py.

    .venv/bin/python benchmarks/bench_runmode.py [--scenario spiral] [--iterations 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2 ** 20


def load(name: str, iterations: int):
    """The scenario with enough epochs for `iterations`, and a built session."""
    from tuinn.engine.build import build_session
    from tuinn.scenario.loader import load_text

    path = ROOT / "scenarios" / f"{name}.toml"
    text = path.read_text()
    spec = load_text(text, str(path))
    session = build_session(spec)
    per_epoch = session.program.per_epoch
    epochs = iterations // per_epoch + 2
    text = re.sub(r"(?m)^epochs\s*=\s*\d+", f"epochs = {epochs}", text)
    spec = load_text(text, str(path))
    spec.debug.speed = 0                 # full speed, as `+` up to "full" in the app
    return spec, build_session(spec)


async def run(args) -> list[tuple[float, int, float]]:
    from tuinn.tui.app import TuinnApp

    spec, session = load(args.scenario, args.iterations)
    app = TuinnApp(spec, session)
    samples: list[tuple[float, int, float]] = []       # (seconds, iteration, RSS MiB)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        prog = session.program
        start_it = prog.iteration
        done = threading.Event()

        def sample() -> None:            # off the UI thread: the UI may be slow to wake
            while not done.wait(args.every):
                samples.append((time.perf_counter() - t0, prog.iteration - start_it, rss_mib()))

        t0 = time.perf_counter()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        await pilot.press("c")
        while True:
            await pilot.pause(0.2)
            if prog.iteration - start_it >= args.iterations or not app.screen.controller.running:
                break
        done.set()
        sampler.join()
        await pilot.press("p")
        await pilot.pause(0.3)
    return samples


def rate(samples, lo: int, hi: int) -> float:
    """Iterations a second from the last sample at or before iteration lo to the first
    at or past hi."""
    a = [s for s in samples if s[1] <= lo][-1]
    b = next((s for s in samples if s[1] >= hi), samples[-1])
    return (b[1] - a[1]) / max(1e-9, b[0] - a[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="spiral")
    ap.add_argument("--iterations", type=int, default=1_000_000)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between samples")
    args = ap.parse_args()
    samples = [(0.0, 0, 0.0)] + asyncio.run(run(args))
    total = samples[-1][1]
    first = rate(samples, 0, 10_000)
    print(f"{args.scenario}: {total} iterations in {samples[-1][0]:.1f} s")
    print(f"  first 10,000 iterations: {first:,.0f} it/s")
    step = max(10_000, total // 10)
    for lo in range(step, total - step + 1, step):
        r = rate(samples, lo, lo + step)
        print(f"  iterations {lo:>9,} - {lo + step:>9,}: {r:,.0f} it/s ({r / first:.2f} x first)")
    mem = {k: next((s[2] for s in samples[1:] if s[1] >= k), samples[-1][2])
           for k in (10_000, total // 2, total)}
    print("  resident memory: " + ", ".join(f"{v:.1f} MiB at {k:,}" for k, v in mem.items()))


if __name__ == "__main__":
    main()
