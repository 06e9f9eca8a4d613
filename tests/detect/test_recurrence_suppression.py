"""Recurrence suppression: an event at the same time every day alerts once, not every day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.detect import AlertManager, EnsembleDetector, rules_from_config, score_series
from workbench.errors import ConfigError

DAY = 288  # 5-minute points
AT = 200  # 16:40, after the warm-up


def _nightly(n_days: int = 5, extra: int | None = None) -> pd.Series:
    """Noise around 10 with a spike at 16:40 every day (a cron job), and optionally one more spike."""
    rng = np.random.default_rng(3)
    n = n_days * DAY
    values = 10 + rng.normal(0, 1, n)
    for day in range(n_days):
        values[AT + day * DAY] += 30 - day  # a little lower each night: never beats the night before
    if extra is not None:
        values[extra] += 30
    return pd.Series(values, index=pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC"))


def _det(**kw) -> EnsembleDetector:
    params = dict(window=100, memory=500, slow_stride=4, calibration_halflife=500, suppress=20,
                  rest_period=50, grace_period=20)
    return EnsembleDetector(**(params | kw))


def test_nightly_spike_alerts_the_first_night_only():
    s = _nightly()
    plain = score_series(_det(recurrence_days=0), s).to_numpy()
    quiet = score_series(_det(recurrence_days=1), s).to_numpy()
    nights = [AT + d * DAY for d in range(5)]
    assert all(plain[i] >= 0.3 for i in nights)  # without it, every night alerts
    assert quiet[nights[0]] == plain[nights[0]]  # the first time is news
    assert all(quiet[i] == 0.0 for i in nights[1:])  # the same hour next night is not
    # every other alert is untouched (outside the rests a suppressed alert no longer starts)
    rests = [i + k for i in nights[1:] for k in range(1, 51)]
    others = np.setdiff1d(np.flatnonzero(plain >= 0.3), nights + rests)
    assert len(others) > 0
    np.testing.assert_array_equal(quiet[others], plain[others])


def test_an_event_at_another_hour_still_alerts():
    extra = 3 * DAY + 100  # 08:20 on the fourth day: nothing like it at that hour before
    s = _nightly(extra=extra)
    quiet = score_series(_det(recurrence_days=1), s).to_numpy()
    assert quiet[extra] >= 0.3


def test_a_higher_event_at_the_same_hour_still_alerts():
    s = _nightly()
    s.iloc[AT + 3 * DAY] += 60  # the fourth night's spike is far higher than the third's
    quiet = score_series(_det(recurrence_days=1), s).to_numpy()
    assert quiet[AT + 3 * DAY] >= 0.3


def test_a_little_higher_is_news_only_without_a_ratio():
    """By default a recurring event must be twice as surprising as the day before to alert again."""
    s = _nightly()
    night = AT + 3 * DAY
    s.iloc[night] += 4  # a little higher than the night before (which was 28 above the noise)
    strict = score_series(_det(recurrence_days=1, recurrence_ratio=1.0), s).to_numpy()
    default = score_series(_det(recurrence_days=1), s).to_numpy()
    assert strict[night] >= 0.3  # higher than the night before: reported with ratio 1
    assert default[night] == 0.0  # but not twice as surprising


def test_recurrence_parameters_are_checked():
    with pytest.raises(ConfigError, match="recurrence_ratio"):
        _det(recurrence_ratio=0.5).update(0, 1.0)
    with pytest.raises(ConfigError, match="recurrence_days"):
        _det(recurrence_days=-1).update(0, 1.0)


def test_recurrence_suppression_is_the_same_live_and_on_history():
    s = _nightly(extra=3 * DAY + 100)
    params = dict(window=100, memory=500, slow_stride=4, calibration_halflife=500, suppress=20,
                  rest_period=50, grace_period=20, recurrence_days=1)
    batch = score_series(EnsembleDetector(**params), s).to_numpy()
    rules = rules_from_config({"rules": [
        {"name": "odd", "kind": "anomaly", "metric": "m", "detector": "default", "params": params, "fire": 0.5},
    ]})
    mgr = AlertManager(rules, clock=lambda: s.index[-1].timestamp())
    live = []
    for ts, v in s.items():
        mgr.observe(ts.timestamp(), "h", "m", v)
        live.append(mgr.alerts["odd|h|m|"].score)
    np.testing.assert_array_equal(np.array(live), batch)
    assert batch[AT] > 0.5 and (batch[[AT + DAY, AT + 2 * DAY]] == 0).all()


def test_remembered_scores_stay_bounded():
    det = _det(recurrence_days=1)
    rng = np.random.default_rng(0)
    for i in range(6000):  # spikes everywhere: many remembered scores
        det.update(i * 300.0, 10 + rng.normal() + (40 if i % 7 == 0 else 0))
    assert len(det.recurring_) <= 2048
