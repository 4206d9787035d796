"""Provides scenario loading: TOML file -> validated Spec (`load_scenario`, `load_text`)."""

from tuinn.scenario.loader import load_scenario, load_text

__all__ = ["load_scenario", "load_text"]
