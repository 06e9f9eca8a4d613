"""Forecasters by name: the forecast lab, reports and configs say ``model = "ets"``.

A :class:`workbench._plugins.Registry` (group ``workbench.forecasters`` for
third parties). The built-ins are imported on first use, so naming one costs
nothing until it is built (ETS and ARIMA bring in statsmodels).
:data:`workbench.forecast.LAB_MODELS` is this registry as a mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench._plugins import Registry

if TYPE_CHECKING:
    from workbench.forecast._base import BaseForecaster

__all__ = ["forecasters", "register_forecaster", "make_forecaster"]

#: name -> forecaster class (or factory), simplest first
forecasters: Registry[Callable[..., BaseForecaster]] = Registry("forecaster", group="workbench.forecasters")
for _name, _ref in (
    ("naive", "workbench.forecast._baselines:Naive"),
    ("seasonal_naive", "workbench.forecast._baselines:SeasonalNaive"),
    ("drift", "workbench.forecast._baselines:Drift"),
    ("ets", "workbench.forecast._ets:ETS"),
    ("arima", "workbench.forecast._arima:ARIMA"),
    ("regression", "workbench.forecast._regression:Regression"),
    ("auto", "workbench.forecast._auto:AutoForecaster"),
):
    forecasters.register_lazy(_name, _ref)


def register_forecaster(name: str, factory: Callable[..., BaseForecaster]) -> None:
    """Add a forecaster under ``name``; names are unique."""
    forecasters.register(name, factory)


def make_forecaster(name: str, **params: Any) -> BaseForecaster:
    """Build the forecaster registered as ``name`` with hyperparameters ``params``."""
    return forecasters.build(name, **params)
