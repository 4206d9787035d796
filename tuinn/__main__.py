"""Provides `python -m tuinn`."""

from tuinn.cli import main

main()
