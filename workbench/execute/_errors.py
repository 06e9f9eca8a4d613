"""Errors raised by the throttled executor.

Each subclasses :class:`~workbench.errors.WorkbenchError` (structured fields, pickles
across process boundaries) and the matching built-in so plain ``except`` clauses work.
"""

from __future__ import annotations

from workbench._resilience import CircuitOpenError  # shared with the notification channels
from workbench.errors import ConfigError, WorkbenchError

__all__ = [
    "QueueFullError",
    "TaskTimeoutError",
    "WorkerDiedError",
    "MemoryLimitError",
    "CircuitOpenError",
    "DependencyFailedError",
    "DependencyCycleError",
    "CommandError",
    "RemoteTaskError",
    "JobsFileError",
]


class QueueFullError(WorkbenchError, RuntimeError):
    """The executor's queue is full and its backpressure policy refused the task."""


class TaskTimeoutError(WorkbenchError, TimeoutError):
    """A task ran longer than its ``timeout=``; its work was stopped."""


class WorkerDiedError(WorkbenchError, RuntimeError):
    """The process running a task died (crash, ``os._exit``, signal, OOM kill)."""


class MemoryLimitError(WorkbenchError, MemoryError):
    """A task's process tree grew past its declared memory limit and was killed."""


class DependencyFailedError(WorkbenchError, RuntimeError):
    """A task named in ``after=`` did not succeed, so this task was not run."""


class DependencyCycleError(WorkbenchError, ValueError):
    """The ``after=`` dependencies given at submit time would form a cycle."""


class CommandError(WorkbenchError, RuntimeError):
    """A command task exited with a non-zero code."""


class RemoteTaskError(WorkbenchError, RuntimeError):
    """A task failed in another process with an exception that could not be pickled."""


class JobsFileError(ConfigError):
    """A ``workbench run`` jobs file (or a flag of the same meaning) is wrong: ``job``,
    ``key`` and ``value`` say where and what."""
