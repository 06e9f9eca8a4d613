"""Reports: a parameterised notebook run by papermill, exported as one offline HTML file, kept, scheduled, delivered.

``workbench report`` (see :mod:`workbench._cli_report`) and the agent's
scheduler call :func:`run_report`; ``notebooks/report.ipynb`` calls
:class:`Report`. Names are imported on first use, so the agent, which only
schedules, never loads pandas, papermill or nbconvert.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Report": "_page",
    "Section": "_page",
    "resolve_period": "_period",
    "run_report": "_run",
    "RunResult": "_run",
    "list_reports": "_store",
    "write_index": "_store",
    "check_parameters": "_params",
    "export_html": "_export",
    "ReportError": "_errors",
    "ReportParameterError": "_errors",
    "ReportFailedError": "_errors",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.report.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
