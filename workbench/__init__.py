"""Workbench: watch, understand, predict and steer the resources of your machines.

The names a notebook needs, imported lazily so that ``import workbench`` (for
``@workbench.timed`` in a batch job, say) stays cheap::

    import workbench
    store = workbench.Store()                 # DuckDB over ./data or $WORKBENCH_HOME
    with workbench.timed("etl.load"): ...     # application metrics, no agent needed
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.errors import WorkbenchError

__version__ = "0.1.0"

_LAZY = {
    "Store": "workbench.store",
    "Agent": "workbench.agent",
    "load_config": "workbench.config",
    "timed": "workbench.appmetrics",
    "gauge": "workbench.appmetrics",
    "count": "workbench.appmetrics",
    "ThrottledExecutor": "workbench.execute",
    "Retry": "workbench.execute",
    "TaskOptions": "workbench.execute",
    "Governor": "workbench.execute",
    "Naive": "workbench.forecast",
    "SeasonalNaive": "workbench.forecast",
    "Drift": "workbench.forecast",
    "ETS": "workbench.forecast",
    "ARIMA": "workbench.forecast",
    "Regression": "workbench.forecast",
    "AutoForecaster": "workbench.forecast",
    "Forecast": "workbench.forecast",
    "forecast_metric": "workbench.forecast",
    "time_to_threshold": "workbench.forecast",
    "load_demo": "workbench.demo",
}

__all__ = ["WorkbenchError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
