"""Panels for JupyterLab and the Voilà dashboard (ipywidgets + plotly.js).

Each panel is an ``ipywidgets.VBox`` with traitlet inputs (``store``,
``host``, ``metric``, ``labels``, ``range``, ``theme``) and a ``refresh()``
that reads only what is new; use one alone in a notebook::

    from workbench import ui
    from workbench.store import Store
    cards = ui.KpiCards(Store(), host="workstation"); cards.refresh(); cards

or the whole page, as ``notebooks/dashboard.ipynb`` does::

    dash = ui.Dashboard(Store())
    dash.widget()

plotly.js reaches a page once, whatever the number of charts (see
``_widgets.py``); the refresh clock runs in the browser, so a closed page's
kernel goes idle and is culled.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Dashboard": "_dashboard",
    "default_host": "_dashboard",
    "load_rules": "_dashboard",
    "KpiCards": "_kpi",
    "KPIS": "_kpi",
    "Kpi": "_kpi",
    "LiveChart": "_charts",
    "CoreHeatmap": "_charts",
    "ProcessTable": "_tables",
    "FleetView": "_tables",
    "AlertPanel": "_alerts",
    "ForecastPanel": "_forecast",
    "ExecutorPanel": "_executors",
    "PageLog": "_base",
    "Panel": "_base",
    "RANGES": "_base",
    "Chart": "_widgets",
    "Clock": "_widgets",
    "Table": "_widgets",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.ui.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
