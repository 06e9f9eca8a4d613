"""Forecasting: what will this metric do in the next hour, day or week, and how sure are we?

Every model follows one scikit-learn style protocol (see :class:`BaseForecaster`):
``fit(y) -> self`` on a timestamp-indexed Series, then ``predict(h, level=(80, 95))``
returning a DataFrame indexed by the future timestamps with ``mean, lo_80, hi_80,
lo_95, hi_95``. Input is cleaned by one stated policy (:func:`prepare_series`).

Models: :class:`Naive`, :class:`SeasonalNaive`, :class:`Drift`, :class:`ETS`,
:class:`ARIMA`, :class:`Regression`; around them :func:`backtest`,
:class:`AutoForecaster`, :class:`Forecast` (many series in long format),
:func:`detect_seasonality`, :func:`analyze_trend`, :func:`time_to_threshold`,
:class:`OverloadClassifier` (calibrated probability of crossing a threshold) and
:func:`forecast_metric` (read from the store, forecast, optionally save to the
``forecasts`` view). The forecast lab's steps (:func:`load_series`,
:func:`compare_models`, :func:`residual_diagnostics`, :func:`seasonality`,
:func:`explain_auto`, :func:`capacity`, :func:`save_forecast`) are what
``notebooks/forecast_lab.ipynb`` calls.
"""

from workbench.forecast._arima import ARIMA
from workbench.forecast._auto import AutoForecaster, Ensemble, default_models
from workbench.forecast._backtest import BacktestResult, backtest
from workbench.forecast._base import BaseForecaster, clone
from workbench.forecast._baselines import Drift, Naive, SeasonalNaive
from workbench.forecast._capacity import ThresholdCrossing, time_to_threshold
from workbench.forecast._ets import ETS
from workbench.forecast._lab import (
    LAB_MODELS,
    AutoChoice,
    Capacity,
    Comparison,
    Diagnostics,
    capacity,
    compare_models,
    explain_auto,
    load_series,
    make_models,
    residual_diagnostics,
    save_forecast,
    seasonality,
    series_figure,
)
from workbench.forecast._metrics import coverage, mae, mase, mase_scale, rmse, smape
from workbench.forecast._orchestrator import Forecast
from workbench.forecast._overload import BrierReport, OverloadClassifier
from workbench.forecast._prep import prepare_series, season_length_for
from workbench.forecast._regression import Regression
from workbench.forecast._seasonality import (
    SeasonalPeriod,
    TrendAnalysis,
    analyze_trend,
    detect_seasonality,
)
from workbench.forecast._store import forecast_metric

__all__ = [
    "LAB_MODELS",
    "AutoChoice",
    "Capacity",
    "Comparison",
    "Diagnostics",
    "capacity",
    "compare_models",
    "explain_auto",
    "load_series",
    "make_models",
    "residual_diagnostics",
    "save_forecast",
    "seasonality",
    "series_figure",
    "ARIMA",
    "AutoForecaster",
    "BacktestResult",
    "BaseForecaster",
    "BrierReport",
    "Drift",
    "ETS",
    "Ensemble",
    "Forecast",
    "Naive",
    "OverloadClassifier",
    "Regression",
    "SeasonalNaive",
    "SeasonalPeriod",
    "ThresholdCrossing",
    "TrendAnalysis",
    "analyze_trend",
    "backtest",
    "clone",
    "coverage",
    "default_models",
    "detect_seasonality",
    "forecast_metric",
    "mae",
    "mase",
    "mase_scale",
    "prepare_series",
    "rmse",
    "season_length_for",
    "smape",
    "time_to_threshold",
]
