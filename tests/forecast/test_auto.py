"""AutoForecaster: candidates by seasonal strength, the simpler model on a tie, calibrated intervals."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import DataError
from workbench.forecast import ARIMA, AutoForecaster, Naive, backtest, default_models

from .conftest import hourly


def _ar1(n, phi=0.8, sd=1.0, seed=0):
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + rng.normal(0, sd)
    return 30 + e


def test_default_candidates_follow_the_seasonal_strength():
    assert [m.name for m in default_models(24, strength=0.9)] == ["SeasonalNaive", "ETS", "Regression"]
    assert [m.name for m in default_models(24, strength=0.1)] == ["Naive", "ARIMA", "Regression"]
    assert default_models(24, strength=0.1)[1].season_length == 1  # the ARIMA is non-seasonal


def test_series_without_season_gets_a_non_seasonal_model():
    y = hourly(_ar1(24 * 8))
    auto = AutoForecaster(horizon=12, n_windows=3).fit(y)
    assert auto.season_strength_ < 0.64
    assert set(auto.scores_.model) == {"Naive", "ARIMA", "Regression"}
    assert set(auto.chosen_) <= {"Naive", "ARIMA", "Regression"}
    # AR(1) around a level: ARIMA (or the lag regression) beats the naive forecast clearly
    assert auto.chosen_ != ["Naive"]


def test_seasonal_series_keeps_the_seasonal_candidates(seasonal_noisy):
    auto = AutoForecaster(horizon=24).fit(seasonal_noisy)
    assert auto.season_strength_ > 0.64
    assert set(auto.scores_.model) == {"SeasonalNaive", "ETS", "Regression"}


def test_a_tie_goes_to_the_simpler_model_listed_first():
    y = hourly(np.cumsum(np.random.default_rng(1).normal(0, 1, 300)) + 100)
    random_walk = ARIMA(order=(0, 1, 0), include_constant=False)  # forecasts exactly like Naive
    first = AutoForecaster(models=[Naive(), random_walk], horizon=12).fit(y)
    second = AutoForecaster(models=[random_walk, Naive()], horizon=12).fit(y)
    assert first.chosen_ == ["Naive"]
    assert second.chosen_ == ["ARIMA"]


def test_intervals_are_calibrated_on_the_backtest():
    # White noise: Naive's random-walk intervals grow with sqrt(h) and are far too wide
    # at 24 steps; calibration must bring them back towards the stated coverage.
    rng = np.random.default_rng(3)
    y = hourly(10 + rng.normal(0, 1, 24 * 24))
    calibrated = AutoForecaster(models=[Naive()], horizon=24)
    raw = AutoForecaster(models=[Naive()], horizon=24, calibrate=False)
    fitted = calibrated.fit(y)
    assert fitted.calibration_[95.0][-1] < 0.8  # the far block shrinks
    fc_cal, fc_raw = fitted.predict(24), raw.fit(y).predict(24)
    assert (fc_cal.hi_95 - fc_cal.lo_95).iloc[-1] < 0.8 * (fc_raw.hi_95 - fc_raw.lo_95).iloc[-1]
    cov_cal = backtest(calibrated, y, h=24, n_windows=10).summary["coverage_95"]
    cov_raw = backtest(raw, y, h=24, n_windows=10).summary["coverage_95"]
    assert 0.88 <= cov_cal <= 0.99, cov_cal
    assert cov_raw > 0.99 > cov_cal


def test_bad_tolerance_is_refused_with_the_value():
    with pytest.raises(DataError, match=r"tolerance must be a number in \[0, 1\).*got 2"):
        AutoForecaster(models=[Naive()], tolerance=2).fit(hourly(np.arange(50.0)))


def test_calibrated_widths_are_the_closest_non_decreasing_ones():
    from workbench.forecast._auto import _isotonic

    np.testing.assert_allclose(_isotonic(np.array([1.0, 3.0, 2.0, 4.0])), [1.0, 2.5, 2.5, 4.0])
    # A blip early on is pooled with what follows, not carried to the end of the horizon
    widths = _isotonic(np.array([1.0, 5.0, 2.0, 2.0, 2.0, 2.0]))
    assert widths[-1] < 5.0 and np.all(np.diff(widths) >= 0)
