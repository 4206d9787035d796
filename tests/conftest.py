"""Shared test setup: snapshots live in the top-level snapshots/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
CONTRACT = ROOT / "tests" / "contract" / "v1"        # copies of the contract cases (data)
CONTRACT_V2 = ROOT / "tests" / "contract" / "v2"

try:
    from syrupy.extensions.single_file import SingleFileSnapshotExtension  # noqa: F401
    from pytest_textual_snapshot import SVGImageExtension

    SVGImageExtension.dirname = classmethod(lambda cls, *, test_location: str(ROOT / "snapshots"))
except ImportError:  # the snapshot plugin is part of the test extra
    pass


@pytest.fixture
def scenario():
    """Load a bundled scenario by name and open a session on it."""
    from tuinn.engine.build import open_session

    def load(name: str):
        return open_session(str(SCENARIOS / f"{name}.toml"))
    return load
