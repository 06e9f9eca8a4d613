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
``forecasts`` view). :func:`register_forecaster` adds a model under a name
(``model = "mine"`` in a config; third parties use the entry point group
``workbench.forecasters``) and :func:`make_forecaster` builds one by name. The forecast lab's steps (:func:`load_series`,
:func:`compare_models`, :func:`residual_diagnostics`, :func:`seasonality`,
:func:`explain_auto`, :func:`capacity`, :func:`save_forecast`) are what
``notebooks/forecast_lab.ipynb`` calls.
"""

from workbench._lazy import lazy_exports

# Lazy exports (PEP 562): `from workbench.forecast import Drift` loads only the baselines (numpy),
# not statsmodels (ETS, ARIMA), scikit-learn (OverloadClassifier) or the lab's widgets -- the agent's
# `predicted` rules need Drift alone (docs/benchmarks/agent.md).
_EXPORTS = {
    "ARIMA": "workbench.forecast._arima",
    "AutoForecaster": "workbench.forecast._auto",
    "Ensemble": "workbench.forecast._auto",
    "default_models": "workbench.forecast._auto",
    "BacktestResult": "workbench.forecast._backtest",
    "backtest": "workbench.forecast._backtest",
    "BaseForecaster": "workbench.forecast._base",
    "clone": "workbench.forecast._base",
    "Drift": "workbench.forecast._baselines",
    "Naive": "workbench.forecast._baselines",
    "SeasonalNaive": "workbench.forecast._baselines",
    "ThresholdCrossing": "workbench.forecast._capacity",
    "time_to_threshold": "workbench.forecast._capacity",
    "ETS": "workbench.forecast._ets",
    "LAB_MODELS": "workbench.forecast._lab",
    "AutoChoice": "workbench.forecast._lab",
    "Capacity": "workbench.forecast._lab",
    "Comparison": "workbench.forecast._lab",
    "Diagnostics": "workbench.forecast._lab",
    "capacity": "workbench.forecast._lab",
    "compare_models": "workbench.forecast._lab",
    "explain_auto": "workbench.forecast._lab",
    "load_series": "workbench.forecast._lab",
    "make_models": "workbench.forecast._lab",
    "residual_diagnostics": "workbench.forecast._lab",
    "save_forecast": "workbench.forecast._lab",
    "seasonality": "workbench.forecast._lab",
    "series_figure": "workbench.forecast._lab",
    "coverage": "workbench.forecast._metrics",
    "mae": "workbench.forecast._metrics",
    "mase": "workbench.forecast._metrics",
    "mase_scale": "workbench.forecast._metrics",
    "rmse": "workbench.forecast._metrics",
    "smape": "workbench.forecast._metrics",
    "Forecast": "workbench.forecast._orchestrator",
    "BrierReport": "workbench.forecast._overload",
    "OverloadClassifier": "workbench.forecast._overload",
    "prepare_series": "workbench.forecast._prep",
    "make_forecaster": "workbench.forecast._registry",
    "register_forecaster": "workbench.forecast._registry",
    "season_length_for": "workbench.forecast._prep",
    "Regression": "workbench.forecast._regression",
    "SeasonalPeriod": "workbench.forecast._seasonality",
    "TrendAnalysis": "workbench.forecast._seasonality",
    "analyze_trend": "workbench.forecast._seasonality",
    "detect_seasonality": "workbench.forecast._seasonality",
    "forecast_metric": "workbench.forecast._store",
}




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
    "make_forecaster",
    "prepare_series",
    "register_forecaster",
    "rmse",
    "season_length_for",
    "smape",
    "time_to_threshold",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
