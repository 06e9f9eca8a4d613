"""Redact secrets from process command lines before they become label values.

Command lines are stored for as long as the store keeps data and shown in
dashboards. The rules live in :mod:`workbench._redact`, shared with
``workbench config`` and the notifiers, so that every part agrees on what a
secret looks like.
"""

from __future__ import annotations

from workbench._redact import MASK, redact_cmdline

__all__ = ["redact_cmdline", "MASK"]
