"""Provides the TUI's messages, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EngineChanged(Message):
    """The engine thread finished a command; `event` says what happened."""
    event: object
