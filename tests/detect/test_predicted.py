"""The default forecaster of ``predicted`` rules, alone and behind an AlertManager."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.detect import AlertManager, rules_from_config
from workbench.detect._predicted import BreachForecaster
from workbench.errors import DataError
from workbench.forecast import Drift

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def seconds(values, name="s") -> pd.Series:
    return pd.Series(values, index=T0 + pd.to_timedelta(np.arange(len(values)), unit="s"), name=name)


RNG = np.random.default_rng(7)
RAMP = seconds(50 + 0.01 * np.arange(1800) + RNG.normal(0, 1, 1800), "ramp")  # 68 now, +0.6 per minute
FLAT = seconds(50 + RNG.normal(0, 1, 1800), "flat")


def test_a_rising_trend_is_predicted_to_cross_and_a_far_level_is_not():
    f = BreachForecaster()
    assert f(RAMP, 1800, 80, ">") > 0.99      # 68 + 18 = 86 expected at the horizon
    assert f(RAMP, 1800, 95, ">") < 0.01      # out of reach within 30 min
    assert f(RAMP, 600, 80, ">") < 0.05       # ... and 80 is out of reach within 10 min (74 expected)
    assert f(FLAT, 1800, 80, ">") < 1e-6
    assert f(FLAT, 1800, 40, "<") < 1e-6
    assert f(FLAT, 1800, 55, "<") > 0.99      # already below, and staying there


def test_too_little_history_gives_zero_and_bad_arguments_are_refused():
    f = BreachForecaster()
    assert f(seconds([1.0, 2.0, 3.0]), 1800, 2.5, ">") == 0.0
    assert f(seconds([]), 1800, 2.5, ">") == 0.0
    with pytest.raises(DataError, match="op must be one of"):
        f(RAMP, 1800, 80, "above")
    with pytest.raises(DataError, match="horizon must be > 0"):
        f(RAMP, 0, 80, ">")


def test_gaps_are_bridged_and_nans_ignored():
    y = RAMP.copy()
    y.iloc[600:900] = np.nan
    y = y.drop(y.index[1000:1200])
    assert BreachForecaster()(y, 1800, 80, ">") > 0.99


class CountingDrift(Drift):
    fits = 0

    def fit(self, y):
        CountingDrift.fits += 1
        return super().fit(y)


def test_a_fit_is_reused_per_series_for_refit_every_seconds():
    f = BreachForecaster(model=CountingDrift(), refit_every=30)
    CountingDrift.fits = 0
    for end in range(1700, 1720):                 # 20 calls within 20 s on one series
        f(RAMP.iloc[:end], 1800, 80, ">")
    assert CountingDrift.fits == 1
    f(RAMP, 1800, 80, ">")                        # 80 s later: refit
    f(FLAT, 1800, 80, ">")                        # another series: its own fit
    assert CountingDrift.fits == 3


def test_predicted_rule_fires_through_the_alert_manager():
    rules = rules_from_config({"rules": [
        {"name": "mem_soon", "kind": "predicted", "metric": "mem", "level": 80, "horizon": "30min",
         "probability": 0.8, "severity": "critical"},
    ]})
    now = {"t": T0.timestamp()}
    mgr = AlertManager(rules, clock=lambda: now["t"], forecaster=BreachForecaster())
    fired = []
    for ts, v in RAMP.items():
        now["t"] = ts.timestamp()
        fired += [r for r in mgr.observe(ts, "h", "mem", v) if r["state"] == "firing"]
    assert fired, "a steady climb to 86 within the horizon should fire"
    first = fired[0]
    assert first["rule"] == "mem_soon" and first["probability"] >= 0.8
    # it fires ahead of the breach: the series itself is still far below 80
    at = pd.Timestamp(first["ts"], unit="s", tz="UTC") if not isinstance(first["ts"], pd.Timestamp) else first["ts"]
    assert RAMP[:at].max() < 75
