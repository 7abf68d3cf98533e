"""The `train`, `eval`, `experiment` and `adapters` commands."""

from __future__ import annotations


def add_parsers(sub, common) -> None:
    """Add this module's subcommands to the `household-assistant` parser."""
