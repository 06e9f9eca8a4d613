"""Errors of the report part, in the package's one hierarchy (see :mod:`workbench.errors`)."""

from __future__ import annotations

from workbench.errors import ConfigError, WorkbenchError

__all__ = ["ReportError", "ReportParameterError", "ReportFailedError", "ReportBusyError", "ReportConfigError"]


class ReportError(WorkbenchError, RuntimeError):
    """A report cannot be produced as asked."""


class ReportParameterError(WorkbenchError, ValueError):
    """A parameter the report notebook does not declare, or a value of the wrong type."""


class ReportFailedError(ReportError):
    """The notebook failed while it ran; ``cell`` and ``error`` say where and why, ``run_dir`` keeps it."""


class ReportBusyError(ReportError):
    """The same report is already running (its lock file is held by a live process)."""


class ReportConfigError(ConfigError):
    """A ``[reports.NAME]`` table in ``workbench.toml`` is wrong."""
