"""The `feedback` commands: list, correct, export and import feedback."""

from __future__ import annotations


def add_parsers(sub, common) -> None:
    """Add this module's subcommands to the `household-assistant` parser."""
