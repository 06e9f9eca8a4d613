"""One contract suite, run over every forecaster (STYLE.md point 17)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError, NotFittedError
from workbench.forecast import (
    ARIMA,
    ETS,
    AutoForecaster,
    Drift,
    Ensemble,
    Naive,
    Regression,
    SeasonalNaive,
    clone,
)

from .conftest import hourly

MODELS = [
    pytest.param(lambda: Naive(), id="Naive"),
    pytest.param(lambda: SeasonalNaive(), id="SeasonalNaive"),
    pytest.param(lambda: Drift(), id="Drift"),
    pytest.param(lambda: ETS(), id="ETS"),
    pytest.param(lambda: ARIMA(), id="ARIMA"),
    pytest.param(lambda: Regression(), id="Regression"),
    pytest.param(lambda: Regression(strategy="direct", intervals="residual"), id="Regression-direct"),
    pytest.param(
        lambda: AutoForecaster(models=[SeasonalNaive(), Regression()], horizon=24), id="AutoForecaster"
    ),
    pytest.param(lambda: Ensemble(models=[SeasonalNaive(), Drift()]), id="Ensemble"),
]
COLUMNS = ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]


@pytest.mark.parametrize("make", MODELS)
def test_fit_returns_self_and_does_not_mutate_input(make, seasonal_noisy):
    y = seasonal_noisy
    before = y.copy(deep=True)
    model = make()
    assert model.fit(y) is model
    pd.testing.assert_series_equal(y, before)
    assert y.index.freq == before.index.freq


@pytest.mark.parametrize("make", MODELS)
def test_predict_before_fit_raises_not_fitted(make):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        make().predict(5)
    with pytest.raises(ValueError):  # NotFittedError is also a ValueError
        make().predict(5)


@pytest.mark.parametrize("make", MODELS)
def test_prediction_frame_shape(make, seasonal_noisy):
    fc = make().fit(seasonal_noisy).predict(30)
    assert list(fc.columns) == COLUMNS
    assert len(fc) == 30
    expected = pd.date_range(seasonal_noisy.index[-1] + pd.Timedelta("1h"), periods=30, freq="h")
    pd.testing.assert_index_equal(fc.index, expected, check_names=False)
    assert np.isfinite(fc.to_numpy()).all()
    other = make().fit(seasonal_noisy).predict(4, level=(50, 90, 99))
    assert list(other.columns) == ["mean", "lo_50", "hi_50", "lo_90", "hi_90", "lo_99", "hi_99"]
    assert list(make().fit(seasonal_noisy).predict(3, level=None).columns) == ["mean"]


@pytest.mark.parametrize("make", MODELS)
def test_intervals_nested_and_widening(make, seasonal_noisy):
    fc = make().fit(seasonal_noisy).predict(48)
    assert (fc.lo_95 <= fc.lo_80 + 1e-9).all()
    assert (fc.lo_80 <= fc["mean"] + 1e-9).all()
    assert (fc["mean"] <= fc.hi_80 + 1e-9).all()
    assert (fc.hi_80 <= fc.hi_95 + 1e-9).all()
    width = (fc.hi_95 - fc.lo_95).to_numpy()
    assert width[-1] >= width[0] - 1e-9
    assert width[-1] > 0


@pytest.mark.parametrize("make", MODELS)
def test_pickles_and_predicts_the_same(make, seasonal_noisy):
    model = make().fit(seasonal_noisy)
    clone_ = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(model.predict(12), clone_.predict(12))
    unfitted = pickle.loads(pickle.dumps(make()))
    with pytest.raises(NotFittedError):
        unfitted.predict(1)


@pytest.mark.parametrize("make", MODELS)
def test_params_round_trip_and_clone(make, seasonal_noisy):
    model = make()
    params = model.get_params()
    copy = clone(model)
    assert type(copy) is type(model)
    assert copy.get_params().keys() == params.keys()
    assert repr(model).startswith(type(model).__name__ + "(")
    fitted = model.fit(seasonal_noisy)
    assert not hasattr(clone(fitted), "n_obs_")  # clones are unfitted


@pytest.mark.parametrize("make", MODELS)
def test_deterministic(make, seasonal_noisy):
    a = make().fit(seasonal_noisy).predict(10)
    b = make().fit(seasonal_noisy).predict(10)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("make", MODELS)
def test_constant_series_gives_the_constant(make):
    y = hourly(np.full(120, 7.5))
    fc = make().fit(y).predict(10)
    np.testing.assert_allclose(fc["mean"], 7.5, atol=1e-6)
    assert np.isfinite(fc.to_numpy()).all()
    assert (fc.hi_95 - fc.lo_95 >= -1e-12).all()


@pytest.mark.parametrize("make", MODELS)
def test_very_short_series_clear_result_or_error(make):
    y = hourly([3.0, 4.0, 5.0])
    try:
        model = make().fit(y)
    except DataError as exc:
        assert "observations" in str(exc) or "points" in str(exc)
        return
    fc = model.predict(5)
    assert np.isfinite(fc["mean"]).all()


@pytest.mark.parametrize("make", MODELS)
def test_bad_h_and_level(make, seasonal_noisy):
    model = make().fit(seasonal_noisy)
    with pytest.raises(DataError, match="h must be a positive integer"):
        model.predict(0)
    with pytest.raises(DataError, match="h must be a positive integer"):
        model.predict(2.5)
    with pytest.raises(DataError, match="between 0 and 100"):
        model.predict(3, level=(80, 100))


@pytest.mark.parametrize("make", MODELS)
def test_fit_rejects_bad_input_with_the_policy_message(make):
    with pytest.raises(DataError, match="DatetimeIndex"):
        make().fit(pd.Series(np.arange(50.0)))
