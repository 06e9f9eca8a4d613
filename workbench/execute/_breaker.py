"""Circuit breakers per task group (a tag or a task name).

The policy is :class:`workbench._resilience.CircuitBreaker`, shared with the
notification channels; the executor asks it before a task runs and tells it
each result.
"""

from __future__ import annotations

from workbench._resilience import CircuitBreaker

__all__ = ["CircuitBreaker"]
