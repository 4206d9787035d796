"""Provides plain Rich renderables for the TUI (no Textual imports; testable without an app)."""
