"""Errors raised by :mod:`workbench.detect` (all rooted at ``WorkbenchError``)."""

from __future__ import annotations

from workbench._resilience import CircuitOpenError  # a channel's breaker is open: nothing was sent
from workbench.errors import ConfigError, WorkbenchError

__all__ = ["RuleError", "NotifyError", "CircuitOpenError"]


class RuleError(ConfigError):
    """An alert rule, silence or route definition is invalid."""


class NotifyError(WorkbenchError, RuntimeError):
    """A notification could not be delivered (after the channel's retries)."""

