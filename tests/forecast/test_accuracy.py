"""Accuracy on series whose future is known."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.forecast import ARIMA, ETS, AutoForecaster, Drift, Regression, SeasonalNaive

from .conftest import hourly


def _truth_seasonal(n_train, h):
    t = np.arange(n_train + h)
    return 20 + 5 * np.sin(2 * np.pi * t / 24) + 2 * np.cos(4 * np.pi * t / 24)


@pytest.mark.parametrize(
    "make",
    [SeasonalNaive, ETS, ARIMA, Regression, lambda: AutoForecaster(horizon=24)],
    ids=["SeasonalNaive", "ETS", "ARIMA", "Regression", "AutoForecaster"],
)
def test_pure_seasonal_series_is_forecast_almost_exactly(make, pure_seasonal):
    truth = _truth_seasonal(len(pure_seasonal), 48)[-48:]
    fc = make().fit(pure_seasonal).predict(48)
    assert np.max(np.abs(fc["mean"].to_numpy() - truth)) < 0.05 * np.ptp(truth)


@pytest.mark.parametrize(
    "make",
    [Drift, ETS, ARIMA, lambda: Regression(trend=True), lambda: AutoForecaster(horizon=12)],
    ids=["Drift", "ETS", "ARIMA", "Regression", "AutoForecaster"],
)
def test_linear_trend_is_extrapolated(make, linear_trend):
    n = len(linear_trend)
    truth = 5 + 0.5 * np.arange(n, n + 24)
    fc = make().fit(linear_trend).predict(24)
    err = np.abs(fc["mean"].to_numpy() - truth)
    assert err.max() < 1.0, err.max()  # the level moves 12 units over the horizon


def test_intervals_cover_about_the_stated_share():
    rng = np.random.default_rng(7)
    hits80, hits95, total = 0, 0, 0
    for _ in range(20):
        t = np.arange(24 * 14 + 24)
        y = 100 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, t.size)
        train, test = hourly(y[:-24]), y[-24:]
        fc = Regression().fit(train).predict(24)
        hits80 += np.sum((test >= fc.lo_80) & (test <= fc.hi_80))
        hits95 += np.sum((test >= fc.lo_95) & (test <= fc.hi_95))
        total += 24
    assert 0.70 <= hits80 / total <= 0.92
    assert 0.88 <= hits95 / total <= 0.995


def test_ets_picks_a_seasonal_form_and_arima_differences_seasonally(seasonal_noisy):
    ets = ETS().fit(seasonal_noisy)
    assert ets.form_[2] is not None, ets.form_name_
    arima = ARIMA().fit(seasonal_noisy)
    assert arima.seasonal_order_[3] == 24
    assert "ARIMA(" in arima.model_name_


def test_long_seasons_use_decomposition_or_fourier_terms():
    rng = np.random.default_rng(1)
    idx_n = 288 * 6
    t = np.arange(idx_n + 288)
    y = 50 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, t.size)
    import pandas as pd

    series = pd.Series(y[:idx_n], index=pd.date_range("2024-01-01", periods=idx_n, freq="5min"))
    truth = y[idx_n:]
    arima = ARIMA().fit(series)
    assert arima.seasonal_order_[3] == 0 and arima.fourier_K_ >= 1, arima.model_name_
    ets = ETS().fit(series)
    assert ets.fourier_K_ >= 1, ets.form_name_
    for model in (arima, ets, Regression().fit(series)):
        fc = model.predict(288)
        mae = np.mean(np.abs(fc["mean"].to_numpy() - truth))
        assert mae < 3.0, (type(model).__name__, mae)


def test_arima_fixed_order_and_names(seasonal_noisy):
    model = ARIMA(order=(1, 0, 1), seasonal_order=(0, 1, 1), include_constant=True).fit(seasonal_noisy)
    assert model.order_ == (1, 0, 1)
    assert model.seasonal_order_ == (0, 1, 1, 24)
    assert model.model_name_ == "ARIMA(1,0,1)(0,1,1)[24] with drift"
    assert len(model.predict(24)) == 24


def test_long_season_ets_takes_fourier_terms_only_when_they_pay():
    import pandas as pd

    rng = np.random.default_rng(5)
    idx = pd.date_range("2010-01-03", periods=52 * 4 + 13, freq="W")
    t = np.arange(idx.size)
    seasonal = 100 + 8 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 1, t.size)
    ets = ETS(season_length=52).fit(pd.Series(seasonal[:-13], index=idx[:-13]))
    assert ets.fourier_K_ >= 1 and "Fourier" in ets.form_name_, ets.form_name_
    err = np.abs(ets.predict(13)["mean"].to_numpy() - seasonal[-13:]).mean()
    assert err < 2.0, err  # the season is +/- 8: a non-seasonal forecast is off by ~5
    walk = 100 + np.cumsum(rng.normal(0, 1, t.size))
    plain = ETS(season_length=52).fit(pd.Series(walk[:-13], index=idx[:-13]))
    assert plain.fourier_K_ == 0, plain.form_name_  # no season: none is repeated
