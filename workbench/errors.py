"""One exception hierarchy for the whole package, rooted at :class:`WorkbenchError`.

Every error carries structured fields (``err.fields`` and attributes) beside a
message that says what was wrong, what was given and what to do. Each also
subclasses the matching built-in (``ValueError``, ``KeyError``, ...) so ordinary
``except`` clauses keep working, and every one pickles, because errors cross
process boundaries in the executor.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WorkbenchError",
    "ConfigError",
    "DataError",
    "ParameterError",
    "NotFittedError",
    "UnknownMetricError",
    "StoreError",
    "CorruptSegmentError",
    "AgentRunningError",
    "CollectorError",
    "MissingDependencyError",
    "QueryError",
    "ActionError",
    "ActionTimeoutError",
    "ExecutorRunningError",
    "UnknownAlertError",
]


def _rebuild(cls: type, message: str, fields: dict[str, Any]) -> WorkbenchError:
    return cls(message, **fields)


class WorkbenchError(Exception):
    """Base of every error raised on purpose by Workbench."""

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields)
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.fields))


class ConfigError(WorkbenchError, ValueError):
    """A configuration file, key or value is wrong."""


class DataError(WorkbenchError, ValueError):
    """Input data cannot be used as given (NaNs, gaps, wrong type, ...)."""


class ParameterError(ConfigError, DataError):
    """A hyperparameter or option has a value its class does not allow (``workbench._params``).

    The one error for a bad parameter everywhere: forecasters, detectors, the
    executor, collectors and ``workbench.toml``. It is a :class:`ConfigError` and a
    :class:`DataError` (both ``ValueError``), which the parts raised for it before,
    so their ``except`` clauses keep catching it. Fields: ``param``, ``given`` (its
    repr), ``expected`` (in words), ``owner`` (the class).
    """


class NotFittedError(WorkbenchError, ValueError, AttributeError):
    """An estimator (forecaster, detector) was used before ``fit``."""


class UnknownMetricError(WorkbenchError, KeyError):
    """A metric name is not in the catalogue."""


class StoreError(WorkbenchError, OSError):
    """The store cannot do what was asked (I/O, layout, locking)."""


class QueryError(WorkbenchError, ValueError):
    """A SQL query or query argument was rejected."""


class CorruptSegmentError(StoreError):
    """A segment file cannot be read; it has been or will be quarantined."""


class AgentRunningError(StoreError):
    """Another agent already writes to this home."""


class CollectorError(WorkbenchError, RuntimeError):
    """A collector failed; the agent counts it and carries on."""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional extra is needed for this feature."""

    @classmethod
    def for_extra(cls, feature: str, package: str, extra: str) -> MissingDependencyError:
        return cls(
            f"{feature} needs the optional package {package!r}, which is not installed. "
            f"Install it with: pip install 'workbench[{extra}]'",
            feature=feature,
            package=package,
            extra=extra,
        )


class ActionError(WorkbenchError, ValueError):
    """A control action (``workbench.control.act``) names an unknown target, action or arguments."""


class ActionTimeoutError(WorkbenchError, TimeoutError):
    """No owner answered a control action in time (it stays recorded and applies when the owner runs)."""


class ExecutorRunningError(StoreError):
    """Another executor with the same name already runs on this host."""


class UnknownAlertError(WorkbenchError, KeyError):
    """An alert id that no alert record in the home carries."""
