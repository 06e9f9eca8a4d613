"""Backtesting, automatic selection, the many-series orchestrator, seasonality and trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError, NotFittedError
from workbench.forecast import (
    ETS,
    AutoForecaster,
    Drift,
    Forecast,
    Naive,
    Regression,
    SeasonalNaive,
    analyze_trend,
    backtest,
    detect_seasonality,
    mase,
    smape,
)

from .conftest import hourly


def test_metrics_known_values():
    assert smape([100, 100], [110, 90]) == pytest.approx(100 * (10 / 210 + 10 / 190))
    assert smape([0, 0], [0, 0]) == 0.0
    y_train = np.array([1.0, 2, 3, 4])
    assert mase([5.0, 6], [5.5, 6.5], y_train) == pytest.approx(0.5)
    with pytest.raises(DataError, match="same shape"):
        smape([1, 2], [1])


def test_backtest_windows_and_scores(seasonal_noisy):
    res = backtest(SeasonalNaive(), seasonal_noisy, h=24, n_windows=3)
    fc = res.forecasts
    assert len(fc) == 72
    assert sorted(fc.window.unique()) == [0, 1, 2]
    assert list(res.by_step.step) == list(range(1, 25))
    for col in ("mae", "rmse", "smape", "mase", "coverage_80", "coverage_95"):
        assert col in res.by_step.columns and col in res.summary
    # the last window ends at the last observation
    assert fc.ds.max() == seasonal_noisy.index[-1]
    np.testing.assert_allclose(fc.y.to_numpy()[-24:], seasonal_noisy.to_numpy()[-24:])
    # seasonal naive is exact at each step on its own training data's last season
    assert 0 <= res.summary["coverage_95"] <= 1
    overlapping = backtest(Naive(), seasonal_noisy, h=6, n_windows=4, step=2)
    assert overlapping.forecasts.cutoff.nunique() == 4


def test_backtest_refuses_too_little_data():
    with pytest.raises(DataError, match="needs more than"):
        backtest(Naive(), hourly(np.arange(10.0)), h=5, n_windows=3)


def test_auto_forecaster_prefers_the_right_model(seasonal_noisy):
    auto = AutoForecaster(models=[Naive(), SeasonalNaive(), Regression()], horizon=24,
                          combine="select").fit(seasonal_noisy)
    assert auto.chosen_[0] in {"SeasonalNaive", "Regression"}
    assert set(auto.scores_.model) == {"Naive", "SeasonalNaive", "Regression"}
    assert auto.scores_.set_index("model").loc["Naive", "mase"] > auto.scores_["mase"].min()
    ens = AutoForecaster(models=[SeasonalNaive(), Regression(), Naive()], horizon=24,
                         combine="ensemble", top_k=2).fit(seasonal_noisy)
    assert len(ens.chosen_) == 2 and np.isclose(ens.weights_.sum(), 1)


def test_auto_forecaster_skips_failing_candidates_and_falls_back():
    y = hourly(np.arange(1, 31.0))
    auto = AutoForecaster(models=[Regression(lags=range(1, 50)), Drift()], horizon=5).fit(y)
    assert "Regression" in auto.errors_ and "needs at least" in auto.errors_["Regression"]
    assert auto.chosen_ == ["Drift"]
    tiny = AutoForecaster().fit(hourly([1.0, 2.0, 3.0]))
    assert tiny.fallback_ is not None
    assert len(tiny.predict(3)) == 3


def _long(n_series=3, n=24 * 8):
    t = np.arange(n)
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{k}", "ds": idx,
                          "y": 10 * (k + 1) + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)})
            for k in range(n_series)
        ],
        ignore_index=True,
    )


def test_forecast_orchestrator_long_format():
    df = _long()
    engine = Forecast([SeasonalNaive(), Drift()], freq="h", progress=False)
    out = engine.forecast(df, h=6)
    assert list(out.columns) == ["unique_id", "ds", "model", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(out) == 3 * 2 * 6
    assert set(out.model) == {"SeasonalNaive", "Drift"}
    assert out.ds.min() == df.ds.max() + pd.Timedelta("1h")
    assert not hasattr(engine, "fitted_")  # the light path keeps nothing
    fitted = Forecast({"snaive": SeasonalNaive()}, progress=False).fit(df)
    again = fitted.predict(6)
    assert set(again.model) == {"snaive"} and len(again) == 18


def test_forecast_orchestrator_parallel_matches_serial():
    df = _long(n_series=4)
    serial = Forecast([ETS()], freq="h", n_jobs=1, progress=False).forecast(df, h=5)
    parallel = Forecast([ETS()], freq="h", n_jobs=2, progress=False).forecast(df, h=5)
    pd.testing.assert_frame_equal(serial, parallel)


def test_forecast_orchestrator_column_names_and_errors():
    df = _long(n_series=2).rename(columns={"unique_id": "host", "ds": "ts", "y": "cpu"})
    with pytest.raises(DataError, match="no column\\(s\\) 'unique_id'"):
        Forecast([Naive()], progress=False).forecast(df, h=2)
    out = Forecast([Naive()], id_col="host", time_col="ts", target_col="cpu", progress=False).forecast(df, h=2)
    assert list(out.columns[:3]) == ["host", "ts", "model"]
    with pytest.raises(NotFittedError):
        Forecast([Naive()]).predict(3)
    short = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 60,
                          "ds": list(pd.date_range("2024-01-01", periods=3, freq="h"))
                          + list(pd.date_range("2024-01-01", periods=60, freq="h")),
                          "y": np.arange(63.0)})
    with pytest.raises(DataError, match="Series 'a', model 'Regression'"):
        Forecast([Regression()], progress=False).forecast(short, h=2)
    engine = Forecast([Regression()], progress=False, errors="skip")
    out = engine.forecast(short, h=2)
    assert set(out.unique_id) == {"b"}
    assert list(engine.failures_.unique_id) == ["a"]


def test_detect_seasonality_finds_daily_and_nothing_in_noise(seasonal_noisy):
    found = detect_seasonality(seasonal_noisy)
    assert found[0].period == 24 and found[0].strength > 0.8
    assert found[0].duration == pd.Timedelta("1D")
    noise = hourly(np.random.default_rng(5).normal(0, 1, 300))
    weak = detect_seasonality(noise, min_strength=0.5)
    assert all(c.strength >= 0.5 for c in weak)
    assert not any(c.period == 24 and c.strength > 0.5 for c in detect_seasonality(noise))


def test_analyze_trend(linear_trend):
    up = analyze_trend(linear_trend)
    assert up.direction == "increasing"
    assert up.slope_per_step == pytest.approx(0.5, abs=0.01)
    assert up.slope_per_day == pytest.approx(12, abs=0.3)
    assert up.strength > 0.9
    flat = analyze_trend(hourly(np.random.default_rng(2).normal(0, 1, 200)))
    assert flat.direction == "none"
