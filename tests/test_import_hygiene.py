"""The engine, scenario and session code import neither textual nor rich."""

import subprocess
import sys


def test_engine_imports_no_ui():
    code = (
        "import sys\n"
        "import tuinn.engine.build, tuinn.engine.session, tuinn.engine.network, tuinn.engine.trace\n"
        "import tuinn.engine.run.controller, tuinn.engine.gradcheck, tuinn.engine.run.training\n"
        "import tuinn.scenario.loader, tuinn.scenario.data, tuinn.fmt\n"
        "from tuinn.engine.build import open_session\n"
        "open_session('scenarios/sigmoid-neuron.toml')[1].run_to_end()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n")
    from conftest import ROOT
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
