"""workbench.forecast's lab functions against direct computation and direct SQL on the demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.diagnostic import acorr_ljungbox

from workbench import forecast
from workbench.errors import DataError
from workbench.store import Store

HOST, METRIC, LABELS = "ec2-825cc2", "system.cpu.utilization", {"state": "user"}


@pytest.fixture(scope="module")
def store(demo_home) -> Store:
    return Store(demo_home)


@pytest.fixture(scope="module")
def y(store) -> pd.Series:
    return forecast.load_series(store, METRIC, host=HOST, labels=LABELS, step="5min", window="1d")


def test_load_series_is_the_last_window_of_the_stored_series(store, y):
    rows = store.sql("SELECT ts, mean AS value FROM samples_1m WHERE host = ? AND metric = ? "
                     "AND labels = 'cpu=total,state=user' ORDER BY ts", [HOST, METRIC])
    last = rows["ts"].iloc[-1]
    direct = rows[rows["ts"] > last - pd.Timedelta("1D")]["value"].to_numpy()
    assert len(y) == 288 and y.index.freq == pd.Timedelta("5min")
    assert np.allclose(y.dropna().to_numpy(), direct)  # one 5-minute sample per bucket
    assert {k: y.attrs[k] for k in ("host", "metric", "labels", "step")} == {
        "host": HOST, "metric": METRIC, "labels": "cpu=total,state=user", "step": "5min"}
    with pytest.raises(DataError, match="selects 2 series"):
        forecast.load_series(store, METRIC, host=HOST)
    with pytest.raises(DataError, match="No samples"):
        forecast.load_series(store, METRIC, host="nope")


def test_compare_models_is_backtest_side_by_side(y):
    cmp = forecast.compare_models(y, ["naive", "seasonal_naive", "drift"], horizon=12, n_windows=3)
    for name, model in (("naive", forecast.Naive()), ("drift", forecast.Drift())):
        direct = forecast.backtest(model, y, h=12, n_windows=3)
        assert cmp.table.loc[name, "mase"] == pytest.approx(direct.summary["mase"])
        assert cmp.table.loc[name, "coverage_95"] == pytest.approx(direct.summary["coverage_95"])
    # Naive MAE by hand: the last value before each origin repeated.
    v = forecast.prepare_series(y).to_numpy()
    errs = [np.abs(v[c:c + 12] - v[c - 1]) for c in (len(v) - 36, len(v) - 24, len(v) - 12)]
    assert cmp.table.loc["naive", "mae"] == pytest.approx(np.mean(errs))
    assert list(cmp.table["mase"]) == sorted(cmp.table["mase"]) and cmp.best == cmp.table.index[0]
    assert set(cmp.by_step["model"]) == {"naive", "seasonal_naive", "drift"} and cmp.by_step["step"].max() == 12
    fig = cmp.figure("rmse")
    assert len(fig["data"]) == 3 and len(fig["data"][0]["y"]) == 12
    with pytest.raises(DataError, match="Unknown model"):
        forecast.compare_models(y, ["prophet"], horizon=12)


def test_residual_diagnostics_match_statsmodels(y):
    d = forecast.residual_diagnostics("naive", y, n=40, lags=8)
    v = forecast.prepare_series(y).to_numpy()
    direct = v[-40:] - v[-41:-1]  # naive one-step errors
    assert np.allclose(d.residuals.to_numpy(), direct)
    lb = acorr_ljungbox(direct, lags=list(range(1, 9)))
    assert np.allclose(d.ljung_box["lb_pvalue"], lb["lb_pvalue"])
    assert d.band == pytest.approx(1.96 / np.sqrt(40))
    assert d.acf["acf"].iloc[0] == pytest.approx(1.0)
    x = direct - direct.mean()
    assert d.acf["acf"].iloc[1] == pytest.approx(np.dot(x[:-1], x[1:]) / np.dot(x, x))
    z = np.sort(x / direct.std(ddof=1))
    assert np.allclose(d.qq["sample"], z) and d.qq["theoretical"].iloc[0] == pytest.approx(st.norm.ppf(0.5 / 40))
    assert d.white_noise == bool((lb["lb_pvalue"] >= 0.05).all())
    assert "one-step errors" in d.summary() and len(d.figure()["data"]) == 7


def test_seasonality_table_is_detect_seasonality(y):
    table = forecast.seasonality(y)
    found = forecast.detect_seasonality(y)
    assert table["period"].tolist() == [p.period for p in found]
    assert table["strength"].tolist() == [p.strength for p in found]


def test_explain_auto_reports_the_forecasters_own_choice(y):
    choice = forecast.explain_auto(y, horizon=12, n_windows=3)
    auto = forecast.AutoForecaster(horizon=12, n_windows=3).fit(y)
    assert choice.chosen == auto.chosen_ and choice.fallback == auto.fallback_
    assert choice.scores["mase"].tolist() == sorted(auto.scores_["mase"])
    assert choice.weights == pytest.approx(list(auto.weights_))
    text = choice.explanation()
    assert choice.chosen[0] in text and "MASE" in text


def test_capacity_answers_with_time_to_threshold(store):
    s = forecast.load_series(store, "system.filesystem.utilization", host="workstation", labels={"mountpoint": "/"},
                             step="1min", window=None)
    cap = forecast.capacity(s, 0.9, horizon=60)
    direct = forecast.time_to_threshold(s, 0.9, horizon=60)
    assert cap.crossing.status == direct.status == "not_within_horizon"
    assert cap.message == direct.message
    low = forecast.capacity(s, float(s.min()) - 0.01, horizon=60)
    assert low.crossing.status == "already"
    assert len(cap.figure()["data"]) == 4


def test_save_forecast_appends_to_the_forecasts_view(tmp_path, y):
    store = Store(tmp_path, host="h")
    rows = forecast.save_forecast(store, y, "naive", horizon=6)
    back = store.sql("SELECT * FROM forecasts ORDER BY ds")
    assert len(back) == 6 and set(back["host"]) == {HOST} and set(back["labels"]) == {"cpu=total,state=user"}
    assert np.allclose(back["mean"], float(y.iloc[-1]))  # naive: the last value
    assert (pd.to_datetime(back["ds"], utc=True) == pd.date_range(y.index[-1], periods=7, freq="5min")[1:]).all()
    assert back["step_s"].iloc[0] == 300.0 and list(rows.columns[:5]) == ["host", "metric", "labels", "ds", "model"]
    forecast.save_forecast(store, y, "naive", horizon=3, save=False)
    assert store.sql("SELECT count(*) AS n FROM forecasts")["n"].iloc[0] == 6


def test_forecast_setup_widgets_start_from_the_parameters_and_follow_the_choice(store, y):
    from workbench.forecast._lab import ForecastSetup

    setup = ForecastSetup(store, host=HOST, metric=METRIC, labels=LABELS, step="5min", window="1d",
                          models=["naive", "drift"], horizon=12, n_windows=2)
    assert setup.chosen == {"host": HOST, "metric": METRIC, "labels": "cpu=total,state=user", "step": "5min",
                            "window": "1d", "models": ["naive", "drift"], "horizon": 12}
    pd.testing.assert_series_equal(setup.series(), y)  # the same series load_series gives for the parameters
    direct = store.sql("SELECT DISTINCT labels FROM samples_1h WHERE host = ? AND metric = ? ORDER BY labels", [HOST, METRIC])
    assert [v for _, v in setup.labels.options] == direct["labels"].tolist()
    quiet = setup.compare(show=False)
    assert setup.table.value == "" and list(quiet.table.index)
    cmp = setup.compare()
    assert list(cmp.table.index) == sorted(["naive", "drift"], key=lambda m: cmp.table.loc[m, "mase"])
    assert cmp.results["naive"].summary["h"] == 12 and "mase" in setup.table.value
    assert [t["name"] for t in setup.chart.figure["data"]] == list(cmp.by_step["model"].unique())
    setup.models.value = ("seasonal_naive",)
    setup.horizon.value = 6
    setup.run_button.click()
    assert "seasonal_naive" in setup.table.value and "drift" not in setup.table.value
    setup.models.value = ()
    setup.run_button.click()
    assert "Choose at least one model" in setup.message.value
    setup.host.value = "workstation"  # another host: its metrics, the metric kept where it has it
    assert setup.metric.value == METRIC and setup.labels.value in [v for _, v in setup.labels.options]
    with pytest.raises(DataError, match="Unknown model"):
        ForecastSetup(store, host=HOST, metric=METRIC, models=["prophet"])
    with pytest.raises(DataError, match="has labels"):
        ForecastSetup(store, host=HOST, metric=METRIC, labels={"state": "nope"})
