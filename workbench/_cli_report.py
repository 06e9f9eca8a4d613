"""The `workbench report` command's arguments (argparse only: heavy imports happen inside the command)."""

from __future__ import annotations


def add_commands(sub) -> None:
    """Add `report` to the CLI's sub-parsers (filled in by the report work; nothing yet)."""
