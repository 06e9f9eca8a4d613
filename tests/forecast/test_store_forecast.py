"""forecast_metric reads from a real store and writes the forecasts view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError
from workbench.forecast import SeasonalNaive, forecast_metric

store_mod = pytest.importorskip("workbench.store")


def _fill(store):
    ts = pd.date_range("2024-03-01", periods=6 * 60, freq="1min")
    t = np.arange(ts.size)
    rows = []
    for cpu in ("0", "1"):
        value = 30 + 10 * np.sin(2 * np.pi * t / 60) + (5 if cpu == "1" else 0)
        rows.append(pd.DataFrame({"ts": ts, "metric": "system.cpu.utilization", "labels": f"cpu={cpu}",
                                  "value": value}))
    store.append(pd.concat(rows, ignore_index=True))
    return ts


def test_forecast_metric_reads_forecasts_and_saves(tmp_path):
    store = store_mod.Store(tmp_path / "home", host="h1")
    ts = _fill(store)
    out = forecast_metric(store, "system.cpu.utilization", horizon="30min", step="1min",
                          start=ts[0], end=ts[-1] + pd.Timedelta("1min"),
                          models=[SeasonalNaive(season_length=60)], save=True)
    assert set(out.labels) == {"cpu=0", "cpu=1"}
    assert len(out) == 2 * 30
    assert list(out.columns[:5]) == ["host", "metric", "labels", "ds", "model"]
    assert out.ds.min() == (ts[-1] + pd.Timedelta("1min")).tz_localize("UTC")
    first = out[out.labels == "cpu=1"]["mean"].to_numpy()
    t = np.arange(ts.size, ts.size + 30)
    np.testing.assert_allclose(first, 35 + 10 * np.sin(2 * np.pi * t / 60), atol=1e-6)
    stored = store.sql("select labels, count(*) as n from forecasts group by labels order by labels")
    assert stored.n.tolist() == [30, 30]


def test_forecast_metric_clear_errors(tmp_path):
    store = store_mod.Store(tmp_path / "home", host="h1")
    ts = _fill(store)
    with pytest.raises(DataError, match="horizon must be a number of steps or a duration"):
        forecast_metric(store, "system.cpu.utilization", horizon="soon")
    with pytest.raises(DataError, match="No samples of 'system.cpu.utilization'"):
        forecast_metric(store, "system.cpu.utilization", start=ts[0] - pd.Timedelta("3D"),
                        end=ts[0] - pd.Timedelta("2D"), models=[SeasonalNaive()])
